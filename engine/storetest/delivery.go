package storetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amtsform/amtsform/engine/delivery"
	"github.com/amtsform/amtsform/engine/record"
)

// Deliveries checks delivery.Store: the outbox written with the
// submission, exclusive claims, steps, dead letters and manual retries,
// and two dispatchers on separate store clients.
func Deliveries(t *testing.T, ns NewStore) {
	runCases(t, ns, []suiteCase{
		{"OutboxWithSubmission", testOutboxWithSubmission},
		{"ClaimsAndSteps", testDeliveryClaimsAndSteps},
		{"DeadLetterRetry", testDeliveryDeadLetterRetry},
		{"TwoDispatchers", testTwoDispatchers},
	})
}

func jobReq(tenant string, i int, dests ...string) *record.SubmitRequest {
	r := submitReq(tenant, i)
	for _, d := range dests {
		r.Jobs = append(r.Jobs, record.DeliveryJob{Destination: d, Kind: "webhook"})
	}
	return r
}

func testOutboxWithSubmission(t *testing.T, ns NewStore) {
	s, _ := ns(t)
	ctx := ctxT(t)
	sub, _, err := s.Submit(ctx, jobReq("ffm", 1, "fachverfahren", "archiv"))
	must(t, err)
	plain, _, err := s.Submit(ctx, submitReq("ffm", 2))
	must(t, err)
	id := record.DeliveryJobID("ffm", sub.Ref, "fachverfahren")
	// Visible before it is taken in (it is in the submission).
	j, err := s.DeliveryJob(ctx, id)
	must(t, err)
	if j.Status != record.DeliveryPending || j.Kind != "webhook" || j.Ref != sub.Ref || j.Service.ID != svc.ID {
		t.Fatalf("job before take-in: %+v", j)
	}
	due, err := s.DueDeliveries(ctx, time.Now().Add(time.Second), 10)
	must(t, err)
	if len(due) != 2 {
		t.Fatalf("due: %d jobs, want 2", len(due))
	}
	for _, j := range due {
		if j.Ref != sub.Ref || j.Attempts != 0 || j.Tenant != "ffm" {
			t.Fatalf("due job %+v", j)
		}
	}
	if _, err := s.DeliveryJob(ctx, record.DeliveryJobID("ffm", plain.Ref, "fachverfahren")); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("job of a submission without destinations: %v", err)
	}
	// The submission itself is unchanged by taking its jobs in.
	got, err := s.GetSubmission(ctx, "ffm", sub.Ref)
	must(t, err)
	if got.Version != sub.Version || got.Status != sub.Status {
		t.Fatalf("submission changed by the outbox: %+v", got)
	}
	// Deliver one.
	c := &record.DeliveryClaim{Job: id, N: 1, Holder: "a", Started: time.Now(), Until: time.Now().Add(time.Minute)}
	must(t, s.ClaimDelivery(ctx, c))
	c.Ended, c.Outcome = time.Now(), "delivered"
	must(t, s.EndDeliveryClaim(ctx, c))
	j, err = s.DeliveryJob(ctx, id)
	must(t, err)
	j.Attempts, j.Status, j.Delivered = 1, record.DeliveryDelivered, time.Now()
	must(t, s.SaveDeliveryJob(ctx, j, 0))
	due, err = s.DueDeliveries(ctx, time.Now().Add(time.Hour), 10)
	must(t, err)
	if len(due) != 1 || due[0].Destination != "archiv" {
		t.Fatalf("due after delivery: %+v", due)
	}
	j, err = s.DeliveryJob(ctx, id)
	must(t, err)
	if j.Status != record.DeliveryDelivered || j.Attempts != 1 || j.Delivered.IsZero() {
		t.Fatalf("delivered job: %+v", j)
	}
	// A claim after the job finished is refused.
	if err := s.ClaimDelivery(ctx, &record.DeliveryClaim{Job: id, N: 2, Holder: "b", Until: time.Now().Add(time.Minute)}); !errors.Is(err, record.ErrConflict) {
		t.Fatalf("claim of a finished job: %v", err)
	}
	list, err := s.ListDeliveries(ctx, record.DeliveryQuery{Tenant: "ffm"})
	must(t, err)
	if len(list) != 2 {
		t.Fatalf("list: %d jobs", len(list))
	}
	list, err = s.ListDeliveries(ctx, record.DeliveryQuery{Tenant: "ffm", Status: []string{record.DeliveryDelivered}})
	must(t, err)
	if len(list) != 1 || list[0].ID != id {
		t.Fatalf("list delivered: %+v", list)
	}
}

