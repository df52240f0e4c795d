// Package delivery hands every submission to the systems that process it
// (Fachverfahren): webhook, feed, mail and directory destinations, each
// declared by name in a service's spec and bound per tenant in the
// installation (engine.DeliveryBinding).
//
// The outbox: a submission's delivery jobs are written in the same
// document write as the submission (record.SubmitRequest.Jobs), before the
// citizen sees "submitted". The Dispatcher delivers each job at least
// once: exponential backoff with full jitter between attempts, a
// concurrency limit per destination, a maximum age, and a stable delivery
// id per job that receivers deduplicate on. Every attempt is an exclusive
// claim taken by insert (a claim document per job and attempt), so two
// dispatchers never make the same attempt, on MongoDB and on FerretDB,
// whose conditional updates are not atomic. Multi-step deliveries (upload
// the attachments, then the envelope) record every completed step; a
// retry resumes after the last one. After the last attempt, or past the
// maximum age, a job is dead-lettered; a manual retry (Retry) always
// works, whatever the attempt count.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/record"
)

// Store is what delivery needs of a store (engine/mongostore implements
// it; engine/storetest checks it).
type Store interface {
	// DueDeliveries takes new jobs into the outbox and returns the open
	// jobs of push kinds (not feeds) due at now, earliest first.
	DueDeliveries(ctx context.Context, now time.Time, limit int) ([]*record.DeliveryJob, error)
	// DeliveryJob returns a job, open or finished, or record.ErrNotFound.
	DeliveryJob(ctx context.Context, id string) (*record.DeliveryJob, error)
	// ClaimDelivery takes attempt c.N of job c.Job by insert; a taken
	// attempt (or a finished job) is record.ErrConflict.
	ClaimDelivery(ctx context.Context, c *record.DeliveryClaim) error
	// DeliveryClaim returns attempt n of a job, or record.ErrNotFound.
	DeliveryClaim(ctx context.Context, job string, n int) (*record.DeliveryClaim, error)
	// EndDeliveryClaim writes the outcome of the holder's attempt.
	EndDeliveryClaim(ctx context.Context, c *record.DeliveryClaim) error
	// SaveDeliveryJob writes a job's state if the stored job has at most
	// j.Attempts attempts and the base expectBase, else
	// record.ErrConflict. Delivered and rejected jobs are finished.
	SaveDeliveryJob(ctx context.Context, j *record.DeliveryJob, expectBase int) error
	// RecordDeliveryStep records a completed step (the first record of
	// a step stays); DeliveryStep returns it or record.ErrNotFound.
	RecordDeliveryStep(ctx context.Context, st record.DeliveryStep) error
	DeliveryStep(ctx context.Context, job, name string) (*record.DeliveryStep, error)
	// RetryDelivery makes a pending or dead job due at at with a full
	// set of attempts; a finished job is record.ErrConflict.
	RetryDelivery(ctx context.Context, id string, at time.Time) (*record.DeliveryJob, error)
	// ListDeliveries lists open and finished jobs, newest first.
	ListDeliveries(ctx context.Context, q record.DeliveryQuery) ([]*record.DeliveryJob, error)
	// FeedDeliveries returns the visible (due) open jobs of a feed
	// destination, oldest first.
	FeedDeliveries(ctx context.Context, tenant, destination string, limit int) ([]*record.DeliveryJob, error)

	GetSubmission(ctx context.Context, tenant, ref string) (*record.Submission, error)
	OpenFile(ctx context.Context, tenant, id string) (io.ReadCloser, *record.Attachment, error)
}

// Services returns the exact service version a submission was made with
// (catalog.Catalog.Pinned).
type Services interface {
	Pinned(ref record.ServiceRef) (*engine.Service, error)
}

// Bindings resolves a destination of a tenant to its binding (URLs,
// secrets, directories), which live in the installation, never in the
// shared spec.
type Bindings interface {
	Binding(tenant, destination string) (*engine.DeliveryBinding, bool)
}

