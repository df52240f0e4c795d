package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amtsform/amtsform/engine/audit"
	"github.com/amtsform/amtsform/engine/record"
)

// NewAuditStore returns a fresh, empty audit store for one test and a
// function that opens another client on the same data.
type NewAuditStore func(t *testing.T) (s audit.Store, another func() audit.Store)

// Audit checks audit.Store on a full store.
func Audit(t *testing.T, ns NewStore) {
	AuditStore(t, func(t *testing.T) (audit.Store, func() audit.Store) {
		s, another := ns(t)
		return s, func() audit.Store { return another() }
	})
}

// AuditStore checks audit.Store, directly and through audit.Log.
func AuditStore(t *testing.T, ns NewAuditStore) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, NewAuditStore)
	}{
		{"Entries", testAuditEntries},
		{"ConcurrentChain", testAuditConcurrentChain},
		{"VerifyForged", testAuditVerifyForged},
		{"Export", testAuditExport},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, ns) })
	}
}

func auditEntry(tenant string, seq int64) *record.AuditEntry {
	e := &record.AuditEntry{Tenant: tenant, Seq: seq, At: time.Date(2026, 12, 1, 11, 0, 0, int(seq)*int(time.Millisecond), time.UTC),
		Actor: "u-anna", Action: "case.viewed", Object: fmt.Sprintf("KITA-2026-%06d", seq), Addr: "192.0.2.7",
		Detail: map[string]string{"office": "jugendamt", "n": fmt.Sprint(seq)}}
	e.Hash = audit.Hash(e)
	return e
}

func collect(t *testing.T, s audit.Store, tenant string, after int64, limit int) []record.AuditEntry {
	t.Helper()
	var out []record.AuditEntry
	must(t, s.AuditEntries(ctxT(t), tenant, after, limit, func(e *record.AuditEntry) error {
		out = append(out, *e)
		return nil
	}))
	return out
}

func testAuditEntries(t *testing.T, ns NewAuditStore) {
	s, _ := ns(t)
	ctx := ctxT(t)
	if _, err := s.LastAudit(ctx, "ffm"); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("last of empty: %v, want ErrNotFound", err)
	}
	for i := int64(1); i <= 12; i++ { // beyond 9: keys must sort as numbers
		must(t, s.InsertAudit(ctx, auditEntry("ffm", i)))
	}
	must(t, s.InsertAudit(ctx, auditEntry("ffm-nord", 1)))
	dup := auditEntry("ffm", 3)
	dup.Action = "case.transition"
	if err := s.InsertAudit(ctx, dup); !errors.Is(err, record.ErrConflict) {
		t.Fatalf("insert at a taken seq: %v, want ErrConflict", err)
	}
	got, err := s.AuditEntry(ctx, "ffm", 3)
	must(t, err)
	want := auditEntry("ffm", 3)
	want.Slot = 3
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("entry 3 read back\n%#v\nwant\n%#v", got, want)
	}
	if _, err := s.AuditEntry(ctx, "ffm", 13); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("missing entry: %v", err)
	}
	if _, err := s.AuditEntry(ctx, "other", 1); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("other tenant: %v", err)
	}
	last, err := s.LastAudit(ctx, "ffm")
	must(t, err)
	if last.Seq != 12 || last.Slot != 12 {
		t.Fatalf("last: seq %d slot %d, want 12", last.Seq, last.Slot)
	}
	all := collect(t, s, "ffm", 0, 0)
	if len(all) != 12 {
		t.Fatalf("%d entries, want 12", len(all))
	}
	for i, e := range all {
		if e.Slot != int64(i+1) || e.Seq != e.Slot || e.Tenant != "ffm" {
			t.Fatalf("entry %d: slot %d seq %d tenant %s", i, e.Slot, e.Seq, e.Tenant)
		}
	}
	page := collect(t, s, "ffm", 9, 2)
	if len(page) != 2 || page[0].Seq != 10 || page[1].Seq != 11 {
		t.Fatalf("after 9 limit 2: %v", page)
	}
	if n := len(collect(t, s, "ffm-nord", 0, 0)); n != 1 {
		t.Fatalf("ffm-nord: %d entries", n)
	}
	noDetail := &record.AuditEntry{Tenant: "x", Seq: 1, At: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Action: "user.added"}
	must(t, s.InsertAudit(ctx, noDetail))
	if e, err := s.AuditEntry(ctx, "x", 1); err != nil || len(e.Detail) != 0 || e.Actor != "" {
		t.Fatalf("entry without detail: %#v %v", e, err)
	}
	ts, err := s.AuditTenants(ctx)
	must(t, err)
	if !reflect.DeepEqual(ts, []string{"ffm", "ffm-nord", "x"}) {
		t.Fatalf("tenants %v", ts)
	}
	// A stop requested by fn is returned.
	stop := errors.New("stop")
	n := 0
	if err := s.AuditEntries(ctx, "ffm", 0, 0, func(*record.AuditEntry) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Fatalf("stop: %v after %d", err, n)
	}
}

