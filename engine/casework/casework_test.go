package casework

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/catalog"
	"github.com/amtsform/amtsform/engine/directory"
	"github.com/amtsform/amtsform/engine/mongostore"
	"github.com/amtsform/amtsform/engine/mongostore/embedded"
	"github.com/amtsform/amtsform/engine/record"
)

// The tests run on the embedded store (FerretDB in-process, with the case
// index), each in its own database.

var (
	testURI    string
	testServer *embedded.Server
	dbSerial   atomic.Int64
	kita       *engine.Service
)

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	var err error
	if kita, err = engine.Load("../../examples/kita-gebuehren"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	testURI = os.Getenv("AMTSFORM_TEST_MONGODB_URI")
	if testURI == "" {
		dir, err := os.MkdirTemp("", "amtsform-casework-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		srv, err := embedded.Start(dir, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer srv.Stop()
		testURI, testServer = srv.URI(), srv
	}
	return m.Run()
}

// The embedded store is a casework store.
var _ Store = (*mongostore.Store)(nil)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func openStore(t testing.TB) *mongostore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := fmt.Sprintf("cw%d_%d", time.Now().UnixNano()%1e9, dbSerial.Add(1))
	s, err := mongostore.Connect(ctx, testURI, mongostore.Options{Database: db, Logger: quiet, ExclusiveDrafts: testServer != nil})
	if err != nil {
		t.Fatal(err)
	}
	if testServer != nil {
		if err := testServer.IndexIDs(ctx); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return s
}

// mails captures notifications.
type mails struct {
	mu  sync.Mutex
	got []Message
}

func (m *mails) Notify(_ context.Context, msg Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.got = append(m.got, msg)
	return nil
}

func (m *mails) all() []Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Message(nil), m.got...)
}

// audits captures audit entries.
type audits struct {
	mu  sync.Mutex
	got []record.AuditEntry
}

func (a *audits) Record(_ context.Context, e record.AuditEntry) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.got = append(a.got, e)
	return nil
}

func (a *audits) actions() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, e := range a.got {
		out = append(out, e.Action+" "+e.Actor)
	}
	return out
}

type fixture struct {
	cat   *catalog.Catalog
	dir   *directory.Directory
	store *mongostore.Store
	work  *Work
	mail  *mails
	audit *audits
	now   time.Time
	clock atomic.Int64 // offset in seconds from now
	tick  atomic.Int64 // every reading of the clock advances it by 1ms
}

func (f *fixture) time() time.Time {
	return f.now.Add(time.Duration(f.clock.Load())*time.Second + time.Duration(f.tick.Add(1))*time.Millisecond)
}

func newFixture(t testing.TB) *fixture { return newFixtureMail(t, nil) }

// newFixtureMail sends the mails through n (nil: captured in f.mail).
func newFixtureMail(t testing.TB, n Notifier) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{store: openStore(t), mail: &mails{}, audit: &audits{}, now: time.Now().UTC().Truncate(time.Second)}
	cat := catalog.New(nil)
	f.cat = cat
	for _, tenant := range []string{"ffm", "of"} {
		if err := cat.Offer(ctx, tenant, []*engine.Service{kita}); err != nil {
			t.Fatal(err)
		}
	}
	dir := directory.New(&engine.Installation{Tenants: []engine.TenantConfig{
		{ID: "ffm", Offices: map[string]*engine.Office{
			"jugendamt-frankfurt":   {ID: "jugendamt-frankfurt", Name: engine.Text{De: "Jugendamt Frankfurt", En: "Youth Office Frankfurt"}},
			"jugendamt-main-taunus": {ID: "jugendamt-main-taunus", Name: engine.Text{De: "Jugendamt Main-Taunus", En: "Youth Office Main-Taunus"}},
		}},
		{ID: "of", Offices: map[string]*engine.Office{"jugendamt-frankfurt": {ID: "jugendamt-frankfurt", Name: engine.Text{De: "Jugendamt Offenbach", En: "Youth Office Offenbach"}}}},
	}})
	f.dir = dir
	var notifier Notifier = f.mail
	if n != nil {
		notifier = n
	}
	f.work = New(f.store, cat, dir, Options{Audit: f.audit, Mail: notifier, PublicURL: "https://formulare.example/", Now: f.time, Logger: quiet})
	return f
}