func testDeliveryClaimsAndSteps(t *testing.T, ns NewStore) {
	s, another := ns(t)
	s2 := another()
	ctx := ctxT(t)
	sub, _, err := s.Submit(ctx, jobReq("ffm", 1, "fv"))
	must(t, err)
	_, err = s.DueDeliveries(ctx, time.Now(), 10)
	must(t, err)
	id := record.DeliveryJobID("ffm", sub.Ref, "fv")
	// Twenty dispatchers race for attempt 1: exactly one wins.
	var won atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			st := s
			if i%2 == 1 {
				st = s2
			}
			err := st.ClaimDelivery(ctx, &record.DeliveryClaim{Job: id, N: 1, Holder: fmt.Sprint(i), Started: time.Now(), Until: time.Now().Add(time.Minute)})
			switch {
			case err == nil:
				won.Add(1)
			case !errors.Is(err, record.ErrConflict):
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	if won.Load() != 1 {
		t.Fatalf("%d dispatchers took attempt 1", won.Load())
	}
	c, err := s2.DeliveryClaim(ctx, id, 1)
	must(t, err)
	if c.Holder == "" || c.Outcome != "" || c.Until.IsZero() {
		t.Fatalf("claim %+v", c)
	}
	if _, err := s.DeliveryClaim(ctx, id, 2); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("claim 2: %v", err)
	}
	if _, err := s.DeliveryStep(ctx, id, "upload:a"); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("step before: %v", err)
	}
	must(t, s.RecordDeliveryStep(ctx, record.DeliveryStep{Job: id, Name: "upload:a", At: time.Now(), Result: "r1"}))
	must(t, s2.RecordDeliveryStep(ctx, record.DeliveryStep{Job: id, Name: "upload:a", At: time.Now(), Result: "r2"}))
	st, err := s2.DeliveryStep(ctx, id, "upload:a")
	must(t, err)
	if st.Result != "r1" {
		t.Fatalf("step recorded twice: %+v", st)
	}
	// A stale state write (an older attempt) loses.
	j, err := s.DeliveryJob(ctx, id)
	must(t, err)
	j.Attempts, j.LastError, j.Next = 3, "boom", time.Now().Add(time.Hour)
	must(t, s.SaveDeliveryJob(ctx, j, 0))
	j.Attempts, j.LastError = 2, "stale"
	if err := s2.SaveDeliveryJob(ctx, j, 0); !errors.Is(err, record.ErrConflict) {
		t.Fatalf("stale save: %v", err)
	}
	j, err = s2.DeliveryJob(ctx, id)
	must(t, err)
	if j.Attempts != 3 || j.LastError != "boom" {
		t.Fatalf("job after stale save: %+v", j)
	}
	due, err := s.DueDeliveries(ctx, time.Now(), 10)
	must(t, err)
	if len(due) != 0 {
		t.Fatalf("job due before its next attempt: %+v", due)
	}
}

