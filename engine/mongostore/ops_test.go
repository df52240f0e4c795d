package mongostore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/amtsform/amtsform/engine/record"
	"github.com/amtsform/amtsform/engine/storetest"
)

// opCounter counts the database commands a client sends, by name.
type opCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *opCounter) monitor() *event.CommandMonitor {
	return &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		c.mu.Lock()
		c.n[e.CommandName]++
		c.mu.Unlock()
	}}
}

// take returns the counts since the last call and resets them.
func (c *opCounter) take() (total int, detail string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var parts []string
	for _, name := range []string{"find", "insert", "update", "findAndModify", "delete", "getMore"} {
		if c.n[name] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n[name], name))
			total += c.n[name]
		}
	}
	for name, k := range c.n {
		if !strings.Contains("find insert update findAndModify delete getMore", name) {
			parts = append(parts, fmt.Sprintf("%d %s", k, name))
			total += k
		}
	}
	c.n = map[string]int{}
	return total, strings.Join(parts, ", ")
}

// TestOperationsPerRequest counts the database commands of each request
// path on the MongoDB code path (no in-memory index, as with several
// server instances on MongoDB). docs/deploy.md derives its capacity
// estimate from these counts; the bounds keep them from creeping up.
// None of them depends on the number of stored submissions.
func TestOperationsPerRequest(t *testing.T) {
	ctx := tctx(t)
	c := &opCounter{n: map[string]int{}}
	db := dbName()
	s, err := Connect(ctx, testURI, Options{Database: db, Logger: quiet, mongoPath: true, monitor: c.monitor()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = s.db.Drop(context.Background())
		_ = s.Close(context.Background())
	}()
	// warm the reference-number block, as a running server has
	if _, err := s.NextReference(ctx, "ffm", "kita", "KITA", time.Now().Year()); err != nil {
		t.Fatal(err)
	}
	c.take()
	var d *record.Draft
	var sub *record.Submission
	var file *record.Attachment
	steps := []struct {
		name string
		max  int
		fn   func() error
	}{
		{"start a draft (CreateDraft)", 2, func() error {
			d = &record.Draft{Tenant: "ffm", Service: record.ServiceRef{ID: "kita"}, Data: map[string]any{}, Expires: time.Now().Add(time.Hour)}
			return s.CreateDraft(ctx, d)
		}},
		{"show a page (GetDraft)", 1, func() error { _, err := s.GetDraft(ctx, "ffm", d.ID); return err }},
		{"save a page (UpdateDraft)", 1, func() error { d.Data["a"] = int64(1); return s.UpdateDraft(ctx, d) }},
		{"upload a 100 KB file (PutFile)", 5, func() error {
			var err error
			file, err = s.PutFile(ctx, "ffm", d.ID, "a.pdf", bytes.NewReader(storetest.PDF(100<<10)))
			return err
		}},
		{"submit with key and file (Submit)", 7, func() error {
			var err error
			sub, _, err = s.Submit(ctx, &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: record.ServiceRef{ID: "kita"},
				Data: d.Data, Office: "amt", IdempotencyKey: "k", AttachmentIDs: []string{file.ID}, AttachmentOwner: d.ID})
			return err
		}},
		{"submit without key or file (Submit)", 1, func() error {
			_, _, err := s.Submit(ctx, &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: record.ServiceRef{ID: "kita"}, Data: d.Data})
			return err
		}},
		{"replay a submit with file (Submit, known key)", 4, func() error {
			_, created, err := s.Submit(ctx, &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: record.ServiceRef{ID: "kita"},
				Data: d.Data, Office: "amt", IdempotencyKey: "k", AttachmentIDs: []string{file.ID}, AttachmentOwner: d.ID})
			if err == nil && created {
				err = fmt.Errorf("replay created a submission")
			}
			return err
		}},
		{"read by reference (GetSubmission)", 1, func() error { _, err := s.GetSubmission(ctx, "ffm", sub.Ref); return err }},
		{"status page (Events)", 2, func() error { _, err := s.Events(ctx, "ffm", sub.Ref); return err }},
		{"inbox page (ListSubmissions)", 1, func() error {
			_, err := s.ListSubmissions(ctx, record.InboxQuery{Tenant: "ffm", Office: "amt", Status: []string{"submitted"}})
			return err
		}},
		{"change status (UpdateSubmission)", 7, func() error {
			_, err := s.UpdateSubmission(ctx, "ffm", sub.Ref, 1, record.SubmissionChange{Status: "in_review", Actor: "sb"})
			return err
		}},
		{"replay a submit (Submit, known key)", 3, func() error {
			_, created, err := s.Submit(ctx, &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: record.ServiceRef{ID: "kita"},
				Data: map[string]any{"x": int64(1)}, IdempotencyKey: "k2"})
			if err == nil && !created {
				err = fmt.Errorf("first submit not created")
			}
			c.take()
			_, created, err = s.Submit(ctx, &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: record.ServiceRef{ID: "kita"},
				Data: map[string]any{"x": int64(1)}, IdempotencyKey: "k2"})
			if err == nil && created {
				err = fmt.Errorf("replay created a submission")
			}
			return err
		}},
		{"discard a draft with a file (DeleteDraft)", 6, func() error { return s.DeleteDraft(ctx, "ffm", d.ID) }},
	}
	for _, st := range steps {
		if err := st.fn(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		n, detail := c.take()
		t.Logf("%-46s %2d commands: %s", st.name, n, detail)
		if n > st.max {
			t.Errorf("%s: %d commands, at most %d expected", st.name, n, st.max)
		}
	}
}

