package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/record"
)

// The submit path through the API (route, parse, validate, route to an
// office, persist, answer) against a plain InsertOne of the same
// validated document on the same embedded store:
//
//	go test -run '^$' -bench 'SubmitAPI|PlainInsert|SubmitRatio' ./api
//
// BenchmarkSubmitRatio measures both in one run, interleaved, and
// reports the ratio and where the time of an API submit goes.

type submitBench struct {
	ts    *testServer
	svc   *engine.Service
	body  []byte
	data  map[string]any // the validated document as stored
	comp  map[string]any
	coll  *mongo.Collection
	n     int
	start time.Time
}

func newSubmitBench(b *testing.B) *submitBench {
	b.Helper()
	ts := newTestServer(b, withConfig(func(c *Config) { c.SubmitRate = 1 << 30 }))
	svc, err := ts.intake.Catalog.Get(testTenant, "kita-gebuehren")
	if err != nil {
		b.Fatal(err)
	}
	doc := kitaDoc()
	doc["children"] = []any{mia, paul}
	doc["email"] = "anna.schaefer@example.org"
	body, _ := json.Marshal(doc)
	parsed, err := engine.ParseDocument(bytes.NewReader(body), engine.DefaultLimits)
	if err != nil {
		b.Fatal(err)
	}
	res := svc.Evaluate(parsed, engine.Options{})
	if !res.Valid() {
		b.Fatal(res.Err())
	}
	sb := &submitBench{ts: ts, svc: svc, body: body, data: res.Data, comp: res.Computed,
		coll: ts.store.Client().Database("amtsform").Collection("bench_plain")}
	// Warm up both paths: collections exist, a reference block is
	// reserved, connections are open, and the _id expression indexes
	// cover the new collection too.
	sb.apiSubmit(b)
	sb.plainInsert(b)
	ctx := context.Background()
	if err := ts.db.IndexIDs(ctx); err != nil {
		b.Fatal(err)
	}
	return sb
}

func (sb *submitBench) apiSubmit(b *testing.B) {
	sb.n++
	req, _ := http.NewRequest("POST", "/api/v1/"+testTenant+"/services/kita-gebuehren/submissions", bytes.NewReader(sb.body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "bench-"+strconv.Itoa(sb.n)+"-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	resp, err := sb.ts.app.Test(req, -1)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		b.Fatalf("status %d", resp.StatusCode)
	}
}

// plainInsert writes what a submission holds, shaped like the store's
// document, with one InsertOne.
func (sb *submitBench) plainInsert(b *testing.B) {
	sb.n++
	now := time.Now().UTC().Truncate(time.Millisecond)
	id := testTenant + "/PLAIN-" + strconv.Itoa(sb.n) + "-" + strconv.FormatInt(now.UnixNano(), 36)
	_, err := sb.coll.InsertOne(context.Background(), bson.D{
		{Key: "_id", Value: id},
		{Key: "tenant", Value: testTenant},
		{Key: "service", Value: bson.D{{Key: "id", Value: sb.svc.ID}, {Key: "version", Value: sb.svc.Version}, {Key: "hash", Value: sb.svc.Hash}}},
		{Key: "data", Value: sb.data},
		{Key: "computed", Value: sb.comp},
		{Key: "office", Value: "jugendamt-main-taunus"},
		{Key: "status", Value: "submitted"},
		{Key: "created", Value: now},
		{Key: "updated", Value: now},
		{Key: "version", Value: int64(1)},
	})
	if err != nil {
		b.Fatal(err)
	}
}

func BenchmarkSubmitAPI(b *testing.B) {
	sb := newSubmitBench(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sb.apiSubmit(b)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

func BenchmarkPlainInsert(b *testing.B) {
	sb := newSubmitBench(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sb.plainInsert(b)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkSubmitRatio interleaves, on one store, an API submit, a plain
// insert, the engine's evaluation alone and the store's Submit alone,
// timing each, and reports the ratio of the API submit to the plain
// insert (target ≤ 1.5) with the parts.
func BenchmarkSubmitRatio(b *testing.B) {
	sb := newSubmitBench(b)
	ctx := context.Background()
	parsed, _ := engine.ParseDocument(bytes.NewReader(sb.body), engine.DefaultLimits)
	// An invalid document takes the whole API path but the store write:
	// what the API adds to the store's Submit.
	invalid := bytes.Replace(sb.body, []byte(`"consent":true`), []byte(`"consent":false`), 1)
	var api, plain, eval, store, nostore time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tn := time.Now()
		req, _ := http.NewRequest("POST", "/api/v1/"+testTenant+"/services/kita-gebuehren/submissions", bytes.NewReader(invalid))
		req.Header.Set("Content-Type", "application/json")
		resp, err := sb.ts.app.Test(req, -1)
		if err != nil || resp.StatusCode != 422 {
			b.Fatalf("invalid submit: %v %v", err, resp)
		}
		resp.Body.Close()
		nostore += time.Since(tn)
		t0 := time.Now()
		sb.apiSubmit(b)
		t1 := time.Now()
		sb.plainInsert(b)
		t2 := time.Now()
		res := sb.svc.Evaluate(parsed, engine.Options{})
		t3 := time.Now()
		_, _, err = sb.ts.store.Submit(ctx, &record.SubmitRequest{
			Tenant: testTenant, Prefix: sb.svc.Reference,
			Service: record.ServiceRef{ID: sb.svc.ID, Version: sb.svc.Version, Hash: sb.svc.Hash},
			Data:    res.Data, Computed: res.Computed, Office: res.Office,
			IdempotencyKey: "bench-store-" + strconv.Itoa(i) + "-" + strconv.FormatInt(t3.UnixNano(), 36),
		})
		if err != nil {
			b.Fatal(err)
		}
		t4 := time.Now()
		api += t1.Sub(t0)
		plain += t2.Sub(t1)
		eval += t3.Sub(t2)
		store += t4.Sub(t3)
	}
	b.StopTimer()
	n := float64(b.N)
	us := func(d time.Duration) float64 { return float64(d.Microseconds()) / n }
	b.ReportMetric(n/api.Seconds(), "api-req/s")
	b.ReportMetric(n/plain.Seconds(), "insert-req/s")
	b.ReportMetric(float64(api)/float64(plain), "ratio")
	b.ReportMetric(us(api), "api-µs")
	b.ReportMetric(us(plain), "insert-µs")
	b.ReportMetric(us(eval), "evaluate-µs")
	b.ReportMetric(us(store), "store-submit-µs")
	b.ReportMetric(us(nostore), "api-without-write-µs")
}
