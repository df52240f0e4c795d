package casework

import (
	"testing"
	"time"

	"github.com/amtsform/amtsform/engine/record"
)

// TestDeliveries: the case view lists each destination's state; only an
// admin retries, only a dead-lettered job, and the retry is audited; the
// citizen hears "handed over" only once every destination took it.
func TestDeliveries(t *testing.T) {
	f := newFixture(t)
	f.work.opts.Outbox = f.store
	admin := Actor{ID: "ida", Tenant: "ffm", Roles: []string{RoleAdmin}, Offices: []string{"jugendamt-frankfurt"}}
	sub, _, err := f.store.Submit(ctxTest, &record.SubmitRequest{
		Tenant: "ffm", Prefix: kita.Reference, Service: record.ServiceRef{ID: kita.ID, Version: kita.Version, Hash: kita.Hash},
		Data: map[string]any{"x": "y"}, Office: "jugendamt-frankfurt", Status: kita.Workflow.Initial, At: f.time(),
		Jobs: []record.DeliveryJob{{Destination: "fachverfahren", Kind: "webhook"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := f.work.Deliveries(ctxTest, anna, sub.Ref)
	if err != nil || len(ds) != 1 || ds[0].Destination != "fachverfahren" || ds[0].Title.De == "" {
		t.Fatalf("deliveries: %+v, %v", ds, err)
	}
	if ds[0].Job != nil && ds[0].Job.Status != record.DeliveryPending {
		t.Fatalf("a fresh job is %s", ds[0].Job.Status)
	}
	if _, err := f.work.Deliveries(ctxTest, cem, sub.Ref); code(err) != "notFound" {
		t.Errorf("another office's caseworker: %s", code(err))
	}
	if h, err := f.work.CitizenHandover(ctxTest, "ffm", sub.Ref); err != nil || h != HandoverUnderway {
		t.Errorf("pending: handover %v, %v", h, err)
	}
	if _, err := f.work.RetryDelivery(ctxTest, admin, sub.Ref, "fachverfahren"); code(err) != CodeNotAllowed {
		t.Errorf("retry of a pending job: %s", code(err))
	}

	// dead-lettered after a failed attempt
	jobs, err := f.store.DueDeliveries(ctxTest, f.time().Add(time.Hour), 10)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("due: %v, %v", jobs, err)
	}
	j := jobs[0]
	if err := f.store.ClaimDelivery(ctxTest, &record.DeliveryClaim{Job: j.ID, N: 1, Holder: "test", Started: f.time(), Until: f.time().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	j.Attempts, j.Status, j.LastError, j.Updated = 1, record.DeliveryDead, "HTTP 500 from the receiver", f.time()
	if err := f.store.SaveDeliveryJob(ctxTest, j, 0); err != nil {
		t.Fatal(err)
	}
	ds, _ = f.work.Deliveries(ctxTest, anna, sub.Ref)
	if ds[0].Job == nil || ds[0].Job.Status != record.DeliveryDead || ds[0].Job.LastError == "" || ds[0].Job.Attempts != 1 {
		t.Fatalf("dead job: %+v", ds[0].Job)
	}
	if h, _ := f.work.CitizenHandover(ctxTest, "ffm", sub.Ref); h != HandoverUnderway {
		t.Errorf("dead-lettered: handover %v, want underway (never failed)", h)
	}
	for _, a := range []Actor{anna, audrey, cem} {
		if _, err := f.work.RetryDelivery(ctxTest, a, sub.Ref, "fachverfahren"); err == nil {
			t.Errorf("%s retried", a.ID)
		}
	}
	if _, err := f.work.RetryDelivery(ctxTest, admin, sub.Ref, "nowhere"); code(err) != "notFound" {
		t.Errorf("unknown destination: %s", code(err))
	}
	nj, err := f.work.RetryDelivery(ctxTest, admin, sub.Ref, "fachverfahren")
	if err != nil || nj.Status != record.DeliveryPending || nj.Base != 1 {
		t.Fatalf("retry: %+v, %v", nj, err)
	}
	last := f.audit.got[len(f.audit.got)-1]
	if last.Action != "delivery.retried" || last.Actor != "ida" || last.Object != sub.Ref || last.Detail["destination"] != "fachverfahren" {
		t.Errorf("audit entry %+v", last)
	}

	// delivered
	j, _ = f.store.DeliveryJob(ctxTest, j.ID)
	if err := f.store.ClaimDelivery(ctxTest, &record.DeliveryClaim{Job: j.ID, N: 2, Holder: "test", Started: f.time(), Until: f.time().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	j.Attempts, j.Status, j.Delivered, j.LastError = 2, record.DeliveryDelivered, f.time(), ""
	if err := f.store.SaveDeliveryJob(ctxTest, j, 1); err != nil {
		t.Fatal(err)
	}
	if h, err := f.work.CitizenHandover(ctxTest, "ffm", sub.Ref); err != nil || h != HandoverDone {
		t.Errorf("delivered: handover %v, %v", h, err)
	}
	ds, _ = f.work.Deliveries(ctxTest, anna, sub.Ref)
	if ds[0].Job == nil || ds[0].Job.Delivered.IsZero() {
		t.Errorf("delivered job: %+v", ds[0].Job)
	}
}
