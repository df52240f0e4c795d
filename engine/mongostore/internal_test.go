package mongostore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/amtsform/amtsform/engine/mongostore/embedded"
	"github.com/amtsform/amtsform/engine/record"
	"github.com/amtsform/amtsform/engine/storetest"
)

func tctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestCrashRepair simulates a crash after a status change (whose event is
// written atomically into the submission's outbox) but before the event
// was copied to the submission's log: the next Open finds and copies it.
func TestCrashRepair(t *testing.T) {
	ctx := tctx(t)
	db := dbName()
	crashed := open(t, db, Options{disableEventCopy: true}, true)
	req := &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: record.ServiceRef{ID: "kita"}, Data: map[string]any{"a": int64(1)}, Office: "amt"}
	sub, _, err := crashed.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := crashed.UpdateSubmission(ctx, "ffm", sub.Ref, 1, record.SubmissionChange{Status: "in_review"}); err != nil {
		t.Fatal(err)
	}
	before, err := crashed.Events(ctx, "ffm", sub.Ref)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := crashed.events.CountDocuments(ctx, bson.D{}); n != 0 || len(before) != 3 {
		t.Fatalf("before repair: %d event logs, %d events visible; want 0 and 3", n, len(before))
	}
	restarted := open(t, db, Options{}, false) // Open repairs
	var log eventLogDoc
	if err := restarted.events.FindOne(ctx, bson.D{{Key: "_id", Value: subID("ffm", sub.Ref)}}).Decode(&log); err != nil || len(log.Events) != 1 || log.Events[0].Type != record.EventStatusChanged {
		t.Fatalf("after repair: log %#v (%v), want the status change", log.Events, err)
	}
	var doc submissionDoc
	if err := restarted.subs.FindOne(ctx, bson.D{{Key: "_id", Value: subID("ffm", sub.Ref)}}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.Pending || len(doc.Outbox) != 0 || len(doc.Events) != 2 {
		t.Fatalf("after repair: pending=%v outbox=%d first events=%d", doc.Pending, len(doc.Outbox), len(doc.Events))
	}
	after, err := restarted.Events(ctx, "ffm", sub.Ref)
	if err != nil || !reflect.DeepEqual(before, after) {
		t.Fatalf("events changed by repair: %v\n%#v\n%#v", err, before, after)
	}
	// Repairing again is a no-op.
	if n, err := restarted.RepairEvents(ctx); err != nil || n != 0 {
		t.Fatalf("second repair: %d %v", n, err)
	}
}

// TestRestart writes through an embedded server, stops it, starts a new
// one on the same directory and reads everything back.
func TestRestart(t *testing.T) {
	ctx := tctx(t)
	dir := t.TempDir()
	start := func() (*embedded.Server, *Store) {
		srv, err := embedded.Start(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		s, err := Connect(ctx, srv.URI(), Options{Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		return srv, s
	}
	srv, s := start()
	if _, err := embedded.Start(dir, nil); err == nil {
		t.Fatal("second server on the same data directory started")
	}
	d := &record.Draft{Tenant: "ffm", Service: record.ServiceRef{ID: "kita"}, Data: map[string]any{"x": "ä€"}, Expires: time.Now().Add(time.Hour)}
	if err := s.CreateDraft(ctx, d); err != nil {
		t.Fatal(err)
	}
	content := storetest.PDF(400 << 10)
	f, err := s.PutFile(ctx, "ffm", d.ID, "a.pdf", bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	sub, _, err := s.Submit(ctx, &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: record.ServiceRef{ID: "kita"},
		Data: map[string]any{"income": int64(123456), "f": 1.5}, AttachmentIDs: []string{f.ID}, IdempotencyKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := s.Events(ctx, "ffm", sub.Ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}

	srv, s = start()
	defer srv.Stop()
	defer s.Close(ctx)
	d2, err := s.GetDraft(ctx, "ffm", d.ID)
	if err != nil || !reflect.DeepEqual(d2, d) {
		t.Fatalf("draft after restart: %v\n%#v\n%#v", err, d2, d)
	}
	sub2, err := s.GetSubmission(ctx, "ffm", sub.Ref)
	if err != nil || !reflect.DeepEqual(sub2, sub) {
		t.Fatalf("submission after restart: %v\n%#v\n%#v", err, sub2, sub)
	}
	evs2, err := s.Events(ctx, "ffm", sub.Ref)
	if err != nil || !reflect.DeepEqual(evs2, evs) {
		t.Fatalf("events after restart: %v", err)
	}
	rc, _, err := s.OpenFile(ctx, "ffm", f.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, content) {
		t.Fatal("file differs after restart")
	}
	// The reference counter survived: a new submission gets a new number.
	sub3, created, err := s.Submit(ctx, &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: record.ServiceRef{ID: "kita"}, Data: map[string]any{}})
	if err != nil || !created || sub3.Ref == sub.Ref {
		t.Fatalf("submit after restart: %v %v %s", err, created, sub3.Ref)
	}
	// So did the idempotency index.
	if _, created, err := s.Submit(ctx, &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: record.ServiceRef{ID: "kita"},
		Data: map[string]any{"income": int64(123456), "f": 1.5}, AttachmentIDs: []string{f.ID}, IdempotencyKey: "k"}); err != nil || created {
		t.Fatalf("replay after restart: created=%v %v", created, err)
	}
}

// patternReader produces n pseudo-random bytes starting with a PDF header
// without holding them in memory.
type patternReader struct {
	n, off int64
	x      uint64
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n-r.off {
		p = p[:r.n-r.off]
	}
	for i := range p {
		if r.off < 8 {
			p[i] = "%PDF-1.7"[r.off]
		} else {
			r.x = r.x*6364136223846793005 + 1442695040888963407
			p[i] = byte(r.x >> 56)
		}
		r.off++
	}
	return len(p), nil
}

// heapPeak samples HeapAlloc until stop is closed.
func heapPeak(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		var peak uint64
		var ms runtime.MemStats
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
			select {
			case <-stop:
				out <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

// TestLargeFileStreams round-trips a 20 MiB attachment and checks that
// the heap never grows by more than 8 MiB on the way, on the client and
// (for the embedded store) the in-process server together.
func TestLargeFileStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("20 MiB round trip")
	}
	const size = 20 << 20
	ctx := tctx(t)
	s := open(t, dbName(), Options{MaxFileBytes: size, MaxSubmissionBytes: size}, true)
	// A lower GC target keeps garbage from posing as retained memory; a
	// 16 MiB buffer anywhere on the path would still show.
	defer debug.SetGCPercent(debug.SetGCPercent(25))
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	stop := make(chan struct{})
	peakc := heapPeak(stop)

	a, err := s.PutFile(ctx, "ffm", record.NewToken(), "scan.pdf", &patternReader{n: size})
	if err != nil {
		close(stop)
		t.Fatal(err)
	}
	rc, _, err := s.OpenFile(ctx, "ffm", a.ID)
	if err != nil {
		close(stop)
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, rc)
	rc.Close()
	close(stop)
	peak := <-peakc
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.New()
	io.Copy(want, &patternReader{n: size})
	if n != size || !bytes.Equal(h.Sum(nil), want.Sum(nil)) || a.SHA256 != hexSum(want) {
		t.Fatalf("round trip: %d bytes, hash match %v", n, bytes.Equal(h.Sum(nil), want.Sum(nil)))
	}
	growth := int64(peak) - int64(base)
	t.Logf("20 MiB round trip: heap base %.1f MiB, peak growth %.2f MiB", float64(base)/(1<<20), float64(growth)/(1<<20))
	if growth > 8<<20 {
		t.Fatalf("heap grew by %.1f MiB during a 20 MiB round trip; want < 8 MiB", float64(growth)/(1<<20))
	}
}

func hexSum(h interface{ Sum([]byte) []byte }) string {
	const hexd = "0123456789abcdef"
	b := h.Sum(nil)
	out := make([]byte, 2*len(b))
	for i, c := range b {
		out[2*i], out[2*i+1] = hexd[c>>4], hexd[c&15]
	}
	return string(out)
}

// TestFerretDBConditionalUpdatesNeedLocks documents why conditional
// updates are serialised in-process: without the lock, FerretDB v1 lets
// several findOneAndUpdate calls with the same version filter succeed.
// On MongoDB exactly one wins either way.
func TestConditionalUpdateWithoutLock(t *testing.T) {
	ctx := tctx(t)
	s := open(t, dbName(), Options{}, true)
	if _, err := s.drafts.InsertOne(ctx, bson.D{{Key: "_id", Value: "d"}, {Key: "version", Value: int64(1)}}); err != nil {
		t.Fatal(err)
	}
	var wins atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.drafts.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: "d"}, {Key: "version", Value: int64(1)}},
				bson.D{{Key: "$inc", Value: bson.D{{Key: "version", Value: int64(1)}}}}).Err()
			if err == nil {
				wins.Add(1)
			} else if !errors.Is(err, context.Canceled) && !isNoDocs(err) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	t.Logf("unlocked findOneAndUpdate with the same version filter: %d of 20 succeeded (MongoDB: 1)", wins.Load())
}

// TestDeleteSubmissionResumes simulates a crash in the middle of a
// retention deletion (tombstone written, submission and file still
// there): the next attempt finishes and keeps the first tombstone.
func TestDeleteSubmissionResumes(t *testing.T) {
	ctx := tctx(t)
	s := open(t, dbName(), Options{}, true)
	f, err := s.PutFile(ctx, "ffm", record.NewToken(), "a.pdf", bytes.NewReader(storetest.PDF(300<<10)))
	if err != nil {
		t.Fatal(err)
	}
	sub, _, err := s.Submit(ctx, &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: record.ServiceRef{ID: "kita"},
		Data: map[string]any{"name": "Erika"}, AttachmentIDs: []string{f.ID}})
	if err != nil {
		t.Fatal(err)
	}
	sid := subID("ffm", sub.Ref)
	first := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tomb := eventDoc{ID: tombstoneID(sid), Tenant: "ffm", Submission: sid, Ref: sub.Ref, Type: record.EventDeleted, At: first, Actor: "system",
		Data: map[string]any{"reason": "retention"}}
	if _, err := s.events.InsertOne(ctx, eventLogDoc{ID: sid, Tenant: "ffm", Ref: sub.Ref, Events: []eventDoc{}, Deleted: &tomb}); err != nil {
		t.Fatal(err)
	}
	// "crash": submission and file are still there; then a caseworker
	// changed it. The deletion begun is finished all the same.
	if _, err := s.UpdateSubmission(ctx, "ffm", sub.Ref, sub.Version, record.SubmissionChange{Status: "in_review", Actor: "sb"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSubmission(ctx, "ffm", sub.Ref, "retention", first.Add(time.Hour), sub.Created.Add(time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSubmission(ctx, "ffm", sub.Ref); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("submission: %v", err)
	}
	if _, _, err := s.OpenFile(ctx, "ffm", f.ID); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("file: %v", err)
	}
	if n, _ := s.chunks.CountDocuments(ctx, bson.D{}); n != 0 {
		t.Fatalf("%d chunks left", n)
	}
	evs, err := s.Events(ctx, "ffm", sub.Ref)
	if err != nil || len(evs) != 1 || !evs[0].At.Equal(first) {
		t.Fatalf("tombstone: %v %#v", err, evs)
	}
	if err := s.DeleteSubmission(ctx, "ffm", sub.Ref, "retention", time.Time{}, time.Time{}); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("deleting again: %v", err)
	}
}

// TestIdempotencyClaims covers the two states a crash or old data can
// leave: a claim without its submission (the writer died between the two
// inserts) and a submission without its claim (written before claims
// existed). Both end in exactly one submission per key.
func TestIdempotencyClaims(t *testing.T) {
	ctx := tctx(t)
	s := open(t, dbName(), Options{}, true)
	req := func() *record.SubmitRequest {
		return &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: record.ServiceRef{ID: "kita"},
			Data: map[string]any{"a": int64(1)}, IdempotencyKey: "k1"}
	}
	// orphan claim
	if _, err := s.idem.InsertOne(ctx, claimDoc{ID: idemValue("ffm", "k1", ""), Sub: "ffm/KITA-2026-999999", At: now()}); err != nil {
		t.Fatal(err)
	}
	first, created, err := s.Submit(ctx, req())
	if err != nil || !created {
		t.Fatalf("submit over an orphan claim: %v created=%v", err, created)
	}
	again, created, err := s.Submit(ctx, req())
	if err != nil || created || again.Ref != first.Ref {
		t.Fatalf("replay after takeover: %v created=%v ref %s want %s", err, created, again.Ref, first.Ref)
	}
	// submission without claim
	if _, err := s.idem.DeleteOne(ctx, bson.D{{Key: "_id", Value: idemValue("ffm", "k1", "")}}); err != nil {
		t.Fatal(err)
	}
	again, created, err = s.Submit(ctx, req())
	if err != nil || created || again.Ref != first.Ref {
		t.Fatalf("replay without claim: %v created=%v ref %s want %s", err, created, again.Ref, first.Ref)
	}
	var c claimDoc
	if err := s.idem.FindOne(ctx, bson.D{{Key: "_id", Value: idemValue("ffm", "k1", "")}}).Decode(&c); err != nil || c.Sub != subID("ffm", first.Ref) {
		t.Fatalf("claim not repaired: %v %+v", err, c)
	}
	// deleting the submission drops its claim
	if err := s.DeleteSubmission(ctx, "ffm", first.Ref, "test", time.Time{}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.idem.CountDocuments(ctx, bson.D{}); n != 0 {
		t.Fatalf("%d claims left after deletion", n)
	}
}

// TestDraftExpiryBuckets follows drafts through the hourly expiry
// buckets: an extended draft moves to its later bucket, and buckets are
// gone once everything in them is handled.
func TestDraftExpiryBuckets(t *testing.T) {
	ctx := tctx(t)
	s := open(t, dbName(), Options{}, true)
	t0 := time.Now().UTC()
	a := &record.Draft{Tenant: "ffm", Service: record.ServiceRef{ID: "kita"}, Data: map[string]any{}, Expires: t0.Add(2 * time.Hour)}
	b := &record.Draft{Tenant: "ffm", Service: record.ServiceRef{ID: "kita"}, Data: map[string]any{}, Expires: t0.Add(2 * time.Hour)}
	for _, d := range []*record.Draft{a, b} {
		if err := s.CreateDraft(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	b.Expires = t0.Add(5 * time.Hour)
	if err := s.UpdateDraft(ctx, b); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		at   time.Duration
		want int
	}{{0, 0}, {3 * time.Hour, 1}, {4 * time.Hour, 0}, {6 * time.Hour, 1}, {9 * time.Hour, 0}} {
		n, err := s.DeleteExpiredDrafts(ctx, t0.Add(step.at))
		if err != nil || n != step.want {
			t.Fatalf("sweep at +%v: %d deleted (%v), want %d", step.at, n, err, step.want)
		}
	}
	if _, err := s.GetDraft(ctx, "ffm", a.ID); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("draft a: %v", err)
	}
	if n, _ := s.due.CountDocuments(ctx, bson.D{}); n != 1 {
		t.Fatalf("%d due documents left, want only the cursor", n)
	}
}

// TestCaseIndexAfterCrash writes through a store with the case index,
// takes a snapshot halfway, then "crashes" in the three places a write
// can be cut short: after the marker (nothing written), after the
// database write (memory not updated) and before any snapshot of the
// last writes. A store opened afterwards must hold exactly the rows a
// full scan gives, and answer inbox queries like the query path does.
func TestCaseIndexAfterCrash(t *testing.T) {
	ctx := tctx(t)
	db := dbName()
	s := open(t, db, Options{ExclusiveDrafts: true}, true)
	offices := []string{"amt-a", "amt-b", "amt-c"}
	var refs []string
	write := func(from, to int) {
		for i := from; i < to; i++ {
			r := &record.SubmitRequest{Tenant: []string{"ffm", "of"}[i%2], Prefix: "KITA", Service: record.ServiceRef{ID: "kita"},
				Data: map[string]any{"i": int64(i)}, Office: offices[i%3], At: time.Now().Add(time.Duration(i) * time.Second)}
			if i%5 == 0 {
				r.Office = "" // not routed
			}
			if i%4 == 0 {
				r.IdempotencyKey = fmt.Sprintf("k%d", i)
			}
			sub, _, err := s.Submit(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			refs = append(refs, sub.Tenant+"/"+sub.Ref)
			if i%3 == 1 {
				if _, err := s.UpdateSubmission(ctx, sub.Tenant, sub.Ref, 1, record.SubmissionChange{Status: "in_review", Office: offices[(i+1)%3]}); err != nil {
					t.Fatal(err)
				}
			}
			if i%7 == 6 {
				if err := s.DeleteSubmission(ctx, sub.Tenant, sub.Ref, "test", time.Time{}, time.Time{}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	write(0, 40)
	if err := s.snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	write(40, 70)
	// crash after the marker, before the write
	if err := s.mark(ctx, "ffm/KITA-2026-999999"); err != nil {
		t.Fatal(err)
	}
	// crash after the write, before the memory update
	if err := s.mark(ctx, refs[3]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.subs.UpdateOne(ctx, bson.D{{Key: "_id", Value: refs[3]}}, bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: "done"}, {Key: "office", Value: "amt-z"}}}}); err != nil {
		t.Fatal(err)
	}
	// reopen without Close
	s2 := open(t, db, Options{ExclusiveDrafts: true}, false)
	want, err := s2.scanCases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s2.cases.mu.RLock()
	got := s2.cases.rows
	if !reflect.DeepEqual(got, want) {
		for id, w := range want {
			if !reflect.DeepEqual(got[id], w) {
				t.Errorf("%s: index %+v, scan %+v", id, got[id], w)
			}
		}
		t.Fatalf("index has %d rows, scan %d", len(got), len(want))
	}
	s2.cases.mu.RUnlock()
	if r := got[refs[3]]; r.Status != "done" || r.Office != "amt-z" {
		t.Fatalf("row written before the crash: %+v", r)
	}
	plain := open(t, db, Options{}, false) // the query path
	for _, q := range []record.InboxQuery{
		{Tenant: "ffm"}, {Tenant: "of", Limit: 7, Skip: 3}, {Tenant: "ffm", Office: "amt-b"},
		{Tenant: "ffm", Status: []string{"in_review", "submitted"}, Limit: 5, Skip: 2},
		{Tenant: "of", Office: "amt-c", Status: []string{"in_review"}}, {Tenant: "ffm", Office: "amt-z", Status: []string{"done"}},
	} {
		a, err := s2.ListSubmissions(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		b, err := plain.ListSubmissions(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("query %+v: index gives %d rows, query %d\n%+v\n%+v", q, len(a), len(b), a, b)
		}
	}
	// A store without the index writes no markers for submits; it
	// invalidates the snapshot, so the next store with the index scans.
	if _, _, err := plain.Submit(ctx, &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: record.ServiceRef{ID: "kita"}, Data: map[string]any{}}); err != nil {
		t.Fatal(err)
	}
	s3 := open(t, db, Options{ExclusiveDrafts: true}, false)
	want, err = s3.scanCases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s3.cases.mu.RLock()
	defer s3.cases.mu.RUnlock()
	if !reflect.DeepEqual(s3.cases.rows, want) {
		t.Fatalf("after a write without the index: index has %d rows, scan %d", len(s3.cases.rows), len(want))
	}
}

// TestUpgradeFromVersion1 opens a database as schema version 1 left it: a
// submission with an uncopied event and no change marker, a keyed
// submission without idempotency claim, an expired draft without due
// bucket, and no case index snapshot. The first Open and sweep find all
// of them once.
func TestUpgradeFromVersion1(t *testing.T) {
	ctx := tctx(t)
	db := dbName()
	s := open(t, db, Options{}, true)
	at := now().Add(-time.Hour)
	ref := FormatRef("KITA", 2026, 1)
	sid := subID("ffm", ref)
	ev := eventDoc{ID: eventID(sid, at, 0), Tenant: "ffm", Submission: sid, Ref: ref, Type: record.EventStatusChanged, At: at, Actor: "sb",
		Data: map[string]any{"from": "submitted", "to": "in_review"}}
	old := submissionDoc{ID: sid, Ref: ref, Tenant: "ffm", Service: serviceDoc{ID: "kita"}, Data: map[string]any{"a": int64(1)},
		Status: "in_review", Created: at, Updated: at, Version: 2, IdemKey: "old-key", Idem: idemValue("ffm", "old-key", sid),
		PayloadHash: record.HashPayload("kita", map[string]any{"a": int64(1)}, []string(nil)), Events: []eventDoc{}, Outbox: []eventDoc{ev}, Pending: true}
	if _, err := s.subs.InsertOne(ctx, old); err != nil {
		t.Fatal(err)
	}
	if _, err := s.drafts.InsertOne(ctx, draftDoc{ID: "old-draft", Tenant: "ffm", Data: map[string]any{}, Created: at, Updated: at, Expires: at, Version: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.caseIdx.DeleteMany(ctx, bson.D{}); err != nil { // no schema version, no snapshot
		t.Fatal(err)
	}
	if _, err := s.due.DeleteMany(ctx, bson.D{}); err != nil { // no sweeper cursor
		t.Fatal(err)
	}
	s2 := open(t, db, Options{ExclusiveDrafts: true}, false)
	evs, err := s2.Events(ctx, "ffm", ref)
	if err != nil || len(evs) != 1 {
		t.Fatalf("events: %v %+v", err, evs)
	}
	var log eventLogDoc
	if err := s2.events.FindOne(ctx, bson.D{{Key: "_id", Value: sid}}).Decode(&log); err != nil || len(log.Events) != 1 {
		t.Fatalf("event not copied by the upgrade: %v %+v", err, log)
	}
	rows, err := s2.ListSubmissions(ctx, record.InboxQuery{Tenant: "ffm", Status: []string{"in_review"}})
	if err != nil || len(rows) != 1 || rows[0].Ref != ref {
		t.Fatalf("case index after upgrade: %v %+v", err, rows)
	}
	sub, created, err := s2.Submit(ctx, &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: record.ServiceRef{ID: "kita"},
		Data: map[string]any{"a": int64(1)}, IdempotencyKey: "old-key"})
	if err != nil || created || sub.Ref != ref {
		t.Fatalf("replay of a version 1 key: %v created=%v %+v", err, created, sub)
	}
	n, err := s2.DeleteExpiredDrafts(ctx, now())
	if err != nil || n != 1 {
		t.Fatalf("first sweep of version 1 drafts: %d %v", n, err)
	}
}

// TestUnclearInsertKeepsJobs: an insert that failed without saying
// whether it was applied (a deadline hit while the server wrote it) must
// not lose the submission's delivery jobs on the only writer, which
// otherwise looks for jobs left in submissions once per start. Stored:
// its jobs are due at once. Not found (the write may still land): the
// next poll looks again and finds them once it has landed.
func TestUnclearInsertKeepsJobs(t *testing.T) {
	ctx := tctx(t)
	s := open(t, dbName(), Options{ExclusiveDrafts: true}, true)
	if s.cases == nil {
		t.Skip("only the embedded store looks for leftovers once per start")
	}
	req := func(ref string) (*record.SubmitRequest, submissionDoc) {
		r := &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: record.ServiceRef{ID: "kita"},
			Data: map[string]any{"name": "x"}, Jobs: []record.DeliveryJob{{Destination: "fv", Kind: "webhook"}}}
		at := now()
		sid := subID("ffm", ref)
		return r, submissionDoc{ID: sid, Ref: ref, Tenant: "ffm", Service: toServiceDoc(r.Service), Data: r.Data,
			Status: "eingegangen", Created: at, Updated: at, Version: 1, Idem: idemValue("ffm", "", sid),
			Events: []eventDoc{}, Outbox: []eventDoc{}, Jobs: newJobDocs(r, sid, ref, at)}
	}
	if _, _, err := s.Submit(ctx, func() *record.SubmitRequest { r, _ := req(""); return r }()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DueDeliveries(ctx, time.Now(), 100); err != nil { // the look at start
		t.Fatal(err)
	}
	isDue := func(ref string) bool {
		t.Helper()
		due, err := s.DueDeliveries(ctx, time.Now().Add(time.Minute), 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range due {
			if j.ID == record.DeliveryJobID("ffm", ref, "fv") {
				return true
			}
		}
		return false
	}

	// Applied, then the error.
	_, applied := req("KITA-2026-900001")
	if _, err := s.subs.InsertOne(ctx, &applied); err != nil {
		t.Fatal(err)
	}
	if isDue(applied.Ref) {
		t.Fatal("test broken: a raw insert's jobs are due without a look")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel() // the request's context is gone by then
	s.unclearInsert(cctx, &applied)
	if !isDue(applied.Ref) {
		t.Errorf("the jobs of a stored submission whose insert reported an error are not due")
	}

	// Not (yet) applied when looked at, landing later.
	_, late := req("KITA-2026-900002")
	s.unclearInsert(ctx, &late)
	if _, err := s.subs.InsertOne(ctx, &late); err != nil {
		t.Fatal(err)
	}
	if !isDue(late.Ref) {
		t.Errorf("the jobs of a submission whose insert landed after the error are not due")
	}
}

// TestDraftFilesNotLost: deleting a draft (by the citizen or at expiry)
// removes its files, but not one a submit is attaching right then (the
// link is written before the submission's insert), and not before it
// can tell; and a removal cut short is finished by the sweeper.
func TestDraftFilesNotLost(t *testing.T) {
	ctx := tctx(t)
	s := open(t, dbName(), Options{}, true)
	t0 := time.Now().UTC()
	draft := func() (*record.Draft, *record.Attachment) {
		t.Helper()
		d := &record.Draft{Tenant: "ffm", Service: record.ServiceRef{ID: "kita"}, Data: map[string]any{}, Expires: t0.Add(2 * time.Hour)}
		if err := s.CreateDraft(ctx, d); err != nil {
			t.Fatal(err)
		}
		f, err := s.PutFile(ctx, "ffm", d.ID, "a.pdf", bytes.NewReader(storetest.PDF(1<<10)))
		if err != nil {
			t.Fatal(err)
		}
		return d, f
	}
	stored := func(id string) bool {
		t.Helper()
		_, err := s.getFile(ctx, "ffm", id)
		if err != nil && !errors.Is(err, record.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	sweep := func(at time.Duration) {
		t.Helper()
		if _, err := s.DeleteExpiredDrafts(ctx, t0.Add(at)); err != nil {
			t.Fatal(err)
		}
	}

	// A submit has linked the file and not inserted yet, when the draft
	// is deleted: the file stays; once the insert landed, it is the
	// submission's.
	d1, f1 := draft()
	sid := subID("ffm", "KITA-2026-990001")
	if err := s.linkFiles(ctx, "ffm", []attachmentDoc{{ID: f1.ID}}, sid); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteDraft(ctx, "ffm", d1.ID); err != nil {
		t.Fatal(err)
	}
	if !stored(f1.ID) {
		t.Fatal("a file being attached was removed with its draft")
	}
	sweep(3 * time.Hour)
	if !stored(f1.ID) {
		t.Fatal("a file being attached was removed by the sweeper")
	}
	if _, err := s.subs.InsertOne(ctx, bson.D{{Key: "_id", Value: sid}, {Key: "tenant", Value: "ffm"}}); err != nil {
		t.Fatal(err)
	}

	// A submit linked the file long ago and its insert never came: the
	// file is the draft's again and goes with it.
	d2, f2 := draft()
	if err := s.linkFiles(ctx, "ffm", []attachmentDoc{{ID: f2.ID}}, subID("ffm", "KITA-2026-990002")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.files.UpdateOne(ctx, bson.D{{Key: "_id", Value: f2.ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "metadata.linkedUntil", Value: now().Add(-time.Second)}}}}); err != nil {
		t.Fatal(err)
	}

	// The draft was deleted and the removal of its files was cut short.
	d3, f3 := draft()
	if _, err := s.drafts.DeleteOne(ctx, bson.D{{Key: "_id", Value: d3.ID}}); err != nil {
		t.Fatal(err)
	}

	sweep(4 * time.Hour)
	sweep(5 * time.Hour)
	if !stored(f1.ID) {
		t.Error("the file of a stored submission was removed")
	}
	if stored(f2.ID) {
		t.Error("a file whose submission never came outlived its expired draft")
	}
	if stored(f3.ID) {
		t.Error("the files of a deleted draft were not removed by the sweeper")
	}
	if _, err := s.GetDraft(ctx, "ffm", d2.ID); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("draft 2 after expiry: %v", err)
	}
	for _, owner := range []string{d1.ID, d2.ID, d3.ID} {
		if n, _ := s.owners.CountDocuments(ctx, bson.D{{Key: "_id", Value: owner}}); n != 0 {
			t.Errorf("owner record of draft %s left", owner)
		}
	}
	if n, _ := s.due.CountDocuments(ctx, bson.D{}); n != 1 {
		t.Errorf("%d due documents left, want only the cursor", n)
	}
}

// TestFileRemovalOrLink: across instances, whose locks do not reach each
// other, either a submit's link or a removal of the file wins: a removal
// decided on a copy read before the link is not made, and a file being
// removed cannot be linked.
func TestFileRemovalOrLink(t *testing.T) {
	ctx := tctx(t)
	s := open(t, dbName(), Options{}, true)
	put := func() *fileDoc {
		t.Helper()
		f, err := s.PutFile(ctx, "ffm", "draft", "a.pdf", bytes.NewReader(storetest.PDF(1<<10)))
		if err != nil {
			t.Fatal(err)
		}
		fd, err := s.getFile(ctx, "ffm", f.ID)
		if err != nil {
			t.Fatal(err)
		}
		return fd
	}
	stale := put() // read by the deleting instance, unlinked
	if err := s.linkFiles(ctx, "ffm", []attachmentDoc{{ID: stale.ID}}, subID("ffm", "KITA-2026-990010")); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.claimRemoval(ctx, stale); err != nil || ok {
		t.Fatalf("removal of a file linked since it was read: claimed %v, %v", ok, err)
	}
	fd := put()
	if ok, err := s.claimRemoval(ctx, fd); err != nil || !ok {
		t.Fatalf("removal of an unlinked file: claimed %v, %v", ok, err)
	}
	if err := s.linkFiles(ctx, "ffm", []attachmentDoc{{ID: fd.ID}}, subID("ffm", "KITA-2026-990011")); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("link of a file being removed: %v", err)
	}
	if _, err := s.getFile(ctx, "ffm", fd.ID); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("a file being removed is still found: %v", err)
	}
	// The removal was cut short after the claim: deleting the file again
	// finishes it.
	if err := s.DeleteFile(ctx, "ffm", fd.ID); err != nil {
		t.Fatalf("finishing a removal cut short: %v", err)
	}
	if n, _ := s.files.CountDocuments(ctx, bson.D{{Key: "_id", Value: fd.ID}}); n != 0 {
		t.Fatal("the file whose removal was cut short is still stored")
	}

	// A submit that resumes the same submission links the file again
	// after the first link ran out: a removal decided on the old link
	// is not made.
	sid := subID("ffm", "KITA-2026-990012")
	old := put()
	if err := s.linkFiles(ctx, "ffm", []attachmentDoc{{ID: old.ID}}, sid); err != nil {
		t.Fatal(err)
	}
	if _, err := s.files.UpdateOne(ctx, bson.D{{Key: "_id", Value: old.ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "metadata.linkedUntil", Value: now().Add(-time.Second)}}}}); err != nil {
		t.Fatal(err)
	}
	stale, err := s.getFile(ctx, "ffm", old.ID) // read by the deleting instance: link ran out
	if err != nil {
		t.Fatal(err)
	}
	if err := s.linkFiles(ctx, "ffm", []attachmentDoc{{ID: old.ID}}, sid); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.claimRemoval(ctx, stale); err != nil || ok {
		t.Fatalf("removal of a file linked again to the same submission: claimed %v, %v", ok, err)
	}

	// A removal claimed between a submit's read of the file and its
	// link: the link is refused.
	raced := put()
	beforeLink = func(id string) {
		fd, err := s.getFile(ctx, "ffm", id)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := s.claimRemoval(ctx, fd); err != nil || !ok {
			t.Fatalf("claim: %v %v", ok, err)
		}
	}
	defer func() { beforeLink = nil }()
	if err := s.linkFiles(ctx, "ffm", []attachmentDoc{{ID: raced.ID}}, subID("ffm", "KITA-2026-990013")); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("link of a file whose removal was claimed meanwhile: %v", err)
	}
}

// TestDeletionClaimed: once retention claimed a submission's deletion and
// the deletion was cut short, the submission is no longer found and
// cannot be changed, stays listed as due, and the next run finishes it.
func TestDeletionClaimed(t *testing.T) {
	ctx := tctx(t)
	s := open(t, dbName(), Options{}, true)
	sub, _, err := s.Submit(ctx, &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: record.ServiceRef{ID: "kita"},
		Data: map[string]any{"name": "Erika"}, At: time.Now().Add(-48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	cutoff := time.Now().Add(-24 * time.Hour)
	// The claim as deleteSubmission writes it, then the "crash".
	if _, err := s.subs.UpdateOne(ctx, bson.D{{Key: "_id", Value: subID("ffm", sub.Ref)}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "deleting", Value: true}}}, {Key: "$inc", Value: bson.D{{Key: "version", Value: int64(1)}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSubmission(ctx, "ffm", sub.Ref); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("a submission being deleted is found: %v", err)
	}
	for _, v := range []int64{sub.Version, sub.Version + 1} {
		if _, err := s.UpdateSubmission(ctx, "ffm", sub.Ref, v, record.SubmissionChange{Status: "in_review", Actor: "sb"}); err == nil {
			t.Fatalf("a submission being deleted was changed (version %d)", v)
		}
	}
	keys, err := s.SubmissionsUpdatedBefore(ctx, "kita", cutoff, 10)
	if err != nil || len(keys) != 1 || keys[0].Ref != sub.Ref {
		t.Fatalf("due after the cut: %v %v", keys, err)
	}
	if err := s.AppendEvent(ctx, &record.Event{Tenant: "ffm", Submission: sub.Ref, Type: "note", Actor: "sb"}); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("a note on a submission being deleted: %v", err)
	}
	var buf bytes.Buffer
	if err := s.Export(ctx, record.ExportFilter{Tenant: "ffm"}, &buf); err != nil || strings.Contains(buf.String(), `"kind":"submission"`) {
		t.Fatalf("export of a submission being deleted: %v", err)
	}
	// Finished even if the retention period grew since the claim (the
	// cutoff moved before its last change).
	if err := s.DeleteSubmission(ctx, "ffm", sub.Ref, "retention", time.Now(), sub.Created.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.subs.CountDocuments(ctx, bson.D{{Key: "_id", Value: subID("ffm", sub.Ref)}}); n != 0 {
		t.Fatal("the deletion was not finished")
	}
}
