package mongostore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/amtsform/amtsform/engine/record"
)

// benchData is a realistic validated document (~1 KB as BSON).
func benchData(i int) map[string]any {
	return map[string]any{
		"applicant": map[string]any{"firstName": "Erika", "lastName": "Mustermann", "birthDate": "1980-01-01",
			"email": "erika.mustermann@example.org", "phone": "+49 69 1234567"},
		"address": map[string]any{"street": "Musterstraße", "number": "12a", "postalCode": "60311", "city": "Frankfurt am Main"},
		"children": []any{
			map[string]any{"name": "Max Mustermann", "birthDate": "2020-03-04", "monthlyFee": int64(23050), "kita": "Kita Sonnenschein"},
			map[string]any{"name": "Mia Mustermann", "birthDate": "2022-05-06", "monthlyFee": int64(18000), "kita": "Kita Regenbogen"},
		},
		"income":  int64(2500000 + i),
		"iban":    "DE02120300000000202051",
		"consent": true,
		"remarks": "Bitte um schnelle Bearbeitung, da die Gebühren ab dem nächsten Monat fällig werden.",
	}
}

// benchKeys makes idempotency keys unique across benchmark runs (-count
// reruns sub-benchmarks on the same database; a reused key would measure
// the replay path instead).
var benchKeys atomic.Int64

func benchReq(i int) *record.SubmitRequest {
	return &record.SubmitRequest{
		Tenant: "ffm", Prefix: "KITA", Service: record.ServiceRef{ID: "kita-gebuehren", Version: "1.0.0", Hash: "sha256:0123456789abcdef"},
		Data: benchData(i), Computed: map[string]any{"coveredFee": int64(41050)}, Office: "jugendamt-frankfurt",
		IdempotencyKey: "bench-" + strconv.FormatInt(benchKeys.Add(1), 10),
	}
}

// plainDoc is the document Submit would store, for a plain InsertOne.
func plainDoc(i int) bson.D {
	r := benchReq(i)
	return bson.D{
		{Key: "_id", Value: fmt.Sprintf("plain-%d-%d", time.Now().UnixNano(), i)}, {Key: "tenant", Value: r.Tenant},
		{Key: "service", Value: toServiceDoc(r.Service)}, {Key: "data", Value: r.Data}, {Key: "computed", Value: r.Computed},
		{Key: "office", Value: r.Office}, {Key: "status", Value: "submitted"}, {Key: "created", Value: now()},
		{Key: "version", Value: int64(1)},
	}
}

