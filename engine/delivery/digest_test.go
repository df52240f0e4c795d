package delivery_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amtsform/amtsform/engine/delivery"
	"github.com/amtsform/amtsform/engine/record"
	"github.com/amtsform/amtsform/mail"
)

// digestStore holds jobs and leases in memory.
type digestStore struct {
	mu     sync.Mutex
	jobs   []*record.DeliveryJob
	leases map[string]string
}

func (s *digestStore) ListDeliveries(_ context.Context, q record.DeliveryQuery) ([]*record.DeliveryJob, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*record.DeliveryJob
	for _, j := range s.jobs {
		if (q.Tenant == "" || j.Tenant == q.Tenant) && (len(q.Status) == 0 || strings.Contains(strings.Join(q.Status, ","), j.Status)) {
			c := *j
			out = append(out, &c)
		}
	}
	return out, nil
}

func (s *digestStore) AcquireLease(_ context.Context, name, holder string, _ time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h, ok := s.leases[name]; ok && h != holder {
		return false, nil
	}
	s.leases[name] = holder
	return true, nil
}

func (s *digestStore) ReleaseLease(_ context.Context, name, holder string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.leases[name] == holder {
		delete(s.leases, name)
	}
	return nil
}

type capture struct {
	mu  sync.Mutex
	got []mail.Message
}

func (c *capture) Notify(_ context.Context, m mail.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, m)
	return nil
}

func (c *capture) take() []mail.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.got
	c.got = nil
	return out
}

// TestDigest: once a day from 07:00 Berlin time, each tenant's enabled
// admins with an email get the failed and dead-lettered deliveries;
// a second instance and later ticks of the same day send nothing; a
// tenant without such deliveries gets nothing.
func TestDigest(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	clock := time.Date(2026, 12, 1, 6, 59, 0, 0, berlin)
	now := func() time.Time { return clock }
	store := &digestStore{leases: map[string]string{}, jobs: []*record.DeliveryJob{
		{ID: "musterstadt/KITA-1/fachverfahren", Tenant: "musterstadt", Ref: "KITA-1", Destination: "fachverfahren", Kind: "webhook",
			Status: record.DeliveryDead, Attempts: 12, LastError: "HTTP 503\nService Unavailable"},
		{ID: "musterstadt/KITA-2/fachverfahren", Tenant: "musterstadt", Ref: "KITA-2", Destination: "fachverfahren", Kind: "webhook",
			Status: record.DeliveryPending, Attempts: 3, LastError: "connection reset by peer", Next: clock.Add(time.Hour)},
		{ID: "musterstadt/KITA-3/fachverfahren", Tenant: "musterstadt", Ref: "KITA-3", Destination: "fachverfahren", Kind: "webhook",
			Status: record.DeliveryPending}, // not tried yet: no failure
		{ID: "musterstadt/KITA-4/fachverfahren", Tenant: "musterstadt", Ref: "KITA-4", Destination: "fachverfahren", Kind: "webhook",
			Status: record.DeliveryPending, Attempts: 13, Base: 13, LastError: "old error before the manual retry"},
		{ID: "kelkheim/HUND-1/archiv", Tenant: "kelkheim", Ref: "HUND-1", Destination: "archiv", Kind: "directory", Status: record.DeliveryDelivered},
	}}
	users := map[string][]*record.User{
		"musterstadt": {
			{ID: "ida", Tenant: "musterstadt", Email: "ida@musterstadt.example", Roles: []string{record.RoleAdmin}},
			{ID: "ina", Tenant: "musterstadt", Email: "ina@musterstadt.example", Roles: []string{record.RoleAdmin}, Disabled: true},
			{ID: "ole", Tenant: "musterstadt", Roles: []string{record.RoleAdmin}}, // no email
			{ID: "anna", Tenant: "musterstadt", Email: "anna@musterstadt.example", Roles: []string{record.RoleCaseworker}},
		},
		"kelkheim": {{ID: "kai", Tenant: "kelkheim", Email: "kai@kelkheim.example", Roles: []string{record.RoleAdmin}}},
	}
	list := func(_ context.Context, tenant string) ([]*record.User, error) { return users[tenant], nil }
	mails := &capture{}
	newDigest := func(holder string) *delivery.Digest {
		return &delivery.Digest{Store: store, Mail: mails, Tenants: []string{"musterstadt", "kelkheim"}, Users: list,
			PublicURL: "https://formulare.example/", Now: now, Zone: berlin, Holder: holder}
	}
	a, b := newDigest("a"), newDigest("b")

	if n, err := a.Tick(context.Background()); n != 0 || err != nil || len(mails.take()) != 0 {
		t.Fatalf("before 07:00: %d, %v", n, err)
	}
	clock = clock.Add(2 * time.Minute)
	if n, err := a.Tick(context.Background()); n != 1 || err != nil {
		t.Fatalf("07:01: %d mails, %v", n, err)
	}
	got := mails.take()
	if len(got) != 1 || got[0].To != "ida@musterstadt.example" {
		t.Fatalf("mails: %+v", got)
	}
	m := got[0]
	for _, want := range []string{"KITA-1 → fachverfahren", "12 Versuche", "HTTP 503 Service Unavailable", "zurückgestellt", "KITA-2", "connection reset by peer",
		"https://formulare.example/backoffice/cases/KITA-1", "nächster Versuch 01.12.2026 07:59"} {
		if !strings.Contains(m.Body, want) {
			t.Errorf("digest lacks %q:\n%s", want, m.Body)
		}
	}
	for _, not := range []string{"KITA-3", "KITA-4", "HUND-1"} {
		if strings.Contains(m.Body, not) {
			t.Errorf("digest names %s:\n%s", not, m.Body)
		}
	}
	if !strings.Contains(m.Subject, "1 zurückgestellt") || !strings.Contains(m.Subject, "1 fehlgeschlagen") {
		t.Errorf("subject %q", m.Subject)
	}

	// the same day: neither this instance nor another sends again
	clock = clock.Add(3 * time.Hour)
	for _, d := range []*delivery.Digest{a, b} {
		if n, _ := d.Tick(context.Background()); n != 0 {
			t.Errorf("%s sent %d more the same day", d.Holder, n)
		}
	}
	if got := mails.take(); len(got) != 0 {
		t.Fatalf("sent again the same day: %+v", got)
	}
	// the next morning, once, by whichever instance comes first
	clock = time.Date(2026, 12, 2, 7, 0, 0, 0, berlin)
	nb, _ := b.Tick(context.Background())
	na, _ := a.Tick(context.Background())
	if nb != 1 || na != 0 || len(mails.take()) != 1 {
		t.Errorf("next day: b %d, a %d", nb, na)
	}
}
