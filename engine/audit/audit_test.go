package audit_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/amtsform/amtsform/engine/audit"
	"github.com/amtsform/amtsform/engine/record"
	"github.com/amtsform/amtsform/engine/storetest"
)

// TestMemoryStore runs the store contract on MemoryStore, which other
// packages' tests use as a fake.
func TestMemoryStore(t *testing.T) {
	storetest.AuditStore(t, func(t *testing.T) (audit.Store, func() audit.Store) {
		s := &audit.MemoryStore{}
		return s, func() audit.Store { return s }
	})
}

func chain(t *testing.T, n int) (*audit.Log, *audit.MemoryStore) {
	t.Helper()
	s := &audit.MemoryStore{}
	clock := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	l := audit.New(s, audit.WithClock(func() time.Time { clock = clock.Add(time.Second); return clock }))
	for i := 1; i <= n; i++ {
		if err := l.Record(context.Background(), record.AuditEntry{Tenant: "ffm", Actor: "u-anna", Action: "case.viewed",
			Object: fmt.Sprintf("KITA-2026-%06d", i), Addr: "192.0.2.1"}); err != nil {
			t.Fatal(err)
		}
	}
	return l, s
}

// TestVerifyTampering changes a stored chain the ways someone with write
// access to the database could and checks Verify names the exact entry.
func TestVerifyTampering(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(es map[int64]record.AuditEntry)
		seq    int64
		kind   string
	}{
		{"intact", func(map[int64]record.AuditEntry) {}, 0, ""},
		{"edit action", func(es map[int64]record.AuditEntry) { e := es[4]; e.Action = "case.transition"; es[4] = e }, 4, audit.Altered},
		{"edit time", func(es map[int64]record.AuditEntry) { e := es[7]; e.At = e.At.Add(time.Millisecond); es[7] = e }, 7, audit.Altered},
		{"add detail", func(es map[int64]record.AuditEntry) { e := es[2]; e.Detail = map[string]string{"x": "y"}; es[2] = e }, 2, audit.Altered},
		{"edit and re-hash", func(es map[int64]record.AuditEntry) {
			e := es[5]
			e.Actor = "u-mallory"
			e.Hash = audit.Hash(&e)
			es[5] = e
		}, 6, audit.Broken},
		{"delete", func(es map[int64]record.AuditEntry) { delete(es, 6) }, 6, audit.Removed},
		{"delete first", func(es map[int64]record.AuditEntry) { delete(es, 1) }, 1, audit.Removed},
		{"delete two", func(es map[int64]record.AuditEntry) { delete(es, 3); delete(es, 4) }, 3, audit.Removed},
		{"swap", func(es map[int64]record.AuditEntry) { es[3], es[8] = es[8], es[3] }, 3, audit.Reordered},
		{"swap and renumber", func(es map[int64]record.AuditEntry) {
			a, b := es[3], es[4]
			a.Seq, b.Seq = 4, 3
			es[3], es[4] = b, a
		}, 3, audit.Altered},
		{"renumber", func(es map[int64]record.AuditEntry) { e := es[9]; e.Seq = 10; es[9] = e }, 9, audit.Reordered},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, s := chain(t, 10)
			s.Tamper("ffm", tc.tamper)
			r, err := l.Verify(context.Background(), "ffm")
			if err != nil {
				t.Fatal(err)
			}
			if tc.kind == "" {
				if !r.OK() || r.Entries != 10 || r.Last != 10 {
					t.Fatalf("intact chain: %+v", r)
				}
				return
			}
			if r.OK() || r.Problem.Seq != tc.seq || r.Problem.Kind != tc.kind {
				t.Fatalf("got %+v, want entry %d %s", r.Problem, tc.seq, tc.kind)
			}
			if want := tc.seq - 1; r.Last != want {
				t.Fatalf("last verified %d, want %d", r.Last, want)
			}
		})
	}
}

// TestHashGolden pins the canonical encoding: a change breaks every
// stored chain.
func TestHashGolden(t *testing.T) {
	e := &record.AuditEntry{Tenant: "musterstadt", Seq: 42, At: time.Date(2026, 12, 1, 11, 46, 59, 123456789, time.UTC),
		Actor: "u-anna", Action: "case.transition", Object: "KITA-2026-000042", Addr: "192.0.2.7",
		Detail: map[string]string{"transition": "approve", "from": "review", "to": "approved"}, Prev: strings.Repeat("ab", 32)}
	const want = "5b1ee3ed86eb7289ab9d7615dd678f6cc8ec715bc1d629cee88ad33c14831955" // python3: sha256(json.dumps(array, separators=(",", ":"), sort_keys=True))
	if got := audit.Hash(e); got != want {
		t.Fatalf("hash %s, want %s", got, want)
	}
	nilDetail, empty := *e, *e
	nilDetail.Detail, empty.Detail = nil, map[string]string{}
	if audit.Hash(&nilDetail) != audit.Hash(&empty) {
		t.Fatal("nil and empty detail hash differently")
	}
	slot := *e
	slot.Slot = 7
	if audit.Hash(&slot) != audit.Hash(e) {
		t.Fatal("Slot is hashed")
	}
}