// submit stores a Kita application for tenant, routed to office.
func (f *fixture) submit(t testing.TB, tenant, office string, email bool) *record.Submission {
	t.Helper()
	data := map[string]any{
		"applicant": map[string]any{"givenName": "Erika", "familyName": "Mustermann", "birthDate": "1985-06-01"},
		"address":   map[string]any{"street": "Römerberg", "houseNumber": "23", "postalCode": "60311", "city": "Frankfurt am Main"},
		"children":  []any{map[string]any{"name": "Lena", "birthDate": "2020-03-01", "careType": "kindergarten", "monthlyFee": int64(18000)}},
		"income":    int64(2400000), "iban": "DE89370400440532013000", "consent": true,
	}
	if email {
		data["email"] = "erika@example.org"
	}
	sub, _, err := f.store.Submit(context.Background(), &record.SubmitRequest{
		Tenant: tenant, Prefix: kita.Reference, Service: record.ServiceRef{ID: kita.ID, Version: kita.Version, Hash: kita.Hash},
		Data: data, Computed: map[string]any{"coveredFee": int64(18000)}, Office: office, Status: kita.Workflow.Initial,
		At: f.time(), Due: f.time().AddDate(0, 0, kita.ProcessingDays),
	})
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

var (
	anna  = Actor{ID: "anna", Name: "Anna", Tenant: "ffm", Roles: []string{RoleCaseworker}, Offices: []string{"jugendamt-frankfurt"}, Addr: "10.0.0.1"}
	bernd = Actor{ID: "bernd", Name: "Bernd", Tenant: "ffm", Roles: []string{RoleCaseworker, "leitung"}, Offices: []string{"jugendamt-frankfurt"}}
	cem   = Actor{ID: "cem", Tenant: "ffm", Roles: []string{RoleCaseworker}, Offices: []string{"jugendamt-main-taunus"}}
	// dora stands in for the Main-Taunus office too (the caller passes
	// the deputy office within its period)
	dora    = Actor{ID: "dora", Tenant: "ffm", Roles: []string{RoleCaseworker}, Offices: []string{"jugendamt-frankfurt", "jugendamt-main-taunus"}}
	audrey  = Actor{ID: "audrey", Tenant: "ffm", Roles: []string{RoleAuditor}, Offices: []string{"jugendamt-frankfurt"}}
	otto    = Actor{ID: "otto", Tenant: "of", Roles: []string{RoleCaseworker, RoleAdmin}, Offices: []string{"jugendamt-frankfurt"}}
	nobody  = Actor{ID: "nobody", Tenant: "ffm", Offices: []string{"jugendamt-frankfurt"}}
	ctxTest = context.Background()
)

func code(err error) string {
	var ae *ActionError
	var ce *ConflictError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &ae):
		return ae.Code
	case errors.As(err, &ce):
		return "conflict:" + ce.By
	case errors.Is(err, record.ErrNotFound):
		return "notFound"
	case errors.Is(err, ErrForbidden):
		return "forbidden"
	case errors.Is(err, record.ErrConflict):
		return "conflict"
	case errors.Is(err, record.ErrExpired):
		return "expired"
	}
	return err.Error()
}

// TestIsolation: a case another office or another tenant holds is not
// found, for every read and action; a deputy sees the other office.
func TestIsolation(t *testing.T) {
	f := newFixture(t)
	sub := f.submit(t, "ffm", "jugendamt-main-taunus", true)
	own := f.submit(t, "ffm", "jugendamt-frankfurt", true)
	actions := map[string]func(a Actor, ref string) error{
		"case":     func(a Actor, ref string) error { _, err := f.work.Case(ctxTest, a, ref); return err },
		"download": func(a Actor, ref string) error { _, _, err := f.work.Attachment(ctxTest, a, ref, "nofile"); return err },
		"claim":    func(a Actor, ref string) error { _, err := f.work.Claim(ctxTest, a, ref, 1); return err },
		"assign":   func(a Actor, ref string) error { _, err := f.work.Assign(ctxTest, a, ref, 1, "x"); return err },
		"transition": func(a Actor, ref string) error {
			_, err := f.work.Transition(ctxTest, a, ref, 1, "pruefen", "")
			return err
		},
		"note": func(a Actor, ref string) error { return f.work.Note(ctxTest, a, ref, "x") },
		"schedule": func(a Actor, ref string) error {
			p := 1
			_, err := f.work.Schedule(ctxTest, a, ref, 1, nil, nil, &p)
			return err
		},
		"request": func(a Actor, ref string) error {
			_, err := f.work.RequestDocuments(ctxTest, a, ref, 1, nil, "", time.Time{})
			return err
		},
	}
	for name, act := range actions {
		for _, a := range []Actor{anna, otto, audrey, nobody, {ID: "anna", Tenant: "ffm", Roles: []string{RoleCaseworker}}} {
			if got := code(act(a, sub.Ref)); got != "notFound" {
				t.Errorf("%s by %s (%v) of another office's case: %s, want notFound", name, a.ID, a.Offices, got)
			}
		}
		if got := code(act(anna, "KITA-1999-000001")); got != "notFound" {
			t.Errorf("%s of an unknown case: %s", name, got)
		}
		// of another tenant: the same reference exists there, in an office of the same name
		if got := code(act(otto, own.Ref)); got != "notFound" && !strings.HasPrefix(got, "conflict") && got != "ok" {
			t.Errorf("%s across tenants: %s", name, got)
		}
	}
	ofSub := f.submit(t, "of", "jugendamt-frankfurt", true)
	if _, err := f.work.Case(ctxTest, anna, ofSub.Ref); ofSub.Ref != own.Ref && code(err) != "notFound" {
		t.Errorf("other tenant's case: %v", err)
	}
	// the deputy sees both offices
	if _, err := f.work.Case(ctxTest, dora, sub.Ref); err != nil {
		t.Fatalf("deputy: %v", err)
	}
	p, err := f.work.Inbox(ctxTest, dora, Query{})
	if err != nil || p.Total != 2 {
		t.Fatalf("deputy inbox %+v %v", p, err)
	}
	p, err = f.work.Inbox(ctxTest, anna, Query{})
	if err != nil || p.Total != 1 || p.Cases[0].Ref != own.Ref {
		t.Fatalf("inbox of one office %+v %v", p, err)
	}
	if _, err := f.work.Inbox(ctxTest, anna, Query{Office: "jugendamt-main-taunus"}); code(err) != "notFound" {
		t.Fatalf("inbox of an office not seen: %v", err)
	}
	if _, err := f.work.Inbox(ctxTest, nobody, Query{}); code(err) != "forbidden" {
		t.Fatalf("inbox without role: %v", err)
	}
	if p, err := f.work.Inbox(ctxTest, otto, Query{}); err != nil || p.Total != 1 || p.Cases[0].Tenant != "of" {
		t.Fatalf("other tenant's inbox %+v %v", p, err)
	}
}

