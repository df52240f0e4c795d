package delivery_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amtsform/amtsform/engine/delivery"
	"github.com/amtsform/amtsform/engine/record"
)

// BenchmarkDispatcher measures delivery throughput from the embedded
// store to a local receiver answering 204: b.N jobs, submitted first
// (not timed), then delivered by one dispatcher.
//
//	go test -run ^$ -bench Dispatcher -benchtime 500x ./engine/delivery/
func BenchmarkDispatcher(b *testing.B) {
	s := openStore(b)
	ctx := context.Background()
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	for i := 0; i < b.N; i++ {
		if _, _, err := s.Submit(ctx, &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: svcRef,
			Data: map[string]any{"name": fmt.Sprint("Erika ", i)}, Jobs: []record.DeliveryJob{{Destination: "fv", Kind: "webhook"}}}); err != nil {
			b.Fatal(err)
		}
	}
	d := delivery.New(s, delivery.Options{Bindings: delivery.StaticBindings{"ffm/fv": {Kind: "webhook", URL: srv.URL, Concurrency: 8}},
		Poll: 10 * time.Millisecond, Logger: quiet})
	b.ResetTimer()
	start := time.Now()
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = d.Run(rctx); close(done) }()
	for got.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "jobs/s")
}

// BenchmarkSubmitOutbox measures what the outbox adds to the submit
// path: submits without destinations and with one webhook destination
// alternate in the same run; "ratio" is with/without.
//
//	go test -run ^$ -bench SubmitOutbox -benchtime 300x ./engine/delivery/
func BenchmarkSubmitOutbox(b *testing.B) {
	s := openStore(b)
	ctx := context.Background()
	var plain, outbox time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k, jobs := range [][]record.DeliveryJob{nil, {{Destination: "fv", Kind: "webhook"}}} {
			req := &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: svcRef, Office: "amt",
				Data: map[string]any{"name": fmt.Sprint("Erika ", i), "n": int64(i)}, IdempotencyKey: fmt.Sprintf("k%d-%d", i, k), Jobs: jobs}
			t0 := time.Now()
			if _, _, err := s.Submit(ctx, req); err != nil {
				b.Fatal(err)
			}
			if k == 0 {
				plain += time.Since(t0)
			} else {
				outbox += time.Since(t0)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(plain.Microseconds())/float64(b.N), "µs/submit")
	b.ReportMetric(float64(outbox.Microseconds())/float64(b.N), "µs/submit+outbox")
	b.ReportMetric(float64(outbox)/float64(plain), "ratio")
}