// TestSubmitOneWriteEmbedded: with the case index (the embedded store,
// the only writer), a new submit with an idempotency key is one insert,
// as a raw insert of the same document is (issue 10): the key is found
// in memory, and the reference block's marker covers the insert for the
// index's crash recovery. A replay is one read. Retired blocks lose
// their markers with the next snapshot.
func TestSubmitOneWriteEmbedded(t *testing.T) {
	ctx := tctx(t)
	c := &opCounter{n: map[string]int{}}
	s := open(t, dbName(), Options{ExclusiveDrafts: true, monitor: c.monitor()}, true)
	req := func(i int) *record.SubmitRequest {
		return &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: record.ServiceRef{ID: "kita"}, Year: 2026,
			Data: map[string]any{"i": int64(i)}, Office: "amt", IdempotencyKey: fmt.Sprintf("key-%d", i)}
	}
	if _, _, err := s.Submit(ctx, req(0)); err != nil { // reserves and marks the block
		t.Fatal(err)
	}
	c.take()
	for i := 1; i < 2*refBlock+10; i++ {
		sub, created, err := s.Submit(ctx, req(i))
		if err != nil || !created {
			t.Fatalf("submit %d: %v %v", i, created, err)
		}
		n, detail := c.take()
		if i%refBlock != 0 && n != 1 {
			t.Fatalf("submit %d (%s): %d commands (%s), want one insert", i, sub.Ref, n, detail)
		}
	}
	if _, created, err := s.Submit(ctx, req(7)); err != nil || created {
		t.Fatalf("replay: %v %v", created, err)
	}
	if n, detail := c.take(); n != 1 {
		t.Fatalf("replay: %d commands (%s), want one read", n, detail)
	}
	blockMarks := func() []string {
		cur, err := s.changes.Find(ctx, bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		var marks []changeDoc
		if err := cur.All(ctx, &marks); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range marks {
			if strings.HasPrefix(m.ID, blockMarkPrefix) {
				ids = append(ids, m.ID)
			}
		}
		return ids
	}
	if got := blockMarks(); len(got) != 3 {
		t.Fatalf("block markers before the snapshot: %v, want 3", got)
	}
	if err := s.snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	if got := blockMarks(); len(got) != 1 {
		t.Fatalf("block markers after the snapshot: %v, want the active block's only", got)
	}
}