// TestAuditorReadOnly: an auditor views cases but every action is forbidden.
func TestAuditorReadOnly(t *testing.T) {
	f := newFixture(t)
	sub := f.submit(t, "ffm", "jugendamt-frankfurt", true)
	c, err := f.work.Case(ctxTest, audrey, sub.Ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Actions) != 0 {
		t.Fatalf("auditor offered %v", c.Actions)
	}
	p := 1
	for name, err := range map[string]error{
		"claim":      func() error { _, err := f.work.Claim(ctxTest, audrey, sub.Ref, 1); return err }(),
		"assign":     func() error { _, err := f.work.Assign(ctxTest, audrey, sub.Ref, 1, "anna"); return err }(),
		"transition": func() error { _, err := f.work.Transition(ctxTest, audrey, sub.Ref, 1, "pruefen", ""); return err }(),
		"note":       f.work.Note(ctxTest, audrey, sub.Ref, "x"),
		"schedule":   func() error { _, err := f.work.Schedule(ctxTest, audrey, sub.Ref, 1, nil, nil, &p); return err }(),
		"request": func() error {
			_, err := f.work.RequestDocuments(ctxTest, audrey, sub.Ref, 1, nil, "", time.Time{})
			return err
		}(),
	} {
		if code(err) != "forbidden" {
			t.Errorf("auditor %s: %v", name, err)
		}
	}
	if got := f.audit.actions(); len(got) != 1 || got[0] != "case.viewed audrey" {
		t.Fatalf("audit %v", got)
	}
}

// TestClaimRace: two case workers claim at once: one wins, the other
// gets a conflict naming the winner; assigning a case claimed meanwhile
// does not override.
func TestClaimRace(t *testing.T) {
	f := newFixture(t)
	sub := f.submit(t, "ffm", "jugendamt-frankfurt", true)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, a := range []Actor{anna, bernd} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.work.Claim(ctxTest, a, sub.Ref, 1)
		}()
	}
	wg.Wait()
	cur, err := f.store.GetSubmission(ctxTest, "ffm", sub.Ref)
	if err != nil {
		t.Fatal(err)
	}
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, record.ErrConflict):
			var ce *ConflictError
			if !errors.As(err, &ce) || ce.By != cur.Assignee {
				t.Errorf("claim %d: %v (holder %s)", i, err, cur.Assignee)
			}
		default:
			t.Errorf("claim %d: %v", i, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d claims won", wins)
	}
	loser := anna
	if cur.Assignee == "anna" {
		loser = bernd
	}
	// claiming with the current version still does not take it over
	if _, err := f.work.Claim(ctxTest, loser, sub.Ref, cur.Version); code(err) != "conflict:"+cur.Assignee {
		t.Fatalf("claim of a held case: %v", err)
	}
	// assign with the version seen before the claim: no silent override
	if _, err := f.work.Assign(ctxTest, loser, sub.Ref, 1, loser.ID); code(err) != "conflict:"+cur.Assignee {
		t.Fatalf("stale assign: %v", err)
	}
	// with the current version an explicit reassignment works
	up, err := f.work.Assign(ctxTest, loser, sub.Ref, cur.Version, "dora")
	if err != nil || up.Assignee != "dora" {
		t.Fatalf("assign: %+v %v", up, err)
	}
	// own claim again: a no-op
	if _, err := f.work.Claim(ctxTest, dora, sub.Ref, up.Version); err != nil {
		t.Fatal(err)
	}
}

