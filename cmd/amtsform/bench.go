package main

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/amtsform/amtsform/engine/mongostore"
	"github.com/amtsform/amtsform/engine/mongostore/embedded"
	"github.com/amtsform/amtsform/engine/record"
)

// runBench implements 'amtsform bench [--mongodb-uri URI | --data-dir DIR]':
// it fills a scratch database, measures submit throughput and read
// latencies, and drops the database again.
func runBench(args []string, stdout, stderr io.Writer) int {
	fs, sf := newStoreFlags("bench", stderr, "[-n N] [-submits N] [store flags]",
		"Fills a scratch database (a unique name, dropped at the end) and prints submit",
		"throughput at concurrency 1, 4 and 16 and the latency of reads by reference and",
		"inbox pages. The data written is synthetic; nothing else in the database is touched.")
	fill := fs.Int("n", 2000, "submissions stored before measuring")
	submits := fs.Int("submits", 400, "submits per concurrency level")
	if !parseArgs(fs, args, 0) {
		return 2
	}
	if *fill < 1 || *submits < 1 {
		fs.Usage()
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var b [6]byte
	_, _ = crand.Read(b[:])
	dbName := "amtsform_bench_" + hex.EncodeToString(b[:])
	quiet := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts := mongostore.Options{Database: dbName, Logger: quiet, OpTimeout: time.Minute}
	uri, where := sf.uri, "MongoDB "+redact(sf.uri)
	var srv *embedded.Server
	if uri == "" {
		var err error
		if srv, err = embedded.Start(sf.dataDir, nil); err != nil {
			return storeError(stderr, "bench", err)
		}
		defer srv.Stop()
		uri, where = srv.URI(), "embedded FerretDB (SQLite) in "+srv.Dir()
		opts.ExclusiveDrafts = true // as 'amtsform serve' runs it
	}
	// Our own client, so that the database is dropped after the store
	// has closed (which may still write its index snapshot).
	client, err := mongo.Connect(options.Client().ApplyURI(uri).
		SetBSONOptions(&options.BSONOptions{DefaultDocumentMap: true}))
	if err != nil {
		return storeError(stderr, "bench", err)
	}
	s, err := mongostore.Open(ctx, client, opts)
	if err == nil && srv != nil {
		err = srv.IndexIDs(ctx)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if s != nil {
			_ = s.Close(cctx)
		}
		err := client.Database(dbName).Drop(cctx)
		_ = client.Disconnect(cctx)
		if err != nil {
			fmt.Fprintf(stderr, "amtsform bench: drop %s: %v\n", dbName, err)
			return
		}
		fmt.Fprintf(stdout, "dropped scratch database %s\n", dbName)
	}()
	if err != nil {
		return storeError(stderr, "bench", err)
	}
	fmt.Fprintf(stdout, "store: %s, scratch database %s\n", where, dbName)

	var seq atomic.Int64
	var refs []string
	var refsMu sync.Mutex
	submit := func(ctx context.Context) error {
		i := seq.Add(1)
		sub, _, err := s.Submit(ctx, benchRequest(i))
		if err == nil {
			refsMu.Lock()
			refs = append(refs, sub.Ref)
			refsMu.Unlock()
		}
		return err
	}
	t0 := time.Now()
	if err := inParallel(ctx, 16, *fill, submit); err != nil {
		return storeError(stderr, "bench", err)
	}
	fmt.Fprintf(stdout, "filled %d submissions in %v\n\n", *fill, time.Since(t0).Round(time.Millisecond))

	fmt.Fprintln(stdout, "submit (validated ~1 KB document, idempotency key, routed):")
	for _, c := range []int{1, 4, 16} {
		t0 := time.Now()
		if err := inParallel(ctx, c, *submits, submit); err != nil {
			return storeError(stderr, "bench", err)
		}
		d := time.Since(t0)
		fmt.Fprintf(stdout, "  concurrency %2d: %7.0f submits/s\n", c, float64(*submits)/d.Seconds())
	}

	fmt.Fprintf(stdout, "\n%-24s %9s %9s\n", fmt.Sprintf("latency (%d stored)", len(refs)), "p50", "p95")
	get := func(ctx context.Context) error {
		_, err := s.GetSubmission(ctx, "bench", refs[rand.IntN(len(refs))])
		return err
	}
	inbox := func(ctx context.Context) error {
		_, err := s.ListSubmissions(ctx, record.InboxQuery{Tenant: "bench", Office: "jugendamt-frankfurt", Status: []string{"submitted"}, Limit: 50})
		return err
	}
	for _, m := range []struct {
		name string
		n    int
		op   func(context.Context) error
	}{{"read by reference", 400, get}, {"inbox page (50 rows)", 100, inbox}} {
		lat := make([]time.Duration, m.n)
		for i := range lat {
			t0 := time.Now()
			if err := m.op(ctx); err != nil {
				return storeError(stderr, "bench", err)
			}
			lat[i] = time.Since(t0)
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		fmt.Fprintf(stdout, "  %-22s %6.2f ms %6.2f ms\n", m.name, ms(lat[len(lat)/2]), ms(lat[len(lat)*95/100]))
	}
	fmt.Fprintln(stdout)
	return 0
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// inParallel runs op n times on c goroutines and returns the first error.
func inParallel(ctx context.Context, c, n int, op func(context.Context) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var first atomic.Value
	for g := 0; g < c; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) && first.Load() == nil {
				if err := op(ctx); err != nil {
					first.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	wg.Wait()
	if err, ok := first.Load().(error); ok {
		return err
	}
	return ctx.Err()
}

// benchRequest is a synthetic submission shaped like a daycare-fee
// application (no real person's data).
func benchRequest(i int64) *record.SubmitRequest {
	office := []string{"jugendamt-frankfurt", "jugendamt-kreis", "sozialamt"}[i%3]
	return &record.SubmitRequest{
		Tenant: "bench", Prefix: "BENCH", Service: record.ServiceRef{ID: "bench-kita", Version: "1.0.0", Hash: "sha256:bench"},
		Data: map[string]any{
			"applicant": map[string]any{"firstName": "Erika", "lastName": "Beispiel", "birthDate": "1980-01-01",
				"email": "erika@example.org", "phone": "+49 69 0000000"},
			"address": map[string]any{"street": "Musterstraße", "number": "1", "postalCode": "60311", "city": "Frankfurt am Main"},
			"children": []any{
				map[string]any{"name": "Kind A", "birthDate": "2020-03-04", "monthlyFee": int64(23050)},
				map[string]any{"name": "Kind B", "birthDate": "2022-05-06", "monthlyFee": int64(18000)},
			},
			"income": int64(2500000 + i), "consent": true,
			"remarks": "Synthetische Daten für amtsform bench.",
		},
		Computed:       map[string]any{"coveredFee": int64(41050)},
		Office:         office,
		IdempotencyKey: "bench-" + strconv.FormatInt(i, 10),
	}
}
