package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/amtsform/amtsform/engine/record"
	"github.com/amtsform/amtsform/mail"
)

// DigestStore is what the daily digest needs of a store: the jobs, and a
// lease per tenant and day, so that several instances (and a restart)
// send each tenant's digest once.
type DigestStore interface {
	ListDeliveries(ctx context.Context, q record.DeliveryQuery) ([]*record.DeliveryJob, error)
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
}

// Notifier sends one mail (mail.Notifier over SMTP, or mail.Spool).
type Notifier interface {
	Notify(ctx context.Context, m mail.Message) error
}

// Digest mails each tenant's admins, once a day, the deliveries that
// failed and wait for another attempt and those dead-lettered: what
// nobody would hear of otherwise. Nothing is sent for a tenant without
// such deliveries, or without admins with an email address.
type Digest struct {
	Store   DigestStore
	Mail    Notifier
	Tenants []string
	// Users lists a tenant's staff (staff.Staff.List); the digest goes
	// to the enabled admins with an email address.
	Users func(ctx context.Context, tenant string) ([]*record.User, error)
	// PublicURL is the server's base URL, for links to the case view;
	// empty: references only.
	PublicURL string
	// Hour is the local hour from which the day's digest is sent
	// (default 7); Zone the time zone (default Europe/Berlin).
	Hour   int
	Zone   *time.Location
	Now    func() time.Time
	Poll   time.Duration // how often Run looks; default 1 min
	Holder string        // default host:pid
	Logger *slog.Logger

	mu   sync.Mutex
	done map[string]bool // leases of digests this instance sent
}