// TestTransitionRules is the table of the workflow's rules.
func TestTransitionRules(t *testing.T) {
	f := newFixture(t)
	// walk a case to "entscheidungsreif", prepared by anna
	prepared := func(t *testing.T) *record.Submission {
		sub := f.submit(t, "ffm", "jugendamt-frankfurt", true)
		s, err := f.work.Transition(ctxTest, anna, sub.Ref, sub.Version, "pruefen", "")
		if err != nil {
			t.Fatal(err)
		}
		s, err = f.work.Transition(ctxTest, anna, sub.Ref, s.Version, "vorbereiten", "Einkommen geprüft")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	sub := prepared(t)
	for _, tc := range []struct {
		name       string
		actor      Actor
		transition string
		comment    string
		want       string
	}{
		{"unknown transition", bernd, "fliegen", "", CodeNotAllowed},
		{"not from this state", bernd, "pruefen", "", CodeNotAllowed},
		{"without the role", Actor{ID: "clerk", Tenant: "ffm", Roles: []string{RoleAdmin, "registratur"}, Offices: anna.Offices}, "ablehnen", "x", "forbidden"},
		{"comment required", bernd, "ablehnen", "  ", CodeCommentRequired},
		{"four-eyes: same user", anna, "bewilligen", "", CodeFourEyes},
		{"four-eyes: same user refusing", anna, "ablehnen", "zu hohes Einkommen", CodeFourEyes},
		{"auditor", audrey, "bewilligen", "", "forbidden"},
		{"no role at all", nobody, "bewilligen", "", "forbidden"},
	} {
		_, err := f.work.Transition(ctxTest, tc.actor, sub.Ref, sub.Version, tc.transition, tc.comment)
		if got := code(err); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	lead := Actor{ID: "lead", Tenant: "ffm", Roles: []string{RoleAdmin, "leitung"}, Offices: anna.Offices}
	onlyAdmin := Actor{ID: "adm", Tenant: "ffm", Roles: []string{RoleAdmin}, Offices: anna.Offices}
	if _, err := f.work.Transition(ctxTest, onlyAdmin, sub.Ref, sub.Version, "bewilligen", ""); code(err) != "forbidden" {
		t.Errorf("admin without a workflow role: %v", err)
	}
	// the offered actions follow the same rules
	c, err := f.work.Case(ctxTest, anna, sub.Ref)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range c.Actions {
		ids = append(ids, a.ID)
	}
	if strings.Join(ids, ",") != "zurueckgeben" {
		t.Errorf("anna (preparer) may %v, want zurueckgeben only", ids)
	}
	c, err = f.work.Case(ctxTest, bernd, sub.Ref)
	if err != nil {
		t.Fatal(err)
	}
	ids = nil
	for _, a := range c.Actions {
		ids = append(ids, a.ID)
	}
	if strings.Join(ids, ",") != "zurueckgeben,bewilligen,ablehnen" {
		t.Errorf("bernd may %v", ids)
	}
	// stale version
	if _, err := f.work.Transition(ctxTest, bernd, sub.Ref, sub.Version-1, "bewilligen", ""); code(err) != "conflict:" {
		t.Errorf("stale version: %v", err)
	}
	// four-eyes with a different user: allowed
	up, err := f.work.Transition(ctxTest, lead, sub.Ref, sub.Version, "bewilligen", "")
	if err != nil || up.Status != "bewilligt" {
		t.Fatalf("second person approves: %+v %v", up, err)
	}
	// guard false: no fee covered
	sub2 := f.submit(t, "ffm", "jugendamt-frankfurt", true)
	s2, _ := f.work.Transition(ctxTest, anna, sub2.Ref, 1, "pruefen", "")
	s2, _ = f.work.Transition(ctxTest, anna, sub2.Ref, s2.Version, "vorbereiten", "x")
	noFee := *s2
	noFee.Computed = map[string]any{"coveredFee": int64(0)}
	tr, _ := kita.Workflow.Transition("bewilligen")
	if ok, err := f.work.guard(kita, &noFee, tr); ok || err != nil {
		t.Fatalf("guard with no fee: %v %v", ok, err)
	}
	if ok, err := f.work.guard(kita, s2, tr); !ok || err != nil {
		t.Fatalf("guard with fee: %v %v", ok, err)
	}
}

// TestGuardFailedAction: a transition whose guard is false is refused
// with guardFailed (a case stored with no covered fee).
func TestGuardFailedAction(t *testing.T) {
	f := newFixture(t)
	sub, _, err := f.store.Submit(ctxTest, &record.SubmitRequest{
		Tenant: "ffm", Prefix: "KITA", Service: record.ServiceRef{ID: kita.ID, Version: kita.Version, Hash: kita.Hash},
		Data: map[string]any{"income": int64(9000000)}, Computed: map[string]any{"coveredFee": int64(0)},
		Office: "jugendamt-frankfurt", Status: "entscheidungsreif", At: f.time(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.work.Transition(ctxTest, bernd, sub.Ref, 1, "bewilligen", ""); code(err) != CodeGuardFailed {
		t.Fatalf("guard false: %v", err)
	}
	if up, err := f.work.Transition(ctxTest, bernd, sub.Ref, 1, "ablehnen", "Einkommen zu hoch"); err != nil || up.Status != "abgelehnt" {
		t.Fatalf("refuse: %v", err)
	}
}

func TestNoteAndSchedule(t *testing.T) {
	f := newFixture(t)
	sub := f.submit(t, "ffm", "jugendamt-frankfurt", false)
	if err := f.work.Note(ctxTest, anna, sub.Ref, "   "); code(err) != CodeBadRequest {
		t.Fatalf("empty note: %v", err)
	}
	if err := f.work.Note(ctxTest, anna, sub.Ref, "Rückruf vereinbart"); err != nil {
		t.Fatal(err)
	}
	bad := 3
	if _, err := f.work.Schedule(ctxTest, anna, sub.Ref, 1, nil, nil, &bad); code(err) != CodeBadRequest {
		t.Fatalf("priority 3: %v", err)
	}
	follow, urgent := f.time().Add(-time.Hour), 2
	up, err := f.work.Schedule(ctxTest, anna, sub.Ref, 1, nil, &follow, &urgent)
	if err != nil || up.Priority != 2 || !up.FollowUp.Equal(follow) || up.Due.IsZero() {
		t.Fatalf("schedule %+v %v", up, err)
	}
	p, err := f.work.Inbox(ctxTest, anna, Query{FollowUp: true, Sort: "priority"})
	if err != nil || p.Total != 1 {
		t.Fatalf("follow-up inbox %+v %v", p, err)
	}
	if _, err := f.work.Inbox(ctxTest, anna, Query{Sort: "size"}); code(err) != CodeBadRequest {
		t.Fatalf("bad sort: %v", err)
	}
	// the case without e-mail cannot be asked for documents
	s, _ := f.work.Transition(ctxTest, anna, sub.Ref, up.Version, "pruefen", "")
	if _, err := f.work.RequestDocuments(ctxTest, anna, sub.Ref, s.Version, nil, "", time.Time{}); code(err) != CodeNoContact {
		t.Fatalf("request without contact: %v", err)
	}
	evs, _ := f.store.Events(ctxTest, "ffm", sub.Ref)
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
	}
	if got := strings.Join(types, ","); got != "submitted,routed,note,scheduled,transition" {
		t.Fatalf("events %s", got)
	}
}

// TestKitaWalk walks a Kita case through the whole workflow: submitted →
// claimed → in review → documents requested (the citizen uploads through
// the link) → prepared → approved by a second person, with the mails
// captured.
func TestKitaWalk(t *testing.T) {
	f := newFixture(t)
	ref, _ := walkKita(t, f)
	var subjects []string
	for _, m := range f.mail.all() {
		if m.To != "erika@example.org" {
			t.Errorf("mail to %s", m.To)
		}
		subjects = append(subjects, m.Subject)
	}
	want := []string{"Ihr Antrag " + ref + " wird bearbeitet", "Unterlagen für Ihren Antrag " + ref + " / Documents for your application " + ref, "Ihr Antrag " + ref + ": Bewilligt"}
	if strings.Join(subjects, "|") != strings.Join(want, "|") {
		t.Fatalf("mails\n got %q\nwant %q", subjects, want)
	}
	last := f.mail.all()[2].Body
	if !strings.Contains(last, "Jugendamt Frankfurt") || !strings.Contains(last, "Youth Office Frankfurt") || strings.Contains(last, "{") {
		t.Fatalf("decision mail %q", last)
	}
}

// walkKita walks a case and returns its reference and the mail link.
func walkKita(t *testing.T, f *fixture) (string, string) {
	sub := f.submit(t, "ffm", "jugendamt-frankfurt", true)
	if d := sub.Due.Sub(sub.Created.AddDate(0, 0, 30)); d < -time.Second || d > time.Second {
		t.Fatalf("due %v", sub.Due)
	}
	s, err := f.work.Claim(ctxTest, anna, sub.Ref, sub.Version)
	if err != nil {
		t.Fatal(err)
	}
	mine, err := f.work.Inbox(ctxTest, anna, Query{Mine: true})
	if err != nil || mine.Total != 1 {
		t.Fatalf("my cases %+v %v", mine, err)
	}
	if s, err = f.work.Transition(ctxTest, anna, sub.Ref, s.Version, "pruefen", ""); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(3600)
	req, err := f.work.RequestDocuments(ctxTest, anna, sub.Ref, s.Version, []string{"incomeProof"}, "Bitte den Steuerbescheid 2025.", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if d := req.Deadline.Sub(f.time().AddDate(0, 0, 14)); d < -time.Second || d > time.Second || req.Token == "" {
		t.Fatalf("request %+v", req)
	}
	link := "https://formulare.example/ffm/nachreichen/" + req.Token
	if mails := f.mail.all(); len(mails) > 0 { // captured (else sent by SMTP, see TestKitaWalkSMTP)
		if body := mails[len(mails)-1].Body; !strings.Contains(body, "\n"+link+"\n") {
			t.Fatalf("link %q not in %q", link, body)
		}
	}
	// the citizen: a wrong token is not found, the right one the request
	if _, _, _, err := f.work.Request(ctxTest, "ffm", sub.Ref+".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"); code(err) != "notFound" {
		t.Fatalf("wrong token: %v", err)
	}
	if _, _, _, err := f.work.Request(ctxTest, "of", req.Token); code(err) != "notFound" {
		t.Fatalf("token of another tenant: %v", err)
	}
	got, cs, svc, err := f.work.Request(ctxTest, "ffm", req.Token)
	if err != nil || got.ID != req.ID || cs.Status != "nachforderung" || svc != kita || got.Fields[0] != "incomeProof" {
		t.Fatalf("request for the citizen %+v %v", got, err)
	}
	if _, err := f.work.Upload(ctxTest, "ffm", req.Token, "iban", "x.pdf", bytes.NewReader(pdf(100))); code(err) != CodeNotRequested {
		t.Fatalf("upload for a field not requested: %v", err)
	}
	if err := f.work.Fulfil(ctxTest, "ffm", req.Token, map[string][]string{}); code(err) != CodeNoFiles {
		t.Fatalf("fulfil without files: %v", err)
	}
	att, err := f.work.Upload(ctxTest, "ffm", req.Token, "incomeProof", "steuerbescheid.pdf", bytes.NewReader(pdf(2000)))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.work.Fulfil(ctxTest, "ffm", req.Token, map[string][]string{"incomeProof": {"someone-elses"}}); code(err) != "notFound" {
		t.Fatalf("fulfil with a foreign file: %v", err)
	}
	if err := f.work.Fulfil(ctxTest, "ffm", req.Token, map[string][]string{"incomeProof": {att.ID}}); err != nil {
		t.Fatal(err)
	}
	if err := f.work.Fulfil(ctxTest, "ffm", req.Token, map[string][]string{"incomeProof": {att.ID}}); code(err) != CodeRequestClosed {
		t.Fatalf("second fulfil: %v", err)
	}
	// back in review (received transition), the file downloadable
	c, err := f.work.Case(ctxTest, anna, sub.Ref)
	if err != nil {
		t.Fatal(err)
	}
	if rs, err := f.work.CitizenRequests(ctxTest, "ffm", sub.Ref); err != nil || len(rs) != 1 || rs[0].Fulfilled.IsZero() || rs[0].Fields[0] != "incomeProof" {
		t.Fatalf("requests for the status page %+v %v", rs, err)
	}
	if c.Sub.Status != "in-pruefung" || len(c.Requests) != 1 || c.Requests[0].Fulfilled.IsZero() || c.Requests[0].Token != "" {
		t.Fatalf("after upload %+v %+v", c.Sub, c.Requests)
	}
	a, rc, err := f.work.Attachment(ctxTest, anna, sub.Ref, att.ID)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if len(b) != 2000 || a.ContentType != "application/pdf" {
		t.Fatalf("download %d %s", len(b), a.ContentType)
	}
	if _, _, err := f.work.Attachment(ctxTest, bernd, sub.Ref, "unrelated"); code(err) != "notFound" {
		t.Fatalf("unrelated file: %v", err)
	}
	s = c.Sub
	if s, err = f.work.Transition(ctxTest, anna, sub.Ref, s.Version, "vorbereiten", ""); code(err) != CodeCommentRequired {
		t.Fatalf("prepare without comment: %v", err)
	}
	if s, err = f.work.Transition(ctxTest, anna, sub.Ref, c.Sub.Version, "vorbereiten", "Nachweis liegt vor; Bewilligung empfohlen"); err != nil {
		t.Fatal(err)
	}
	if _, err = f.work.Transition(ctxTest, anna, sub.Ref, s.Version, "bewilligen", ""); code(err) != CodeFourEyes {
		t.Fatalf("same user approves: %v", err)
	}
	if s, err = f.work.Transition(ctxTest, bernd, sub.Ref, s.Version, "bewilligen", ""); err != nil || s.Status != "bewilligt" {
		t.Fatalf("second person approves: %v", err)
	}
	evs, err := f.store.Events(ctxTest, "ffm", sub.Ref)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range evs {
		if e.Type != record.EventViewed && e.Type != record.EventDownloaded {
			types = append(types, e.Type+"/"+e.Actor)
		}
	}
	want := "submitted/citizen,routed/system,claimed/anna,transition/anna,documents_requested/anna,documents_received/citizen,transition/anna,transition/bernd"
	if got := strings.Join(types, ","); got != want {
		t.Fatalf("history\n got %s\nwant %s", got, want)
	}
	auditWant := []string{"case.claimed anna", "case.transition anna", "case.documents_requested anna", "case.documents_received citizen",
		"case.viewed anna", "attachment.downloaded anna", "case.transition anna", "case.transition bernd"}
	if got := f.audit.actions(); strings.Join(got, ",") != strings.Join(auditWant, ",") {
		t.Fatalf("audit\n got %v\nwant %v", got, auditWant)
	}
	return sub.Ref, link
}

// TestRequestDeadline: after the deadline the link is expired and Expire
// takes the timeout transition.
func TestRequestDeadline(t *testing.T) {
	f := newFixture(t)
	sub := f.submit(t, "ffm", "jugendamt-frankfurt", true)
	s, _ := f.work.Transition(ctxTest, anna, sub.Ref, 1, "pruefen", "")
	tr, _ := kita.Workflow.Transition("nachfordern")
	// a transition that requests documents, taken by Transition, opens a request with its defaults
	s, err := f.work.Transition(ctxTest, anna, sub.Ref, s.Version, tr.ID, "Bitte Nachweis")
	if d := s.FollowUp.Sub(f.time().AddDate(0, 0, 14)); err != nil || s.Status != "nachforderung" || d < -time.Second || d > time.Second {
		t.Fatalf("request by transition %+v %v", s, err)
	}
	if n, err := f.work.Expire(ctxTest, "ffm"); n != 0 || err != nil {
		t.Fatalf("expire before the deadline: %d %v", n, err)
	}
	f.clock.Add(15 * 24 * 3600)
	evs, _ := f.store.Events(ctxTest, "ffm", sub.Ref)
	rs := requestsOf(evs)
	if len(rs) != 1 || rs[0].Message != "Bitte Nachweis" {
		t.Fatalf("requests %+v", rs)
	}
	if n, err := f.work.Expire(ctxTest, "ffm"); n != 1 || err != nil {
		t.Fatalf("expire: %d %v", n, err)
	}
	cur, _ := f.store.GetSubmission(ctxTest, "ffm", sub.Ref)
	if cur.Status != "in-pruefung" {
		t.Fatalf("after the deadline: %s", cur.Status)
	}
	if n, err := f.work.Expire(ctxTest, "ffm"); n != 0 || err != nil {
		t.Fatalf("expire twice: %d %v", n, err)
	}
}

func pdf(n int) []byte {
	b := make([]byte, n)
	copy(b, "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
	return b
}

// TestRolesTable: per role, which reads and actions on a case of the
// actor's own office are allowed.
func TestRolesTable(t *testing.T) {
	f := newFixture(t)
	offices := []string{"jugendamt-frankfurt"}
	actors := map[string]Actor{
		"caseworker": {ID: "cw", Tenant: "ffm", Roles: []string{RoleCaseworker}, Offices: offices},
		"admin":      {ID: "adm", Tenant: "ffm", Roles: []string{RoleAdmin}, Offices: offices},
		"auditor":    {ID: "aud", Tenant: "ffm", Roles: []string{RoleAuditor}, Offices: offices},
		"none":       {ID: "x", Tenant: "ffm", Offices: offices},
		"token":      {ID: "token:t1", Tenant: "ffm", Roles: []string{RoleCaseworker}, Offices: offices},
	}
	want := map[string]map[string]string{
		"caseworker": {"inbox": "ok", "case": "ok", "claim": "ok", "note": "ok", "schedule": "ok", "transition": "ok"},
		"admin":      {"inbox": "ok", "case": "ok", "claim": "ok", "note": "ok", "schedule": "ok", "transition": "forbidden"}, // no workflow role
		"auditor":    {"inbox": "ok", "case": "ok", "claim": "forbidden", "note": "forbidden", "schedule": "forbidden", "transition": "forbidden"},
		"none":       {"inbox": "forbidden", "case": "forbidden", "claim": "forbidden", "note": "forbidden", "schedule": "forbidden", "transition": "forbidden"},
		"token":      {"inbox": "ok", "case": "ok", "claim": "ok", "note": "ok", "schedule": "ok", "transition": "ok"},
	}
	for name, a := range actors {
		sub := f.submit(t, "ffm", "jugendamt-frankfurt", true)
		p := 1
		got := map[string]string{
			"inbox":    code(func() error { _, err := f.work.Inbox(ctxTest, a, Query{}); return err }()),
			"case":     code(func() error { _, err := f.work.Case(ctxTest, a, sub.Ref); return err }()),
			"note":     code(f.work.Note(ctxTest, a, sub.Ref, "n")),
			"schedule": code(func() error { _, err := f.work.Schedule(ctxTest, a, sub.Ref, 1, nil, nil, &p); return err }()),
			"claim":    code(func() error { _, err := f.work.Claim(ctxTest, a, sub.Ref, 2); return err }()),
		}
		cur, _ := f.store.GetSubmission(ctxTest, "ffm", sub.Ref)
		got["transition"] = code(func() error { _, err := f.work.Transition(ctxTest, a, sub.Ref, cur.Version, "pruefen", ""); return err }())
		for k, w := range want[name] {
			if got[k] != w {
				t.Errorf("%s %s: %s, want %s", name, k, got[k], w)
			}
		}
	}
}

// TestPlainText: a note, comment or message is stored as plain text or
// refused with a stable code, whichever action it comes with.
func TestPlainText(t *testing.T) {
	for _, tc := range []struct {
		in, want, code string
	}{
		{"Rückruf am Montag", "Rückruf am Montag", "ok"},
		{"  Zeile 1\r\nZeile 2\t(Tab)\n", "Zeile 1\nZeile 2\t(Tab)", "ok"},
		{"", "", "ok"},
		{"Nachweis \xff fehlt", "", CodeText},
		{"Nachweis\x00", "", CodeText},
		{"\x1b[31mrot\x1b[0m", "", CodeText},
		{"alte Zeile\rneue", "", CodeText},
		{"C1 \u0085 Steuerzeichen", "", CodeText},
		{"DEL \x7f", "", CodeText},
		{"Frau \u202enamredlaW", "", CodeText}, // a right-to-left override
		{"Rück\u200bruf", "", CodeText},        // a zero width space
		{"Herr محمد\u200f ruft zurück", "Herr محمد\u200f ruft zurück", "ok"},
		{strings.Repeat("ä", maxNote), strings.Repeat("ä", maxNote), "ok"},
		{strings.Repeat("ä", maxNote+1), "", CodeBadRequest},
	} {
		got, err := plainText("a note", tc.in)
		if code(err) != tc.code || got != tc.want {
			t.Errorf("plainText(%q) = %q, %s; want %q, %s", tc.in, got, code(err), tc.want, tc.code)
		}
	}
}

// TestTextRefusedChangesNothing: an action whose text is refused writes
// no event and leaves the case's version; an accepted text is stored as
// plainText returns it.
func TestTextRefusedChangesNothing(t *testing.T) {
	f := newFixture(t)
	sub := f.submit(t, "ffm", "jugendamt-frankfurt", true)
	s, err := f.work.Transition(ctxTest, anna, sub.Ref, sub.Version, "pruefen", "")
	if err != nil {
		t.Fatal(err)
	}
	events := func() int {
		evs, err := f.store.Events(ctxTest, "ffm", sub.Ref)
		if err != nil {
			t.Fatal(err)
		}
		return len(evs)
	}
	before := events()
	for name, act := range map[string]func(text string) error{
		"note": func(text string) error { return f.work.Note(ctxTest, anna, sub.Ref, text) },
		"transition": func(text string) error {
			_, err := f.work.Transition(ctxTest, anna, sub.Ref, s.Version, "ablehnen", text)
			return err
		},
		"request": func(text string) error {
			_, err := f.work.RequestDocuments(ctxTest, anna, sub.Ref, s.Version, nil, text, time.Time{})
			return err
		},
	} {
		for _, text := range []string{"Bitte \x00 prüfen", "Einkommen \xc3 zu hoch", strings.Repeat("x", maxNote+1)} {
			if err := act(text); code(err) != CodeText && code(err) != CodeBadRequest {
				t.Errorf("%s with %.20q: %v", name, text, err)
			}
		}
	}
	if n := events(); n != before {
		t.Errorf("refused texts wrote %d events", n-before)
	}
	if got, _ := f.store.GetSubmission(ctxTest, "ffm", sub.Ref); got.Version != s.Version {
		t.Errorf("version %d, want %d", got.Version, s.Version)
	}
	if err := f.work.Note(ctxTest, anna, sub.Ref, " Rückruf\r\nam Montag "); err != nil {
		t.Fatal(err)
	}
	evs, _ := f.store.Events(ctxTest, "ffm", sub.Ref)
	if last := evs[len(evs)-1]; last.Type != record.EventNote || last.Data["text"] != "Rückruf\nam Montag" {
		t.Errorf("stored note %+v", last)
	}
}

// colleagues is a Colleagues from the actors above: who sees an office.
type colleagues struct{ err error }

func (c colleagues) MayWork(_ context.Context, tenant, office, id string) (bool, error) {
	if c.err != nil {
		return false, c.err
	}
	for _, a := range []Actor{anna, bernd, cem, dora, audrey} {
		if a.ID == id && a.Tenant == tenant && slices.Contains(a.Roles, RoleCaseworker) {
			return slices.Contains(a.Offices, office), nil
		}
	}
	return false, nil
}

// TestAssignWithinOffice: with Options.Colleagues a case goes only to a
// caseworker who sees its office; a refusal changes nothing, keeping the
// current assignee and unassigning are always allowed.
func TestAssignWithinOffice(t *testing.T) {
	f := newFixture(t)
	f.work.opts.Colleagues = colleagues{}
	sub := f.submit(t, "ffm", "jugendamt-frankfurt", false)
	for _, tc := range []struct {
		to, want string
	}{
		{"cem", CodeAssignee},    // Main-Taunus only
		{"audrey", CodeAssignee}, // an auditor
		{"mallory", CodeAssignee},
		{"dora", "ok"}, // Frankfurt and Main-Taunus
		{"dora", "ok"}, // the current assignee again
		{"", "ok"},
		{"bernd", "ok"},
	} {
		cur, err := f.store.GetSubmission(ctxTest, "ffm", sub.Ref)
		if err != nil {
			t.Fatal(err)
		}
		up, err := f.work.Assign(ctxTest, anna, sub.Ref, cur.Version, tc.to)
		if code(err) != tc.want {
			t.Fatalf("assign to %q: %v, want %s", tc.to, err, tc.want)
		}
		after, _ := f.store.GetSubmission(ctxTest, "ffm", sub.Ref)
		switch {
		case err != nil && (after.Version != cur.Version || after.Assignee != cur.Assignee):
			t.Fatalf("a refused assignment to %q changed the case: %+v", tc.to, after)
		case err == nil && up.Assignee != tc.to:
			t.Fatalf("assigned to %q, want %q", up.Assignee, tc.to)
		}
	}
	f.work.opts.Colleagues = colleagues{err: errors.New("directory down")}
	cur, _ := f.store.GetSubmission(ctxTest, "ffm", sub.Ref)
	if _, err := f.work.Assign(ctxTest, anna, sub.Ref, cur.Version, "dora"); err == nil || code(err) == "ok" || errors.As(err, new(*ActionError)) {
		t.Fatalf("a failing lookup: %v", err)
	}
}