func testDeliveryDeadLetterRetry(t *testing.T, ns NewStore) {
	s, _ := ns(t)
	ctx := ctxT(t)
	sub, _, err := s.Submit(ctx, jobReq("ffm", 1, "fv"))
	must(t, err)
	_, err = s.DueDeliveries(ctx, time.Now(), 10)
	must(t, err)
	id := record.DeliveryJobID("ffm", sub.Ref, "fv")
	j, err := s.DeliveryJob(ctx, id)
	must(t, err)
	j.Attempts, j.Status, j.LastError = 12, record.DeliveryDead, "receiver answered 500"
	must(t, s.SaveDeliveryJob(ctx, j, 0))
	dead, err := s.ListDeliveries(ctx, record.DeliveryQuery{Status: []string{record.DeliveryDead}})
	must(t, err)
	if len(dead) != 1 || dead[0].LastError == "" {
		t.Fatalf("dead letters: %+v", dead)
	}
	if due, _ := s.DueDeliveries(ctx, time.Now().Add(24*time.Hour), 10); len(due) != 0 {
		t.Fatalf("dead job due: %+v", due)
	}
	// A manual retry works whatever the attempt count, twice.
	for i := 0; i < 2; i++ {
		at := time.Now()
		r, err := s.RetryDelivery(ctx, id, at)
		must(t, err)
		if r.Status != record.DeliveryPending || r.Base != r.Attempts || r.Attempts != 12 {
			t.Fatalf("retried: %+v", r)
		}
		due, err := s.DueDeliveries(ctx, at.Add(time.Second), 10)
		must(t, err)
		if len(due) != 1 {
			t.Fatalf("retried job not due: %+v", due)
		}
		// a writer with the old base loses against the retry
		j.Attempts, j.Status = 12, record.DeliveryDead
		if err := s.SaveDeliveryJob(ctx, j, 0); !errors.Is(err, record.ErrConflict) {
			t.Fatalf("save with the base before the retry: %v", err)
		}
		r.Status = record.DeliveryDead
		must(t, s.SaveDeliveryJob(ctx, r, r.Base))
		j = r
	}
	if _, err := s.RetryDelivery(ctx, "ffm/NOPE/fv", time.Now()); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("retry of an unknown job: %v", err)
	}
}

// testTwoDispatchers runs two dispatchers on separate store clients
// against one store: 500 jobs, none sent by both at once (the receiver
// checks), all sent, each delivered once.
func testTwoDispatchers(t *testing.T, ns NewStore) {
	s, another := ns(t)
	s2 := another()
	ctx := ctxT(t)
	const n = 500
	var (
		mu       sync.Mutex
		inflight = map[string]bool{}
		got      = map[string]int{}
		overlap  atomic.Int32
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(delivery.HeaderDeliveryID)
		mu.Lock()
		if inflight[id] {
			overlap.Add(1)
		}
		inflight[id] = true
		mu.Unlock()
		_, _ = io.Copy(io.Discard, r.Body)
		time.Sleep(time.Millisecond)
		mu.Lock()
		delete(inflight, id)
		got[id]++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	start := time.Now()
	for i := 0; i < n; i++ {
		_, _, err := s.Submit(ctx, jobReq("ffm", i, "fv"))
		must(t, err)
	}
	t.Logf("%d submits in %v", n, time.Since(start))
	start = time.Now()
	b := delivery.StaticBindings{"ffm/fv": {Kind: "webhook", URL: srv.URL}}
	var dispatchers []*delivery.Dispatcher
	for i, st := range []delivery.Store{s, s2} {
		dispatchers = append(dispatchers, delivery.New(st, delivery.Options{Bindings: b, Holder: fmt.Sprint("d", i),
			Poll: 20 * time.Millisecond, Concurrency: 8, Logger: quietLog()}))
	}
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, d := range dispatchers {
		wg.Add(1)
		go func(d *delivery.Dispatcher) { defer wg.Done(); _ = d.Run(rctx) }(d)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		mu.Lock()
		k := len(got)
		mu.Unlock()
		if k == n || time.Now().After(deadline) {
			break
		}
		if testing.Verbose() && time.Since(start)%(5*time.Second) < 50*time.Millisecond {
			t.Logf("%v: %d delivered", time.Since(start), k)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	t.Logf("%d jobs delivered by two dispatchers in %v", len(got), time.Since(start))
	if overlap.Load() > 0 {
		t.Fatalf("%d deliveries sent by both dispatchers at once", overlap.Load())
	}
	if len(got) != n {
		t.Fatalf("%d of %d jobs delivered", len(got), n)
	}
	twice := 0
	for _, c := range got {
		if c > 1 {
			twice++
		}
	}
	if twice > 0 {
		t.Fatalf("%d jobs sent more than once", twice)
	}
	list, err := s2.ListDeliveries(ctx, record.DeliveryQuery{Tenant: "ffm", Status: []string{record.DeliveryPending}, Limit: n})
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("%d jobs still pending after delivery", len(list))
	}
}

func quietLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