// TestCoveredInsertsAfterCrash: submits covered by block markers (no
// marker of their own), across retired blocks and a snapshot, are all
// in the index after a crash, with their keys.
func TestCoveredInsertsAfterCrash(t *testing.T) {
	ctx := tctx(t)
	db := dbName()
	s := open(t, db, Options{ExclusiveDrafts: true}, true)
	submit := func(st *Store, i int) (*record.Submission, bool) {
		sub, created, err := st.Submit(ctx, &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: record.ServiceRef{ID: "kita"}, Year: 2026,
			Data: map[string]any{"i": int64(i)}, Office: "amt", IdempotencyKey: fmt.Sprintf("key-%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		return sub, created
	}
	for i := 0; i < 70; i++ {
		submit(s, i)
	}
	if err := s.snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 70; i < 180; i++ {
		submit(s, i)
	}
	// reopen without Close: the snapshot holds the first 70
	s2 := open(t, db, Options{ExclusiveDrafts: true}, false)
	want, err := s2.scanCases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s2.cases.mu.RLock()
	if len(want) != 180 || !reflect.DeepEqual(s2.cases.rows, want) {
		t.Errorf("index has %d rows, scan %d", len(s2.cases.rows), len(want))
	}
	s2.cases.mu.RUnlock()
	for _, i := range []int{3, 100, 179} {
		if sub, created := submit(s2, i); created || sub.Data["i"] != int64(i) {
			t.Fatalf("replay of key %d after the crash: %+v created=%v", i, sub, created)
		}
	}
}

// TestCloseRetiresBlocks: Close ends the reference blocks in use, so
// their markers go with the closing snapshot and opening the store again
// reads none of their numbers back; the next submit takes a new block.
func TestCloseRetiresBlocks(t *testing.T) {
	ctx := tctx(t)
	db := dbName()
	s := open(t, db, Options{ExclusiveDrafts: true}, false)
	submit := func(st *Store, i int) *record.Submission {
		sub, _, err := st.Submit(ctx, &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: record.ServiceRef{ID: "kita"}, Year: 2026,
			Data: map[string]any{"i": int64(i)}, Office: "amt", IdempotencyKey: fmt.Sprintf("key-%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		return sub
	}
	first := submit(s, 0)
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	c := &opCounter{n: map[string]int{}}
	s2 := open(t, db, Options{ExclusiveDrafts: true, monitor: c.monitor()}, true)
	c.mu.Lock()
	finds := c.n["find"]
	c.mu.Unlock()
	if _, detail := c.take(); finds > 10 {
		t.Fatalf("opening after Close: %d finds (%s); the closed block's numbers were read back", finds, detail)
	}
	if _, err := s2.GetSubmission(ctx, "ffm", first.Ref); err != nil {
		t.Fatal(err)
	}
	second := submit(s2, 1)
	if want := FormatRef("KITA", 2026, refBlock+1); second.Ref != want {
		t.Fatalf("after a restart: %s, want %s (a new block)", second.Ref, want)
	}
	if rows, err := s2.ListSubmissions(ctx, record.InboxQuery{Tenant: "ffm", Limit: 10}); err != nil || len(rows) != 2 {
		t.Fatalf("inbox after restart: %d rows, %v", len(rows), err)
	}
}

func TestFormatRef(t *testing.T) {
	for _, year := range []int{-1, 0, 7, 2026, 9999, 10000} {
		for _, n := range []int64{-5, 0, 1, 42, 999999, 1000000, 123456789012} {
			if got, want := FormatRef("KITA", year, n), fmt.Sprintf("%s-%04d-%06d", "KITA", year, n); got != want {
				t.Errorf("FormatRef(%d, %d) = %q, want %q", year, n, got, want)
			}
		}
	}
}

func TestFormatEventID(t *testing.T) {
	for _, n := range []int64{-1, -1 << 40, 0, 1, 0xabc, time.Date(2026, 12, 1, 17, 0, 0, 123456789, time.UTC).UnixNano(), 1<<63 - 1} {
		for _, r := range [][4]byte{{}, {0, 0, 0, 1}, {0xde, 0xad, 0xbe, 0xef}} {
			got := formatEventID("ffm/KITA-2026-000001", n, r)
			want := fmt.Sprintf("%s#%016x%08x", "ffm/KITA-2026-000001", n, binary.BigEndian.Uint32(r[:]))
			if got != want {
				t.Errorf("formatEventID(%d, %x) = %q, want %q", n, r, got, want)
			}
		}
	}
}
