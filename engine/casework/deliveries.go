package casework

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/record"
)

// Outbox is the store of delivery jobs (engine/mongostore; see
// engine/delivery), for the case view's delivery states and an admin's
// retry of a dead-lettered job.
type Outbox interface {
	ListDeliveries(ctx context.Context, q record.DeliveryQuery) ([]*record.DeliveryJob, error)
	RetryDelivery(ctx context.Context, id string, at time.Time) (*record.DeliveryJob, error)
}

// Delivery is the state of one destination of a case.
type Delivery struct {
	Destination string
	Title       engine.Text // the destination's title in the spec; may be empty
	Kind        string
	// Job is the destination's job; nil while the store lists none yet
	// (written with the submission, not yet taken into the outbox):
	// pending.
	Job *record.DeliveryJob
}

// jobs lists the jobs of a case, one per destination the version it was
// submitted under declares, in the order of their names.
func (w *Work) jobs(ctx context.Context, svc *engine.Service, tenant, ref string) ([]Delivery, error) {
	if svc == nil || len(svc.Deliveries) == 0 {
		return nil, nil
	}
	var list []*record.DeliveryJob
	if w.opts.Outbox != nil {
		var err error
		if list, err = w.opts.Outbox.ListDeliveries(ctx, record.DeliveryQuery{Tenant: tenant, Ref: ref, Limit: 1000}); err != nil {
			return nil, err
		}
	}
	out := make([]Delivery, 0, len(svc.Deliveries))
	for _, name := range svc.DeliveryNames() {
		d := svc.Deliveries[name]
		dl := Delivery{Destination: name, Kind: d.Kind}
		if d.Title != nil {
			dl.Title = *d.Title
		}
		if i := slices.IndexFunc(list, func(j *record.DeliveryJob) bool { return j.Destination == name && j.Ref == ref }); i >= 0 {
			dl.Job = list[i]
		}
		out = append(out, dl)
	}
	return out, nil
}

// Deliveries returns the state of every destination of a case the actor
// sees (pending, delivered, accepted or rejected by a feed receiver,
// dead-lettered with the last error).
func (w *Work) Deliveries(ctx context.Context, a Actor, ref string) ([]Delivery, error) {
	sub, err := w.load(ctx, &a, ref)
	if err != nil {
		return nil, err
	}
	svc, err := w.service(sub)
	if err != nil {
		return nil, err
	}
	return w.jobs(ctx, svc, sub.Tenant, sub.Ref)
}

// RetryDelivery makes a dead-lettered job of a case due at once with a
// full set of attempts. Only admins may; a job that is not dead-lettered
// is an ActionError (CodeNotAllowed). The retry is audited.
func (w *Work) RetryDelivery(ctx context.Context, a Actor, ref, destination string) (*record.DeliveryJob, error) {
	sub, err := w.loadForAction(ctx, &a, ref)
	if err != nil {
		return nil, err
	}
	if !a.has(RoleAdmin) {
		return nil, ErrForbidden
	}
	svc, err := w.service(sub)
	if err != nil {
		return nil, err
	}
	ds, err := w.jobs(ctx, svc, sub.Tenant, sub.Ref)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(ds, func(d Delivery) bool { return d.Destination == destination })
	if i < 0 {
		return nil, fmt.Errorf("destination %s: %w", destination, record.ErrNotFound)
	}
	j := ds[i].Job
	if j == nil || j.Status != record.DeliveryDead {
		return nil, &ActionError{Code: CodeNotAllowed, Detail: "delivery to " + destination + " is not dead-lettered"}
	}
	nj, err := w.opts.Outbox.RetryDelivery(ctx, j.ID, w.now().UTC())
	if err != nil {
		return nil, err
	}
	w.auditAfter(ctx, &a, "delivery.retried", ref, map[string]string{"destination": destination, "attempts": fmt.Sprint(j.Attempts), "lastError": j.LastError})
	return nj, nil
}

// Handover says what became of a submission's deliveries, for the
// citizen's status page.
type Handover int

const (
	// HandoverNone: the service declares no destinations.
	HandoverNone Handover = iota
	// HandoverUnderway: some destination has not taken it yet (pending,
	// being retried, dead-lettered and waiting for an admin, or rejected
	// by a feed receiver and waiting for the office).
	HandoverUnderway
	// HandoverDone: every destination took it (delivered, or accepted by
	// a feed receiver).
	HandoverDone
)

// CitizenHandover tells whether a submission was handed to every
// destination of the version it was submitted under. It never reports a
// failure: a job still being retried is underway.
func (w *Work) CitizenHandover(ctx context.Context, tenant, ref string) (Handover, error) {
	sub, err := w.store.GetSubmission(ctx, tenant, ref)
	if err != nil {
		return HandoverNone, err
	}
	svc, err := w.service(sub)
	if err != nil {
		return HandoverNone, err
	}
	ds, err := w.jobs(ctx, svc, tenant, ref)
	if err != nil || len(ds) == 0 {
		return HandoverNone, err
	}
	for _, d := range ds {
		if d.Job == nil || d.Job.Status != record.DeliveryDelivered {
			return HandoverUnderway, nil
		}
	}
	return HandoverDone, nil
}
