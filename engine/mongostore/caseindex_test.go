package mongostore

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/amtsform/amtsform/engine/record"
	"github.com/amtsform/amtsform/engine/sweep"
)

// setSnapshotLimits sets snapshotEvery and maxDeltas for a test and
// returns a function restoring them.
func setSnapshotLimits(every, deltas int) func() {
	e, d := snapshotEvery, maxDeltas
	snapshotEvery, maxDeltas = every, deltas
	return func() { snapshotEvery, maxDeltas = e, d }
}

// caseWork writes submissions, status changes and sweeper deletions
// through a store with the case index.
type caseWork struct {
	t    *testing.T
	next int      // submissions written
	refs []string // their references, in order
}

var caseWorkBase = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// submit writes n submissions, created a minute apart, and changes the
// status of every third.
func (w *caseWork) submit(s *Store, n int) {
	w.t.Helper()
	ctx := tctx(w.t)
	for range n {
		i := w.next
		w.next++
		r := &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: record.ServiceRef{ID: "kita"},
			Data: map[string]any{"i": int64(i)}, Office: []string{"amt-a", "amt-b", ""}[i%3],
			At: caseWorkBase.Add(time.Duration(i) * time.Minute), IdempotencyKey: fmt.Sprintf("k%d", i)}
		sub, _, err := s.Submit(ctx, r)
		if err != nil {
			w.t.Fatal(err)
		}
		w.refs = append(w.refs, sub.Ref)
		if i%3 == 1 {
			if _, err := s.UpdateSubmission(ctx, "ffm", sub.Ref, 1, record.SubmissionChange{Status: "in_review", Actor: "sb"}); err != nil {
				w.t.Fatal(err)
			}
		}
	}
}

// touch closes the cases of every fifth submission written so far that
// still exists: changes of rows an earlier snapshot holds.
func (w *caseWork) touch(s *Store) {
	w.t.Helper()
	ctx := tctx(w.t)
	for i := 0; i < len(w.refs); i += 5 {
		sub, err := s.GetSubmission(ctx, "ffm", w.refs[i])
		if errors.Is(err, record.ErrNotFound) {
			continue
		}
		if err != nil {
			w.t.Fatal(err)
		}
		if _, err := s.UpdateSubmission(ctx, "ffm", sub.Ref, sub.Version, record.SubmissionChange{Status: "done", Actor: "sb"}); err != nil {
			w.t.Fatal(err)
		}
	}
}

// sweep runs the sweeper with the submissions created before the upto-th
// past their retention (the unchanged ones among them are deleted).
func (w *caseWork) sweep(s *Store, upto int) {
	w.t.Helper()
	sw := &sweep.Sweeper{Store: s, Holder: "test", Duty: 1,
		Retention: func(string) (time.Duration, bool) { return 365 * 24 * time.Hour, true },
		Now:       func() time.Time { return caseWorkBase.Add(365*24*time.Hour + time.Duration(upto)*time.Minute) }}
	res, err := sw.RunOnce(tctx(w.t))
	if err != nil {
		w.t.Fatal(err)
	}
	if res.Submissions == 0 {
		w.t.Fatalf("sweep up to %d deleted nothing", upto)
	}
}

// checkIndex compares the case index of s with a full scan.
func checkIndex(t *testing.T, s *Store) {
	t.Helper()
	want, err := s.scanCases(tctx(t))
	if err != nil {
		t.Fatal(err)
	}
	s.cases.mu.RLock()
	defer s.cases.mu.RUnlock()
	if !reflect.DeepEqual(s.cases.rows, want) {
		for id, w := range want {
			if !reflect.DeepEqual(s.cases.rows[id], w) {
				t.Errorf("%s: index %+v, scan %+v", id, s.cases.rows[id], w)
			}
		}
		for id := range s.cases.rows {
			if want[id] == nil {
				t.Errorf("%s: in the index, not stored", id)
			}
		}
		t.Fatalf("index has %d rows, scan %d", len(s.cases.rows), len(want))
	}
}

func readMeta(t *testing.T, s *Store) snapshotMeta {
	t.Helper()
	var meta snapshotMeta
	if err := s.caseIdx.FindOne(tctx(t), bson.D{{Key: "_id", Value: "meta"}}).Decode(&meta); err != nil {
		t.Fatal(err)
	}
	return meta
}