func TestRecordRefuses(t *testing.T) {
	l := audit.New(&audit.MemoryStore{})
	big := map[string]string{}
	for i := 0; i <= audit.MaxDetailKeys; i++ {
		big[fmt.Sprint(i)] = "x"
	}
	for _, e := range []record.AuditEntry{
		{Action: "case.viewed"},
		{Tenant: "ffm"},
		{Tenant: "a/b", Action: "case.viewed"},
		{Tenant: "ffm", Action: "case.viewed", Detail: big},
		{Tenant: "ffm", Action: "case.viewed", Detail: map[string]string{"data": strings.Repeat("x", audit.MaxFieldLength+1)}},
		{Tenant: "ffm", Action: "case.viewed", Object: "KITA-\xff"},
		{Tenant: "ffm", Action: "case.viewed", Detail: map[string]string{"k": "\xfe"}},
	} {
		if err := l.Record(context.Background(), e); !errors.Is(err, audit.ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", e, err)
		}
	}
}

// TestRecordAssigns checks Seq, Prev, Hash and At are set by the log.
func TestRecordAssigns(t *testing.T) {
	l, _ := chain(t, 0)
	ctx := context.Background()
	a, err := l.Append(ctx, record.AuditEntry{Tenant: "ffm", Action: "case.viewed", Seq: 99, Prev: "x", Hash: "y"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.Append(ctx, record.AuditEntry{Tenant: "ffm", Action: "case.viewed", At: time.Date(2026, 1, 1, 0, 0, 0, 1234567, time.FixedZone("CET", 3600))})
	if err != nil {
		t.Fatal(err)
	}
	if a.Seq != 1 || a.Prev != "" || a.Hash != audit.Hash(&a) || a.At.IsZero() {
		t.Fatalf("first: %+v", a)
	}
	if b.Seq != 2 || b.Prev != a.Hash || b.At.Location() != time.UTC || b.At.Nanosecond() != 1000000 {
		t.Fatalf("second: %+v", b)
	}
	// A second Log on the same store continues the chain.
	c, err := audit.New(l.Store()).Append(ctx, record.AuditEntry{Tenant: "ffm", Action: "case.viewed"})
	if err != nil || c.Seq != 3 || c.Prev != b.Hash {
		t.Fatalf("third from another log: %+v %v", c, err)
	}
}

// TestVerifyAnchor detects what a chain cannot show by itself: entries
// cut off at the end, and a chain rewritten with fresh hashes.
func TestVerifyAnchor(t *testing.T) {
	ctx := context.Background()
	l, s := chain(t, 10)
	r, err := l.Verify(ctx, "ffm")
	if err != nil || !r.OK() {
		t.Fatal(r, err)
	}
	seven, err := s.AuditEntry(ctx, "ffm", 7)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := l.VerifyAnchor(ctx, "ffm", 7, seven.Hash); err != nil || !r.OK() || r.Last != 10 {
		t.Fatalf("anchored intact chain: %+v %v", r, err)
	}
	// cut off after 5
	s.Tamper("ffm", func(es map[int64]record.AuditEntry) {
		for k := int64(6); k <= 10; k++ {
			delete(es, k)
		}
	})
	if r, _ := l.Verify(ctx, "ffm"); !r.OK() {
		t.Fatalf("a truncated chain is consistent in itself: %v", r.Problem)
	}
	r, err = l.VerifyAnchor(ctx, "ffm", 7, seven.Hash)
	if err != nil || r.OK() || r.Problem.Seq != 6 || r.Problem.Kind != audit.Removed {
		t.Fatalf("truncated: %+v %v", r.Problem, err)
	}
	// rewritten from 3 on with fresh hashes (chain is deterministic: the
	// same entries and hashes as the first)
	l, s = chain(t, 10)
	s.Tamper("ffm", func(es map[int64]record.AuditEntry) {
		for k := int64(3); k <= 10; k++ {
			e := es[k]
			if k == 3 {
				e.Actor = "u-mallory"
			}
			e.Prev = es[k-1].Hash
			e.Hash = audit.Hash(&e)
			es[k] = e
		}
	})
	if r, _ := l.Verify(ctx, "ffm"); !r.OK() {
		t.Fatalf("a rewritten chain is consistent in itself: %v", r.Problem)
	}
	r, err = l.VerifyAnchor(ctx, "ffm", 7, seven.Hash)
	if err != nil || r.OK() || r.Problem.Seq != 7 || r.Problem.Kind != audit.Anchored {
		t.Fatalf("rewritten: %+v %v", r.Problem, err)
	}
	if _, err := l.VerifyAnchor(ctx, "ffm", 0, "x"); !errors.Is(err, audit.ErrInvalid) {
		t.Fatal(err)
	}
}