// Offices names a submission's office (engine/directory).
type Offices interface {
	Office(tenant, id string) (*engine.Office, bool)
}

// Options configure a Dispatcher. Zero values select the defaults.
type Options struct {
	Services Services
	Bindings Bindings
	Offices  Offices // for mail destinations without a mailbox; may be nil
	// PublicURL is the server's public base URL: the schema URL and the
	// attachment links of envelopes start with it.
	PublicURL string
	// Senders by kind; defaults: webhook (HTTP), directory. Mail needs a
	// MailSender (Mail).
	Senders map[string]Sender
	Mail    MailSender
	// Receipt renders a submission's receipt PDF (api/receipt), sent as
	// the attachment of purpose "form"; nil: none.
	Receipt func(ctx context.Context, svc *engine.Service, sub *record.Submission) ([]byte, error)
	// Env reads secrets named by bindings; nil: os.Getenv.
	Env func(string) string

	Holder       string        // this dispatcher's name in claims; default host:pid
	Poll         time.Duration // default 1s
	Batch        int           // jobs read per poll; default 100
	Timeout      time.Duration // per attempt; default 30s
	Lease        time.Duration // claim lease; default Timeout + 30s
	MaxAttempts  int           // default 12
	MaxAge       time.Duration // default 7 days
	Backoff      time.Duration // first retry delay; default 10s
	MaxBackoff   time.Duration // default 1h
	Concurrency  int           // per destination; default 4
	Workers      int           // in total; default 16
	Logger       *slog.Logger
	Now          func() time.Time
	Observe      func(tenant, destination, outcome string, d time.Duration) // metrics hook; may be nil
	InlineLimit  int64                                                      // default for bindings without one: 1 MiB
	AttachmentMB int64                                                      // unused; reserved
}

// Sender delivers one attempt of a job. It runs the steps of its kind
// through a.Step, which skips the steps already completed.
type Sender interface {
	Send(ctx context.Context, a *Attempt) error
}

// SenderFunc adapts a function to Sender.
type SenderFunc func(ctx context.Context, a *Attempt) error

// Send calls f.
func (f SenderFunc) Send(ctx context.Context, a *Attempt) error { return f(ctx, a) }

// Permanent marks an error that retrying cannot cure (a 4xx answer, a
// binding missing): the job is dead-lettered at once.
type Permanent struct{ Err error }

func (p *Permanent) Error() string { return p.Err.Error() }
func (p *Permanent) Unwrap() error { return p.Err }

// Attempt is what a Sender gets: the job, its submission and service,
// the binding, and the step log.
type Attempt struct {
	Job        *record.DeliveryJob
	N          int    // attempt number
	DeliveryID string // stable across attempts
	Sub        *record.Submission
	Service    *engine.Service
	Binding    *engine.DeliveryBinding
	d          *Dispatcher
	// allInline puts every attachment into the envelope whatever the
	// inline limit: a feed receiver has no other way to get them.
	allInline bool
}

// Step runs f unless step name was completed by an earlier attempt, and
// records it when f succeeds. It returns what f returned, or the recorded
// result of the earlier attempt.
func (a *Attempt) Step(ctx context.Context, name string, f func(ctx context.Context) (string, error)) (string, error) {
	if st, err := a.d.store.DeliveryStep(ctx, a.Job.ID, name); err == nil {
		return st.Result, nil
	} else if !errors.Is(err, record.ErrNotFound) {
		return "", err
	}
	res, err := f(ctx)
	if err != nil {
		return "", err
	}
	// Recorded even if ctx ended meanwhile: the receiver took the step.
	if err := a.d.store.RecordDeliveryStep(context.WithoutCancel(ctx), record.DeliveryStep{Job: a.Job.ID, Name: name, At: a.d.now(), Result: res}); err != nil {
		return "", fmt.Errorf("delivery: record step %s: %w", name, err)
	}
	return res, nil
}

