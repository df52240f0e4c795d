package mongostore

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/amtsform/amtsform/engine/record"
	"github.com/amtsform/amtsform/engine/sweep"
)

var scaleFlag = flag.Int("scale", 0, "largest archive for BenchmarkScale: 1000, 10000 (default) or 100000; also AMTSFORM_BENCH_SCALE")

// scaleSizes returns the archive sizes BenchmarkScale runs.
func scaleSizes() []int {
	largest := 10000
	if v, err := strconv.Atoi(os.Getenv("AMTSFORM_BENCH_SCALE")); err == nil && v > 0 {
		largest = v
	}
	if *scaleFlag > 0 {
		largest = *scaleFlag
	}
	var out []int
	for _, n := range []int{1000, 10000, 100000} {
		if n <= largest {
			out = append(out, n)
		}
	}
	return out
}

var (
	scaleOffices  = []string{"jugendamt-frankfurt", "jugendamt-kreis", "sozialamt", "buergeramt"}
	scaleStatuses = []string{"submitted", "in_review", "waiting", "done"}
	scaleBase     = time.Date(2016, 1, 1, 0, 0, 0, 0, time.UTC)
)

// scaleDoc is the stored form of the i-th archived submission, as Submit
// writes it (first events embedded, idempotency key).
func scaleDoc(i int) submissionDoc {
	ref := FormatRef("KITA", 2016+i/100000, int64(i%100000+1))
	sid := subID("ffm", ref)
	at := scaleBase.Add(time.Duration(i) * time.Minute)
	key := "scale-" + strconv.Itoa(i)
	return submissionDoc{
		ID: sid, Ref: ref, Tenant: "ffm", Service: serviceDoc{ID: "kita-gebuehren", Version: "1.0.0", Hash: "sha256:0123456789abcdef"},
		Data: benchData(i), Computed: computedList(map[string]any{"coveredFee": int64(41050)}),
		Office: scaleOffices[i%len(scaleOffices)], Status: scaleStatuses[(i/4)%len(scaleStatuses)],
		Created: at, Updated: at, Version: 1, IdemKey: key, Idem: idemValue("ffm", key, sid), PayloadHash: "h",
		Events: []eventDoc{
			{ID: eventID(sid, at, 0), Tenant: "ffm", Submission: sid, Ref: ref, Type: record.EventSubmitted, At: at, Actor: "citizen",
				Data: map[string]any{"service": "kita-gebuehren", "version": "1.0.0", "status": "submitted"}},
			{ID: eventID(sid, at, 1), Tenant: "ffm", Submission: sid, Ref: ref, Type: record.EventRouted, At: at, Actor: "system",
				Data: map[string]any{"office": scaleOffices[i%len(scaleOffices)]}},
		},
		Outbox: []eventDoc{},
	}
}