// checkNoStrayPages checks that case_index holds only the pages the meta
// names, besides meta and schema.
func checkNoStrayPages(t *testing.T, s *Store) {
	t.Helper()
	meta := readMeta(t, s)
	want := 2 + meta.Pages
	for _, d := range meta.Deltas {
		want += d.Pages
	}
	if n, err := s.caseIdx.CountDocuments(tctx(t), bson.D{}); err != nil || n != int64(want) {
		t.Fatalf("case_index holds %d documents, the meta names %d: %v", n, want, err)
	}
}

// TestCaseIndexDeltas writes, changes and sweeps submissions in rounds,
// some ending with a snapshot, and opens the store again after each
// without closing it (a crash): the index equals a full scan, rebuilt
// from the base, the deltas in order (changes of base rows, tombstones of
// swept ones) and the markers, and compactions leave no page behind.
func TestCaseIndexDeltas(t *testing.T) {
	defer setSnapshotLimits(1<<30, 3)()
	db := dbName()
	s := open(t, db, Options{ExclusiveDrafts: true}, true)
	w := &caseWork{t: t}
	for _, round := range []struct {
		name          string
		submit, sweep int  // submissions to write; sweep up to (0: none)
		touch         bool // change rows of earlier rounds
		snapshot      bool
		deltas        int // deltas named by the meta afterwards
	}{
		{name: "first base", submit: 120, snapshot: true, deltas: 0},
		{name: "delta", submit: 10, sweep: 5, snapshot: true, deltas: 1},
		{name: "tombstones only", sweep: 12, snapshot: true, deltas: 2},
		{name: "markers only", submit: 7, sweep: 20, touch: true, deltas: 2},
		{name: "delta over markers", submit: 5, snapshot: true, deltas: 3},
		{name: "compaction at maxDeltas", submit: 5, touch: true, snapshot: true, deltas: 0},
		{name: "delta after compaction", submit: 3, sweep: 30, snapshot: true, deltas: 1},
		{name: "compaction by rows", submit: 150, snapshot: true, deltas: 0},
		{name: "delta of changed base rows", touch: true, snapshot: true, deltas: 1},
	} {
		w.submit(s, round.submit)
		if round.touch {
			w.touch(s)
		}
		if round.sweep > 0 {
			w.sweep(s, round.sweep)
		}
		if round.snapshot {
			if err := s.snapshot(tctx(t)); err != nil {
				t.Fatalf("%s: %v", round.name, err)
			}
		}
		s = open(t, db, Options{ExclusiveDrafts: true}, false)
		checkIndex(t, s)
		if meta := readMeta(t, s); len(meta.Deltas) != round.deltas {
			t.Fatalf("%s: %d deltas (%d rows, base %d rows), want %d", round.name, len(meta.Deltas), meta.deltaRows(), meta.Count, round.deltas)
		}
		if round.deltas == 0 {
			checkNoStrayPages(t, s)
		}
	}
}