// BenchmarkSubmit compares the submit path (reference number from the
// counter, idempotency index, embedded events, background event copy)
// with a plain InsertOne of the same document on the same store.
func BenchmarkSubmit(b *testing.B) {
	s := open(b, dbName(), Options{}, true)
	ctx := context.Background()
	plain := s.db.Collection("bench_plain")
	b.Run("submit", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, _, err := s.Submit(ctx, benchReq(i)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("insertOne", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := plain.InsertOne(ctx, plainDoc(i)); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Interleaved, so both see the same collection sizes and machine state.
	b.Run("ratio", func(b *testing.B) {
		var ts, tp time.Duration
		for i := 0; b.Loop(); i++ {
			t0 := time.Now()
			if _, _, err := s.Submit(ctx, benchReq(1_000_000+i)); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			if _, err := plain.InsertOne(ctx, plainDoc(1_000_000+i)); err != nil {
				b.Fatal(err)
			}
			ts += t1.Sub(t0)
			tp += time.Since(t1)
		}
		b.ReportMetric(float64(ts.Nanoseconds())/float64(b.N), "ns/submit")
		b.ReportMetric(float64(tp.Nanoseconds())/float64(b.N), "ns/insert")
		b.ReportMetric(float64(ts)/float64(tp), "submit/insert")
	})
}

// BenchmarkGetSubmission reads by reference number (an _id lookup).
// BenchmarkSubmitReplay measures a repeated submit with a known
// idempotency key, any of the stored ones (two _id reads).
func BenchmarkSubmitReplay(b *testing.B) {
	s := open(b, dbName(), Options{}, true)
	ctx := context.Background()
	var reqs []*record.SubmitRequest
	for i := 0; i < 1000; i++ {
		r := benchReq(i)
		if _, _, err := s.Submit(ctx, r); err != nil {
			b.Fatal(err)
		}
		reqs = append(reqs, r)
	}
	for i := 0; b.Loop(); i++ {
		if _, created, err := s.Submit(ctx, reqs[rand.IntN(len(reqs))]); err != nil || created {
			b.Fatal(err, created)
		}
	}
}

func BenchmarkGetSubmission(b *testing.B) {
	s := open(b, dbName(), Options{}, true)
	ctx := context.Background()
	var refs []string
	for i := 0; i < 1000; i++ {
		sub, _, err := s.Submit(ctx, benchReq(i))
		if err != nil {
			b.Fatal(err)
		}
		refs = append(refs, sub.Ref)
	}
	for i := 0; b.Loop(); i++ {
		if _, err := s.GetSubmission(ctx, "ffm", refs[i%len(refs)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInboxScan measures the inbox query (tenant/office/status,
// newest first, limit 50) on FerretDB without the in-memory case index —
// what a store that is not the only writer does there (several clients
// in tests): a scan, growing with the collection. The embedded server
// uses the index (BenchmarkScale); MongoDB serves the query from the
// declared inbox index. Sizes up to AMTSFORM_BENCH_INBOX_MAX (default
// 1000, so that 'go test -bench .' stays short).
// Run with: go test -run - -bench InboxScan -benchtime 1x ./engine/mongostore
func BenchmarkInboxScan(b *testing.B) {
	maxDocs := 1000
	if v, err := strconv.Atoi(os.Getenv("AMTSFORM_BENCH_INBOX_MAX")); err == nil && v > 0 {
		maxDocs = v
	}
	s := open(b, dbName(), Options{OpTimeout: 5 * time.Minute}, true)
	ctx := context.Background()
	offices := []string{"jugendamt-frankfurt", "jugendamt-kreis", "sozialamt", "buergeramt"}
	statuses := []string{"submitted", "in_review", "waiting", "done"}
	have := 0
	fill := func(n int) {
		for have < n {
			batch := min(500, n-have)
			docs := make([]any, batch)
			for j := range docs {
				i := have + j
				ref := FormatRef("KITA", 2026, int64(i+1))
				docs[j] = submissionDoc{
					ID: subID("ffm", ref), Ref: ref, Tenant: "ffm", Service: serviceDoc{ID: "kita-gebuehren", Version: "1.0.0", Hash: "h"},
					Data: benchData(i), Computed: computedList(map[string]any{"coveredFee": int64(41050)}),
					Office: offices[i%len(offices)], Status: statuses[(i/4)%len(statuses)],
					Created: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute),
					Version: 1, Idem: "id/" + ref, PayloadHash: "h", Events: []eventDoc{},
				}
			}
			if _, err := s.subs.InsertMany(ctx, docs); err != nil {
				b.Fatal(err)
			}
			have += batch
		}
	}
	q := record.InboxQuery{Tenant: "ffm", Office: "jugendamt-frankfurt", Status: []string{"submitted", "in_review"}, Limit: 50}
	for _, n := range []int{100, 250, 500, 750, 1000, 2000, 5000, 10000, 20000, 50000} {
		if n > maxDocs {
			break
		}
		fill(n)
		var lat []time.Duration
		for r := 0; r < 5; r++ {
			t0 := time.Now()
			rows, err := s.ListSubmissions(ctx, q)
			if err != nil {
				b.Fatal(err)
			}
			if len(rows) == 0 || (n >= 1000 && len(rows) != 50) {
				b.Fatalf("%d rows", len(rows))
			}
			lat = append(lat, time.Since(t0))
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		med := lat[len(lat)/2]
		t0 := time.Now()
		const gets = 50
		for g := 0; g < gets; g++ {
			if _, err := s.GetSubmission(ctx, "ffm", FormatRef("KITA", 2026, int64(1+(g*7919)%n))); err != nil {
				b.Fatal(err)
			}
		}
		get := time.Since(t0) / gets
		b.Logf("%6d submissions: inbox median %v (min %v, max %v); get by reference %v",
			n, med.Round(time.Millisecond), lat[0].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond), get.Round(10*time.Microsecond))
		b.ReportMetric(float64(med.Milliseconds()), fmt.Sprintf("inbox-ms@%d", n))
	}
	for b.Loop() {
	}
}