// scaleFill grows the archive of s (an exclusive store) to n
// submissions with bulk inserts of the stored documents and their
// idempotency claims, sets the case index rows and snapshots it: the
// state a store reaches by n submits and a restart, in far less time.
func scaleFill(b *testing.B, s *Store, have, n int) {
	ctx := context.Background()
	t0 := time.Now()
	for have < n {
		batch := min(1000, n-have)
		docs := make([]any, batch)
		claims := make([]any, batch)
		for j := range docs {
			d := scaleDoc(have + j)
			docs[j] = d
			claims[j] = claimDoc{ID: d.Idem, Sub: d.ID, At: d.Created}
			s.cases.set(d.ID, summary(d.submission()))
		}
		if _, err := s.subs.InsertMany(ctx, docs); err != nil {
			b.Fatal(err)
		}
		if _, err := s.idem.InsertMany(ctx, claims); err != nil {
			b.Fatal(err)
		}
		have += batch
	}
	if err := s.snapshot(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("filled to %d submissions in %v", n, time.Since(t0).Round(time.Millisecond))
}

// p50 runs op k times and reports the median latency in ms.
func p50(b *testing.B, k int, op func(i int)) {
	for b.Loop() {
		lat := make([]time.Duration, k)
		for i := range lat {
			t0 := time.Now()
			op(i)
			lat[i] = time.Since(t0)
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		b.ReportMetric(float64(lat[k/2].Microseconds())/1000, "ms-p50")
		b.ReportMetric(float64(lat[k*95/100].Microseconds())/1000, "ms-p95")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// openOnce connects a second store to database db, as a restart of the
// server would, and reports the time and CPU the connect took in ms/open
// and cpu-ms/open. The close afterwards is not timed.
func openOnce(b *testing.B, db string) {
	ctx := context.Background()
	c0, t0 := cpuTime(), time.Now()
	s, err := Connect(ctx, testURI, Options{Database: db, ExclusiveDrafts: true, Logger: quiet, OpTimeout: 5 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(time.Since(t0).Microseconds())/1000, "ms/open")
	b.ReportMetric(float64((cpuTime()-c0).Microseconds())/1000, "cpu-ms/open")
	b.StopTimer()
	if err := s.Close(ctx); err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
}

// BenchmarkScale measures the request paths and the lifecycle work of
// the embedded store as the archive grows: 1,000 and 10,000 stored
// submissions by default, 100,000 with -scale=100000 (or
// AMTSFORM_BENCH_SCALE=100000). Compare the sizes: the goal is flat
// within 2x. Run with:
//
//	go test -run - -bench Scale -benchtime 1x ./engine/mongostore
//	go test -run - -bench Scale -benchtime 1x -timeout 30m ./engine/mongostore -scale=100000
func BenchmarkScale(b *testing.B) {
	if testServer == nil {
		b.Skip("measures the embedded store")
	}
	db := dbName()
	opts := Options{ExclusiveDrafts: true, OpTimeout: 5 * time.Minute}
	s := open(b, db, opts, true)
	ctx := context.Background()
	have := 0
	deleted := 0
	for _, n := range scaleSizes() {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			scaleFill(b, s, have, n)
			have = n
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b.Logf("heap after fill: %.1f MiB", float64(ms.HeapAlloc)/(1<<20))
			rnd := func() int { return deleted + rand.IntN(n-deleted) } // still stored
			b.Run("get", func(b *testing.B) {
				p50(b, 100, func(int) {
					d := scaleDoc(rnd())
					if _, err := s.GetSubmission(ctx, "ffm", d.Ref); err != nil {
						b.Fatal(err)
					}
				})
			})
			b.Run("inbox", func(b *testing.B) {
				q := record.InboxQuery{Tenant: "ffm", Office: "jugendamt-frankfurt", Status: []string{"submitted", "in_review"}, Limit: 50}
				p50(b, 40, func(i int) {
					q.Skip = (i % 2) * 50 // first pages
					rows, err := s.ListSubmissions(ctx, q)
					if err != nil || len(rows) != 50 {
						b.Fatalf("%d rows, %v", len(rows), err)
					}
				})
			})
			b.Run("replay", func(b *testing.B) {
				p50(b, 100, func(int) {
					i := rnd()
					req := benchReq(i)
					req.IdempotencyKey, req.PayloadHash = "scale-"+strconv.Itoa(i), "h"
					if sub, created, err := s.Submit(ctx, req); err != nil || created || sub.Ref != scaleDoc(i).Ref {
						b.Fatalf("replay %d: %v created=%v", i, err, created)
					}
				})
			})
			b.Run("submit", func(b *testing.B) {
				p50(b, 40, func(i int) {
					if _, _, err := s.Submit(ctx, benchReq(i)); err != nil {
						b.Fatal(err)
					}
				})
			})
			// Submits sustained past two snapshots (one per 500 changes):
			// CPU and time per submit including the background snapshots.
			b.Run("submit-sustained", func(b *testing.B) {
				const k = 1200
				for b.Loop() {
					s.cases.wg.Wait()
					c0, t0 := cpuTime(), time.Now()
					for i := 0; i < k; i++ {
						if _, _, err := s.Submit(ctx, benchReq(i)); err != nil {
							b.Fatal(err)
						}
					}
					s.cases.wg.Wait()
					b.ReportMetric(float64((cpuTime()-c0).Microseconds())/1000/k, "cpu-ms/submit")
					b.ReportMetric(float64(time.Since(t0).Microseconds())/1000/k, "ms/submit")
				}
			})
			// One snapshot after 400 submits (fewer than snapshotEvery, so
			// none runs in the background).
			b.Run("snapshot", func(b *testing.B) {
				for b.Loop() {
					b.StopTimer()
					s.cases.wg.Wait()
					if err := s.snapshot(ctx); err != nil {
						b.Fatal(err)
					}
					for i := 0; i < 400; i++ {
						if _, _, err := s.Submit(ctx, benchReq(i)); err != nil {
							b.Fatal(err)
						}
					}
					s.cases.wg.Wait()
					b.StartTimer()
					c0, t0 := cpuTime(), time.Now()
					if err := s.snapshot(ctx); err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(float64((cpuTime()-c0).Microseconds())/1000, "cpu-ms/snapshot")
					b.ReportMetric(float64(time.Since(t0).Microseconds())/1000, "ms/snapshot")
				}
			})
			b.Run("open", func(b *testing.B) {
				if err := s.snapshot(ctx); err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					openOnce(b, db)
				}
			})
			// Start-up in the worst case: as many deltas as the snapshot
			// holds before the next compaction (rows of the archive set
			// again, 500 per delta).
			b.Run("open-deltas", func(b *testing.B) {
				var meta snapshotMeta
				for i := 0; ; i++ {
					if err := s.caseIdx.FindOne(ctx, bson.D{{Key: "_id", Value: "meta"}}).Decode(&meta); err != nil {
						b.Fatal(err)
					}
					if len(meta.Deltas)+1 >= deltaLimit(meta.Count) || meta.deltaRows()+2*500 >= meta.Count {
						break
					}
					// Rows set again as they are stored (only of submissions
					// the sweeps have left: a row of a deleted one would be a
					// ghost the next sweep trips over).
					for j := range 500 {
						d := scaleDoc(deleted + (i*500+j)%(n-deleted))
						s.cases.set(d.ID, summary(d.submission()))
					}
					if err := s.snapshot(ctx); err != nil {
						b.Fatal(err)
					}
				}
				for b.Loop() {
					openOnce(b, db)
				}
				b.ReportMetric(float64(len(meta.Deltas)), "deltas")
				b.ReportMetric(float64(meta.deltaRows()), "delta-rows")
			})
			b.Run("sweep", func(b *testing.B) {
				const perRun = 50
				for b.Loop() {
					sw := &sweep.Sweeper{Store: s, Holder: "bench", Duty: 1,
						Retention: func(string) (time.Duration, bool) { return 365 * 24 * time.Hour, true },
						Now:       func() time.Time { return scaleBase.Add(365*24*time.Hour + time.Duration(deleted+perRun)*time.Minute) }}
					c0, t0 := cpuTime(), time.Now()
					res, err := sw.RunOnce(ctx)
					if err != nil || res.Submissions != perRun {
						b.Fatalf("sweep deleted %d, want %d: %v", res.Submissions, perRun, err)
					}
					b.ReportMetric(float64((cpuTime()-c0).Microseconds())/1000, "cpu-ms/sweep")
					b.ReportMetric(float64((cpuTime()-c0).Microseconds())/1000/perRun, "cpu-ms/deleted")
					b.ReportMetric(float64(time.Since(t0).Microseconds())/1000, "ms/sweep")
					deleted += perRun
				}
			})
			// A sweep with nothing due: the cost every 10 minutes.
			b.Run("sweep-idle", func(b *testing.B) {
				for b.Loop() {
					sw := &sweep.Sweeper{Store: s, Holder: "bench",
						Retention: func(string) (time.Duration, bool) { return 365 * 24 * time.Hour, true },
						Now:       func() time.Time { return scaleBase.Add(365*24*time.Hour + time.Duration(deleted)*time.Minute) }}
					c0 := cpuTime()
					res, err := sw.RunOnce(ctx)
					if err != nil || res.Submissions != 0 {
						b.Fatalf("idle sweep deleted %d: %v", res.Submissions, err)
					}
					b.ReportMetric(float64((cpuTime()-c0).Microseconds())/1000, "cpu-ms/sweep")
				}
			})
			// Serving while the sweeper works off a backlog: reads by
			// reference during a sweep of 100 deletions (paced, the
			// default) compared with reads just before.
			b.Run("get-during-sweep", func(b *testing.B) {
				const backlog = 100
				for b.Loop() {
					get := func() time.Duration {
						t0 := time.Now()
						if _, err := s.GetSubmission(ctx, "ffm", scaleDoc(deleted+backlog+rand.IntN(n-deleted-backlog)).Ref); err != nil {
							b.Fatal(err)
						}
						return time.Since(t0)
					}
					median := func(l []time.Duration) float64 {
						sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
						return float64(l[len(l)/2].Microseconds()) / 1000
					}
					var idle []time.Duration
					for i := 0; i < 100; i++ {
						idle = append(idle, get())
					}
					sw := &sweep.Sweeper{Store: s, Holder: "bench", Batch: backlog,
						Retention: func(string) (time.Duration, bool) { return 365 * 24 * time.Hour, true },
						Now:       func() time.Time { return scaleBase.Add(365*24*time.Hour + time.Duration(deleted+backlog)*time.Minute) }}
					done := make(chan error, 1)
					go func() {
						res, err := sw.RunOnce(ctx)
						if err == nil && res.Submissions != backlog {
							err = fmt.Errorf("sweep deleted %d, want %d", res.Submissions, backlog)
						}
						done <- err
					}()
					var busy []time.Duration
				loop:
					for {
						select {
						case err := <-done:
							if err != nil {
								b.Fatal(err)
							}
							break loop
						default:
							busy = append(busy, get())
						}
					}
					deleted += backlog
					b.ReportMetric(median(idle), "ms-p50-idle")
					b.ReportMetric(median(busy), "ms-p50-sweeping")
					b.ReportMetric(median(busy)/median(idle), "slowdown")
				}
			})
		})
	}
}