// TestCaseIndexFailedSnapshot fails a snapshot in each of its writes and
// lets the next one succeed (removing the markers it covers); a store
// opened afterwards without Close still equals a full scan: the rows of
// the failed snapshot went into the next one. The pages the failed one
// left are not loaded and go with the next compaction.
func TestCaseIndexFailedSnapshot(t *testing.T) {
	errFault := errors.New("injected fault")
	for _, tc := range []struct {
		name      string
		maxDeltas int // 0: every snapshot is a new base
		fail      func(id string, done bool, cancel func()) error
	}{
		{"delta page write fails", 64, func(id string, done bool, _ func()) error {
			if strings.HasPrefix(id, "delta/") && !done {
				return errFault
			}
			return nil
		}},
		{"context cancelled before a delta page", 64, func(id string, done bool, cancel func()) error {
			if strings.HasPrefix(id, "delta/") && !done {
				cancel()
			}
			return nil
		}},
		{"meta write fails", 64, func(id string, done bool, _ func()) error {
			if id == "meta" && !done {
				return errFault
			}
			return nil
		}},
		{"meta written, failure reported", 64, func(id string, done bool, _ func()) error {
			if id == "meta" && done {
				return errFault
			}
			return nil
		}},
		{"base page write fails", 0, func(id string, done bool, _ func()) error {
			if strings.HasPrefix(id, "snap/") && done {
				return errFault
			}
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer setSnapshotLimits(1<<30, tc.maxDeltas)()
			ctx := tctx(t)
			db := dbName()
			s := open(t, db, Options{ExclusiveDrafts: true}, true)
			w := &caseWork{t: t}
			w.submit(s, 90) // into the second reference block (of 50)
			if err := s.snapshot(ctx); err != nil {
				t.Fatal(err)
			}
			w.submit(s, 30) // retires the second block
			w.touch(s)
			w.sweep(s, 10)

			fctx, cancel := context.WithCancel(ctx)
			defer cancel()
			testHookSnapshotWrite = func(id string, done bool) error { return tc.fail(id, done, cancel) }
			err := s.snapshot(fctx)
			testHookSnapshotWrite = nil
			if err == nil {
				t.Fatal("snapshot did not fail")
			}

			w.submit(s, 5)
			if err := s.snapshot(ctx); err != nil {
				t.Fatal(err)
			}
			s = open(t, db, Options{ExclusiveDrafts: true}, false)
			checkIndex(t, s)

			maxDeltas = 0
			s.cases.set("ffm/none", nil) // something to write
			if err := s.snapshot(ctx); err != nil {
				t.Fatal(err)
			}
			checkNoStrayPages(t, s)
			s = open(t, db, Options{ExclusiveDrafts: true}, false)
			checkIndex(t, s)
		})
	}
}

// TestCaseIndexFormat1 opens a snapshot as the version before deltas
// wrote it (format 1: a base, no seq, no deltas): it is read as a base,
// not rebuilt by a scan, and the next snapshot adds a delta to it.
func TestCaseIndexFormat1(t *testing.T) {
	defer setSnapshotLimits(1<<30, 64)()
	ctx := tctx(t)
	db := dbName()
	s := open(t, db, Options{ExclusiveDrafts: true}, true)
	w := &caseWork{t: t}
	w.submit(s, 60)
	if err := s.snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	meta := readMeta(t, s)
	old := bson.D{{Key: "_id", Value: "meta"}, {Key: "format", Value: 1}, {Key: "gen", Value: meta.Gen},
		{Key: "pages", Value: meta.Pages}, {Key: "count", Value: meta.Count}}
	if _, err := s.caseIdx.ReplaceOne(ctx, bson.D{{Key: "_id", Value: "meta"}}, old); err != nil {
		t.Fatal(err)
	}
	// Stored behind the store's back: a scan would find it, the
	// snapshot does not hold it.
	hidden := scaleDoc(0)
	if _, err := s.subs.InsertOne(ctx, hidden); err != nil {
		t.Fatal(err)
	}
	s = open(t, db, Options{ExclusiveDrafts: true}, false)
	s.cases.mu.RLock()
	n, found := len(s.cases.rows), s.cases.rows[hidden.ID] != nil
	s.cases.mu.RUnlock()
	if n != 60 || found {
		t.Fatalf("format 1 snapshot not read as the base: %d rows, hidden row found %v", n, found)
	}
	if _, err := s.subs.DeleteOne(ctx, bson.D{{Key: "_id", Value: hidden.ID}}); err != nil {
		t.Fatal(err)
	}
	w.submit(s, 5)
	if err := s.snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	if m := readMeta(t, s); m.Format != snapshotFormat || m.Gen != meta.Gen || len(m.Deltas) != 1 {
		t.Fatalf("snapshot after format 1: format %d, base %d (was %d), %d deltas", m.Format, m.Gen, meta.Gen, len(m.Deltas))
	}
	s = open(t, db, Options{ExclusiveDrafts: true}, false)
	checkIndex(t, s)
}

// TestDeltaLimit: up to 64 deltas, one per 2,000 rows of a larger base,
// so that a base is rewritten after a number of changes proportional to
// its size.
func TestDeltaLimit(t *testing.T) {
	for _, tc := range []struct{ rows, want int }{
		{0, 64}, {1000, 64}, {128000, 64}, {130000, 65}, {1000000, 500},
	} {
		if got := deltaLimit(tc.rows); got != tc.want {
			t.Errorf("deltaLimit(%d) = %d, want %d", tc.rows, got, tc.want)
		}
	}
}