func (d *Digest) defaults() {
	if d.Hour <= 0 || d.Hour > 23 {
		d.Hour = 7
	}
	if d.Zone == nil {
		if z, err := time.LoadLocation("Europe/Berlin"); err == nil {
			d.Zone = z
		} else {
			d.Zone = time.UTC
		}
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Poll <= 0 {
		d.Poll = time.Minute
	}
	if d.Holder == "" {
		h, _ := os.Hostname()
		d.Holder = h + ":" + strconv.Itoa(os.Getpid()) + "@" + processID
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
}

// Run sends the digests until ctx ends.
func (d *Digest) Run(ctx context.Context) {
	d.defaults()
	t := time.NewTicker(d.Poll)
	defer t.Stop()
	for {
		if _, err := d.Tick(ctx); err != nil && ctx.Err() == nil {
			d.Logger.Warn("delivery digest (retried)", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick sends today's digest of every tenant not sent yet, once the
// local hour is reached; it returns the number of mails sent.
func (d *Digest) Tick(ctx context.Context) (int, error) {
	d.defaults()
	now := d.Now().In(d.Zone)
	if now.Hour() < d.Hour {
		return 0, nil
	}
	day := now.Format("2006-01-02")
	sent := 0
	var errs []string
	for _, t := range d.Tenants {
		n, err := d.tenant(ctx, t, day)
		sent += n
		if err != nil {
			errs = append(errs, t+": "+err.Error())
		}
	}
	if len(errs) > 0 {
		return sent, fmt.Errorf("delivery digest: %s", strings.Join(errs, "; "))
	}
	return sent, nil
}

func (d *Digest) tenant(ctx context.Context, tenant, day string) (int, error) {
	lease := "delivery-digest/" + tenant + "/" + day
	d.mu.Lock()
	if d.done == nil {
		d.done = map[string]bool{}
	}
	already := d.done[lease]
	d.mu.Unlock()
	if already {
		return 0, nil
	}
	ok, err := d.Store.AcquireLease(ctx, lease, d.Holder, 48*time.Hour)
	if err != nil || !ok {
		return 0, err // another instance (or an earlier process) has it
	}
	d.mu.Lock()
	d.done[lease] = true
	d.mu.Unlock()
	// The lease is kept: today's digest is done. It is released only
	// when nothing could be sent, so that the next tick tries again.
	release := func() {
		d.mu.Lock()
		delete(d.done, lease)
		d.mu.Unlock()
		if err := d.Store.ReleaseLease(context.WithoutCancel(ctx), lease, d.Holder); err != nil {
			d.Logger.Warn("delivery digest: lease not released", "tenant", tenant, "err", err)
		}
	}
	jobs, err := d.Store.ListDeliveries(ctx, record.DeliveryQuery{Tenant: tenant, Status: []string{record.DeliveryPending, record.DeliveryDead}, Limit: 1000})
	if err != nil {
		release()
		return 0, err
	}
	var dead, failed []*record.DeliveryJob
	for _, j := range jobs {
		switch {
		case j.Status == record.DeliveryDead:
			dead = append(dead, j)
		case j.LastError != "" && j.Attempts > j.Base:
			failed = append(failed, j)
		}
	}
	if len(dead)+len(failed) == 0 {
		return 0, nil
	}
	users, err := d.Users(ctx, tenant)
	if err != nil {
		release()
		return 0, err
	}
	subject, body := d.text(tenant, day, dead, failed)
	sent := 0
	for _, u := range users {
		if u.Disabled || u.Email == "" || !slices.Contains(u.Roles, record.RoleAdmin) || u.Tenant != tenant {
			continue
		}
		if err := d.Mail.Notify(ctx, mail.Message{To: u.Email, Subject: subject, Body: body, Lang: "de"}); err != nil {
			d.Logger.Error("delivery digest: mail not sent", "tenant", tenant, "user", u.ID, "err", err)
			continue
		}
		sent++
	}
	if sent == 0 && len(users) > 0 {
		release()
		return 0, fmt.Errorf("no admin of %s could be mailed", tenant)
	}
	return sent, nil
}

// text is the digest mail, German then English, without citizen data:
// references, destinations, attempts and the receivers' errors.
func (d *Digest) text(tenant, day string, dead, failed []*record.DeliveryJob) (string, string) {
	subject := fmt.Sprintf("Übermittlungen mit Fehlern / Deliveries with errors (%s, %s): %d zurückgestellt / dead-lettered, %d fehlgeschlagen / failed",
		tenant, day, len(dead), len(failed))
	var b strings.Builder
	line := func(j *record.DeliveryJob, de, en string) {
		fmt.Fprintf(&b, "- %s → %s (%s): %s / %s; %d Versuche / attempts; letzter Fehler / last error: %s\n",
			j.Ref, j.Destination, j.Kind, de, en, j.Attempts, strings.Join(strings.Fields(j.LastError), " "))
		if d.PublicURL != "" {
			fmt.Fprintf(&b, "  %s/backoffice/cases/%s\n", strings.TrimSuffix(d.PublicURL, "/"), j.Ref)
		}
	}
	fmt.Fprintf(&b, "Tägliche Übersicht der Übermittlungen an Fachverfahren, die nicht angekommen sind (Mandant %s, %s).\n", tenant, day)
	fmt.Fprintf(&b, "Daily digest of deliveries to case systems that did not arrive (tenant %s, %s).\n\n", tenant, day)
	if len(dead) > 0 {
		fmt.Fprintf(&b, "Zurückgestellt, werden nicht mehr versucht – bitte im Vorgang „Übermittlung wiederholen“ (oder amtsform deliveries retry):\n")
		fmt.Fprintf(&b, "Dead-lettered, no longer tried – retry from the case view (or amtsform deliveries retry):\n")
		for _, j := range dead {
			line(j, "zurückgestellt", "dead-lettered")
		}
		b.WriteString("\n")
	}
	if len(failed) > 0 {
		fmt.Fprintf(&b, "Fehlgeschlagen, werden erneut versucht:\nFailed, being retried:\n")
		for _, j := range failed {
			line(j, "nächster Versuch "+j.Next.In(d.Zone).Format("02.01.2006 15:04"), "next attempt "+j.Next.In(d.Zone).Format("2006-01-02 15:04"))
		}
	}
	return subject, b.String()
}