// testAuditConcurrentChain writes from many goroutines through two logs on
// two store clients; the result must be one gap-free, verifying chain.
func testAuditConcurrentChain(t *testing.T, ns NewAuditStore) {
	s, another := ns(t)
	s2 := another()
	ctx := ctxT(t)
	logs := []*audit.Log{audit.New(s), audit.New(s2), audit.New(s)}
	const writers, each = 12, 6
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := logs[w%len(logs)]
			for i := 0; i < each; i++ {
				err := l.Record(ctx, record.AuditEntry{Tenant: "ffm", Actor: fmt.Sprintf("u%d", w), Action: "case.viewed",
					Object: fmt.Sprintf("KITA-2026-%06d", i), Detail: map[string]string{"w": fmt.Sprint(w), "i": fmt.Sprint(i)}})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	r, err := audit.New(s2).Verify(ctx, "ffm")
	must(t, err)
	if !r.OK() || r.Entries != writers*each || r.Last != writers*each {
		t.Fatalf("after concurrent writes: %+v %v", r, r.Problem)
	}
	seen := map[string]bool{}
	for _, e := range collect(t, s, "ffm", 0, 0) {
		k := e.Detail["w"] + "/" + e.Detail["i"]
		if seen[k] {
			t.Fatalf("entry %s recorded twice", k)
		}
		seen[k] = true
	}
	if len(seen) != writers*each {
		t.Fatalf("%d distinct entries, want %d", len(seen), writers*each)
	}
}

// testAuditVerifyForged stores entries a careless or malicious writer
// could insert through the interface and checks Verify names them.
func testAuditVerifyForged(t *testing.T, ns NewAuditStore) {
	s, _ := ns(t)
	ctx := ctxT(t)
	l := audit.New(s)
	for _, tenant := range []string{"gap", "hash", "prev", "ok"} {
		for i := 0; i < 4; i++ {
			must(t, l.Record(ctx, record.AuditEntry{Tenant: tenant, Actor: "u1", Action: "case.viewed", Object: fmt.Sprint(i)}))
		}
	}
	// gap: entry 6 stored without 5
	last, err := s.LastAudit(ctx, "gap")
	must(t, err)
	e := &record.AuditEntry{Tenant: "gap", Seq: 6, At: time.Now().UTC().Truncate(time.Millisecond), Action: "case.viewed", Prev: last.Hash}
	e.Hash = audit.Hash(e)
	must(t, s.InsertAudit(ctx, e))
	// hash: entry 5 whose hash was not computed over its content
	last, err = s.LastAudit(ctx, "hash")
	must(t, err)
	e = &record.AuditEntry{Tenant: "hash", Seq: 5, At: time.Now().UTC().Truncate(time.Millisecond), Action: "case.viewed", Prev: last.Hash}
	e.Hash = audit.Hash(e)
	e.Action = "case.transition"
	must(t, s.InsertAudit(ctx, e))
	// prev: entry 5 chained to entry 3
	three, err := s.AuditEntry(ctx, "prev", 3)
	must(t, err)
	e = &record.AuditEntry{Tenant: "prev", Seq: 5, At: time.Now().UTC().Truncate(time.Millisecond), Action: "case.viewed", Prev: three.Hash}
	e.Hash = audit.Hash(e)
	must(t, s.InsertAudit(ctx, e))

	for _, tc := range []struct {
		tenant string
		seq    int64
		kind   string
	}{{"gap", 5, audit.Removed}, {"hash", 5, audit.Altered}, {"prev", 5, audit.Broken}, {"ok", 0, ""}} {
		r, err := l.Verify(ctx, tc.tenant)
		must(t, err)
		switch {
		case tc.kind == "" && !r.OK():
			t.Errorf("%s: %v, want an intact chain", tc.tenant, r.Problem)
		case tc.kind == "" && (r.Last != 4 || r.Entries != 4):
			t.Errorf("%s: %+v", tc.tenant, r)
		case tc.kind != "" && (r.OK() || r.Problem.Seq != tc.seq || r.Problem.Kind != tc.kind):
			t.Errorf("%s: %+v, want entry %d %s", tc.tenant, r.Problem, tc.seq, tc.kind)
		case tc.kind != "" && (r.Last != 4 || r.LastHash == ""):
			t.Errorf("%s: last verified %d %q, want 4", tc.tenant, r.Last, r.LastHash)
		}
	}
	if r, err := l.Verify(ctx, "empty"); err != nil || !r.OK() || r.Entries != 0 {
		t.Fatalf("empty tenant: %+v %v", r, err)
	}
}

func testAuditExport(t *testing.T, ns NewAuditStore) {
	s, _ := ns(t)
	ctx := ctxT(t)
	l := audit.New(s)
	for i := 0; i < 3; i++ {
		must(t, l.Record(ctx, record.AuditEntry{Tenant: "ffm", Actor: "u1", Action: "attachment.downloaded", Object: "KITA-2026-000001",
			Addr: "2001:db8::1", Detail: map[string]string{"file": fmt.Sprint("f", i)}}))
	}
	must(t, l.Record(ctx, record.AuditEntry{Tenant: "other", Action: "case.viewed"}))
	var nd, csv bytes.Buffer
	must(t, l.Export(ctx, "ffm", audit.NDJSON, &nd))
	must(t, l.Export(ctx, "ffm", audit.CSV, &csv))
	if got := strings.Count(nd.String(), "\n"); got != 3 {
		t.Fatalf("ndjson: %d lines\n%s", got, nd.String())
	}
	if got := strings.Count(csv.String(), "\n"); got != 4 {
		t.Fatalf("csv: %d lines\n%s", got, csv.String())
	}
	if err := l.Export(ctx, "ffm", "xml", &nd); !errors.Is(err, audit.ErrInvalid) {
		t.Fatalf("xml: %v", err)
	}

	// Import moves a chain exactly: a trail from another store verifies
	// here with the same hashes; a second import skips everything.
	src := audit.New(&audit.MemoryStore{})
	for i := 0; i < 5; i++ {
		must(t, src.Record(ctx, record.AuditEntry{Tenant: "moved", Actor: "u2", Action: "case.viewed", Object: fmt.Sprint(i),
			Detail: map[string]string{"i": fmt.Sprint(i)}}))
	}
	want, err := src.Verify(ctx, "moved")
	must(t, err)
	var moved bytes.Buffer
	must(t, src.Export(ctx, "moved", audit.NDJSON, &moved))
	st, err := audit.New(s).Import(ctx, bytes.NewReader(moved.Bytes()))
	must(t, err)
	if st.Imported != 5 || st.Skipped != 0 || st.Conflicts != 0 || !reflect.DeepEqual(st.Tenants, []string{"moved"}) {
		t.Fatalf("import: %+v", st)
	}
	got, err := l.Verify(ctx, "moved")
	must(t, err)
	if !got.OK() || got.Last != 5 || got.LastHash != want.LastHash {
		t.Fatalf("imported chain: %+v %v, want last %s", got, got.Problem, want.LastHash)
	}
	changed := strings.Replace(moved.String(), `"object":"3"`, `"object":"4"`, 1)
	st, err = audit.New(s).Import(ctx, strings.NewReader(changed))
	must(t, err)
	if st.Imported != 0 || st.Skipped != 4 || st.Conflicts != 1 {
		t.Fatalf("second import: %+v", st)
	}
	if _, err := audit.New(s).Import(ctx, strings.NewReader(`{"tenant":"moved","seq":0}`)); !errors.Is(err, audit.ErrInvalid) {
		t.Fatalf("import of a non-entry: %v", err)
	}
}