// Last runs the last step of a delivery: like Step, but not recorded on
// its own, since the job's being delivered records it.
func (a *Attempt) Last(ctx context.Context, name string, f func(ctx context.Context) (string, error)) (string, error) {
	if st, err := a.d.store.DeliveryStep(ctx, a.Job.ID, name); err == nil {
		return st.Result, nil
	} else if !errors.Is(err, record.ErrNotFound) {
		return "", err
	}
	return f(ctx)
}

// Envelope builds the job's envelope (see Envelope).
func (a *Attempt) Envelope(ctx context.Context) (*Envelope, error) {
	return a.d.envelope(ctx, a)
}

// Dispatcher delivers the outbox.
type Dispatcher struct {
	store Store
	opt   Options
	log   *slog.Logger

	mu      sync.Mutex
	running map[string]bool      // jobs in flight here
	skip    map[string]time.Time // jobs in flight elsewhere: not tried before
	more    bool                 // the last poll left due jobs for want of a slot
	perDest map[string]chan struct{}
	workers chan struct{}
	wake    chan struct{}
	wg      sync.WaitGroup
}

// New returns a Dispatcher over store.
func New(store Store, opt Options) *Dispatcher {
	if opt.Holder == "" {
		h, _ := os.Hostname()
		opt.Holder = h + ":" + strconv.Itoa(os.Getpid())
	}
	opt.Holder += "@" + processID
	if opt.Poll <= 0 {
		opt.Poll = time.Second
	}
	if opt.Batch <= 0 {
		opt.Batch = 100
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 30 * time.Second
	}
	if opt.Lease <= opt.Timeout {
		opt.Lease = opt.Timeout + 30*time.Second
	}
	if opt.MaxAttempts <= 0 {
		opt.MaxAttempts = 12
	}
	if opt.MaxAge <= 0 {
		opt.MaxAge = 7 * 24 * time.Hour
	}
	if opt.Backoff <= 0 {
		opt.Backoff = 10 * time.Second
	}
	if opt.MaxBackoff <= 0 {
		opt.MaxBackoff = time.Hour
	}
	if opt.Concurrency <= 0 {
		opt.Concurrency = 4
	}
	if opt.Workers <= 0 {
		opt.Workers = 16
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Env == nil {
		opt.Env = os.Getenv
	}
	if opt.InlineLimit <= 0 {
		opt.InlineLimit = 1 << 20
	}
	d := &Dispatcher{store: store, opt: opt, log: opt.Logger, running: map[string]bool{}, skip: map[string]time.Time{},
		perDest: map[string]chan struct{}{}, workers: make(chan struct{}, opt.Workers), wake: make(chan struct{}, 1)}
	s := map[string]Sender{"webhook": &Webhook{}, "directory": &Directory{}}
	if opt.Mail != nil {
		s["mail"] = &Mail{Sender: opt.Mail}
	}
	for k, v := range opt.Senders {
		s[k] = v
	}
	d.opt.Senders = s
	return d
}

func (d *Dispatcher) now() time.Time {
	if d.opt.Now != nil {
		return d.opt.Now().UTC()
	}
	return time.Now().UTC()
}

// Wake makes the dispatcher poll now (after a submit with jobs).
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, then waits for the attempts in flight
// (each bounded by Timeout).
func (d *Dispatcher) Run(ctx context.Context) error {
	t := time.NewTicker(d.opt.Poll)
	defer t.Stop()
	var took time.Duration
	for {
		start := time.Now()
		if _, err := d.Poll(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("delivery: poll failed (retried)", "err", err)
		}
		took = time.Since(start)
		select {
		case <-ctx.Done():
			d.wg.Wait()
			return nil
		case <-t.C:
		case <-d.wake:
			// however many attempts end: polls take at most half
			// the time
			select {
			case <-ctx.Done():
			case <-time.After(min(d.opt.Poll, max(5*time.Millisecond, took))):
			}
		}
	}
}

// Poll starts an attempt for every due job not in flight here, within
// the limits, and returns how many it started. Attempts run in the
// background; Wait waits for them.
func (d *Dispatcher) Poll(ctx context.Context) (int, error) {
	jobs, err := d.store.DueDeliveries(ctx, d.now(), d.opt.Batch)
	if err != nil {
		return 0, err
	}
	n := 0
	now := d.now()
	d.mu.Lock()
	d.more = false
	for id, until := range d.skip {
		if !now.Before(until) {
			delete(d.skip, id)
		}
	}
	d.mu.Unlock()
	for _, j := range jobs {
		if _, ok := d.binding(j); !ok {
			continue // not bound for the tenant: waits, attempts unused, until it is
		}
		key := j.Tenant + "/" + j.Destination
		d.mu.Lock()
		if d.running[j.ID] || !d.skip[j.ID].IsZero() {
			d.mu.Unlock()
			continue
		}
		sem := d.perDest[key]
		if sem == nil {
			c := d.opt.Concurrency
			if b, ok := d.binding(j); ok && b.Concurrency > 0 {
				c = b.Concurrency
			}
			sem = make(chan struct{}, c)
			d.perDest[key] = sem
		}
		select {
		case sem <- struct{}{}:
		default:
			d.more = true
			d.mu.Unlock()
			continue // destination at its limit: when a slot is free
		}
		select {
		case d.workers <- struct{}{}:
		default:
			<-sem
			d.more = true
			d.mu.Unlock()
			return n, nil
		}
		d.running[j.ID] = true
		d.mu.Unlock()
		n++
		d.wg.Add(1)
		go func(j *record.DeliveryJob) {
			defer d.wg.Done()
			defer func() {
				d.mu.Lock()
				delete(d.running, j.ID)
				more := d.more
				d.mu.Unlock()
				<-sem
				<-d.workers
				if more {
					d.Wake() // a slot is free for a job left waiting
				}
			}()
			if err := d.Attempt(context.WithoutCancel(ctx), j); err != nil {
				d.log.Warn("delivery: attempt not recorded (retried)", "job", j.ID, "err", err)
			}
		}(j)
	}
	return n, nil
}

// processID tells this process's claims from those of an earlier one.
var processID = record.NewToken()[:8]

// OnlyWriter is implemented by stores that are the only writer of their
// database (the embedded store): a claim left by another process is then
// from a process that died, and is taken over without waiting for its
// lease.
type OnlyWriter interface{ OnlyWriter() bool }

func (d *Dispatcher) onlyWriter() bool {
	o, ok := d.store.(OnlyWriter)
	return ok && o.OnlyWriter()
}

// Wait waits for the attempts Poll started.
func (d *Dispatcher) Wait() { d.wg.Wait() }

func (d *Dispatcher) binding(j *record.DeliveryJob) (*engine.DeliveryBinding, bool) {
	if d.opt.Bindings == nil {
		return nil, false
	}
	return d.opt.Bindings.Binding(j.Tenant, j.Destination)
}

// Attempt makes one attempt of job j (as read by DueDeliveries): it takes
// the next attempt's claim, or returns without sending when another
// dispatcher holds it.
func (d *Dispatcher) Attempt(ctx context.Context, j *record.DeliveryJob) error {
	now := d.now()
	claim := &record.DeliveryClaim{Job: j.ID, Holder: d.opt.Holder, Started: now, Until: now.Add(d.opt.Lease)}
	for n := j.Attempts + 1; ; n++ {
		if n > j.Attempts+50 {
			return fmt.Errorf("delivery %s: no free attempt", j.ID)
		}
		claim.N = n
		err := d.store.ClaimDelivery(ctx, claim)
		if err == nil {
			break
		}
		if !errors.Is(err, record.ErrConflict) {
			return err
		}
		c, cerr := d.store.DeliveryClaim(ctx, j.ID, n)
		if errors.Is(cerr, record.ErrNotFound) {
			return nil // the job finished: the claim was refused for that
		}
		if cerr != nil {
			return cerr
		}
		switch {
		case c.Outcome == "" && d.onlyWriter() && !strings.HasSuffix(c.Holder, "@"+processID):
			// The only writer's claims of an earlier process: that
			// process is gone (the store allows one per database), so
			// its attempt ended with it; no need to wait for its lease.
		case c.Outcome != "":
			// Made and ended by another holder, its state not written
			// (it died): write it as it would have.
			return d.settle(ctx, j, c)
		case now.Before(c.Until):
			d.mu.Lock()
			d.skip[j.ID] = c.Until
			d.mu.Unlock()
			return nil // in flight elsewhere
		}
		// Its holder died during the attempt: the next one.
	}
	j.Attempts = claim.N
	err := d.send(ctx, j, claim.N)
	claim.Ended = d.now()
	switch {
	case err == nil:
		claim.Outcome = "delivered"
	default:
		claim.Outcome, claim.Error = "failed", errText(err)
	}
	var perm *Permanent
	if errors.As(err, &perm) {
		claim.Outcome = "failed-permanently"
	}
	if d.opt.Observe != nil {
		d.opt.Observe(j.Tenant, j.Destination, claim.Outcome, claim.Ended.Sub(now))
	}
	// A delivered job is finished at once (moved to the finished jobs:
	// that is its record); a failed attempt's outcome is written to its
	// claim first, so that another dispatcher can settle it should this
	// one die before writing the job's state.
	if claim.Outcome != "delivered" {
		if eerr := d.store.EndDeliveryClaim(ctx, claim); eerr != nil {
			return eerr
		}
	}
	return d.settle(ctx, j, claim)
}

// settle writes a job's state after attempt c ended.
func (d *Dispatcher) settle(ctx context.Context, j *record.DeliveryJob, c *record.DeliveryClaim) error {
	for try := 0; ; try++ {
		base := j.Base
		nj := *j
		nj.Attempts = c.N
		nj.Updated = d.now()
		switch c.Outcome {
		case "delivered":
			nj.Status, nj.Delivered, nj.LastError = record.DeliveryDelivered, c.Ended, ""
		default:
			nj.LastError = c.Error
			used := c.N - nj.Base
			age := c.Ended.Sub(nj.Since)
			switch {
			case c.Outcome == "failed-permanently", used >= d.opt.MaxAttempts, age >= d.opt.MaxAge:
				nj.Status = record.DeliveryDead
				d.log.Error("delivery: dead-lettered", "job", j.ID, "attempts", c.N, "err", c.Error)
			default:
				nj.Status = record.DeliveryPending
				nj.Next = c.Ended.Add(d.backoff(used))
			}
		}
		err := d.store.SaveDeliveryJob(ctx, &nj, base)
		if err == nil || !errors.Is(err, record.ErrConflict) || try > 3 {
			if err != nil && errors.Is(err, record.ErrConflict) {
				return nil // a newer attempt or a manual retry wrote it
			}
			return err
		}
		// A manual retry meanwhile: read its base and write again.
		cur, gerr := d.store.DeliveryJob(ctx, j.ID)
		if gerr != nil {
			return gerr
		}
		if cur.Attempts > c.N {
			return nil
		}
		j = cur
	}
}

// backoff is the delay after the n-th failed attempt: exponential, with
// full jitter (uniform in [d/2, d]).
func (d *Dispatcher) backoff(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	b := d.opt.Backoff
	for i := 1; i < n && b < d.opt.MaxBackoff; i++ {
		b *= 2
	}
	b = min(b, d.opt.MaxBackoff)
	return b/2 + time.Duration(rand.Int64N(int64(b/2)+1))
}

// Backoff exposes the delay after the n-th failed attempt (for tests and
// docs).
func (d *Dispatcher) Backoff(n int) time.Duration { return d.backoff(n) }

func (d *Dispatcher) send(ctx context.Context, j *record.DeliveryJob, n int) error {
	ctx, cancel := context.WithTimeout(ctx, d.opt.Timeout)
	defer cancel()
	sub, err := d.store.GetSubmission(ctx, j.Tenant, j.Ref)
	if errors.Is(err, record.ErrNotFound) {
		return &Permanent{Err: fmt.Errorf("submission %s is no longer stored", j.Ref)}
	}
	if err != nil {
		return err
	}
	a := &Attempt{Job: j, N: n, DeliveryID: record.DeliveryID(j.ID), Sub: sub, d: d}
	if d.opt.Services != nil {
		if a.Service, err = d.opt.Services.Pinned(sub.Service); err != nil {
			return err // the version may come back with a restart or redeploy
		}
	}
	b, ok := d.binding(j)
	if !ok {
		return fmt.Errorf("destination %s is not bound for tenant %s", j.Destination, j.Tenant)
	}
	a.Binding = b
	s := d.opt.Senders[j.Kind]
	if s == nil {
		return fmt.Errorf("no sender for destinations of kind %s", j.Kind)
	}
	return s.Send(ctx, a)
}

// errText is an error's message, short enough to store.
func errText(err error) string {
	s := err.Error()
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return s
}

// Retry makes a job due at once with a full set of attempts, whatever
// it used: a manual retry always works for a pending or dead-lettered
// job.
func Retry(ctx context.Context, store Store, id string) (*record.DeliveryJob, error) {
	return store.RetryDelivery(ctx, id, time.Now().UTC())
}

// Jobs returns the delivery jobs for a submission's destinations, for
// record.SubmitRequest.Jobs: one per destination declared by the service.
func Jobs(svc *engine.Service) []record.DeliveryJob {
	if svc == nil || len(svc.Deliveries) == 0 {
		return nil
	}
	out := make([]record.DeliveryJob, 0, len(svc.Deliveries))
	for _, name := range svc.DeliveryNames() {
		out = append(out, record.DeliveryJob{Destination: name, Kind: svc.Deliveries[name].Kind})
	}
	return out
}

// StaticBindings binds destinations by "tenant/destination".
type StaticBindings map[string]*engine.DeliveryBinding

// Binding implements Bindings.
func (m StaticBindings) Binding(tenant, destination string) (*engine.DeliveryBinding, bool) {
	b, ok := m[tenant+"/"+destination]
	return b, ok
}

// InstallationBindings returns the bindings an installation declares
// (tenants: x: deliveries: ...).
func InstallationBindings(in *engine.Installation) StaticBindings {
	m := StaticBindings{}
	for _, t := range in.Tenants {
		for name, b := range t.Deliveries {
			m[t.ID+"/"+name] = b
		}
	}
	return m
}

// Stats describe the outbox for metrics and readiness.
type Stats struct {
	Due       int           // jobs due now (pending, not feeds, bound)
	OldestDue time.Duration // how long the longest-waiting due job is overdue
	OldestAge time.Duration // age of the oldest due job since it was created
}

// Stats reads the outbox.
func (d *Dispatcher) Stats(ctx context.Context) (Stats, error) {
	now := d.now()
	jobs, err := d.store.DueDeliveries(ctx, now, 10000)
	if err != nil {
		return Stats{}, err
	}
	st := Stats{}
	for _, j := range jobs {
		if _, ok := d.binding(j); !ok {
			continue // waits for its binding: not stuck
		}
		st.Due++
		st.OldestDue = max(st.OldestDue, now.Sub(j.Next))
		st.OldestAge = max(st.OldestAge, now.Sub(j.Created))
	}
	return st, nil
}

// OutboxStats adapts Stats to httpx.OutboxStats.
func (d *Dispatcher) OutboxStats(ctx context.Context) (due int, overdue, oldest time.Duration, err error) {
	st, err := d.Stats(ctx)
	return st.Due, st.OldestDue, st.OldestAge, err
}
