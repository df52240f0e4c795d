package audit

import (
	"context"
	"errors"
	"fmt"

	"github.com/amtsform/amtsform/engine/record"
)

// Kinds of damage Verify reports.
const (
	Altered   = "altered"   // the entry's content does not match its hash
	Removed   = "removed"   // the entry is missing: the chain has a gap
	Reordered = "reordered" // the entry stored under a seq carries another seq (moved or swapped)
	Broken    = "broken"    // the entry's Prev is not the hash of the entry before
)

// Report is the result of Verify for one tenant.
type Report struct {
	Tenant   string
	Entries  int64  // entries read
	Last     int64  // seq of the last entry that verified
	LastHash string // its hash: write it down to detect a later truncation or rewrite
	// Problem is the first damaged entry; nil when the chain is intact.
	Problem *Problem
}

// OK reports whether the chain is intact.
func (r *Report) OK() bool { return r.Problem == nil }

// Problem names the first damaged entry of a chain.
type Problem struct {
	Seq    int64  // the entry that is damaged (for Removed: the missing one)
	Kind   string // Altered, Removed, Reordered or Broken
	Reason string // for people
}

func (p *Problem) String() string { return fmt.Sprintf("entry %d %s: %s", p.Seq, p.Kind, p.Reason) }

// errStop ends the walk at the first problem.
var errStop = errors.New("stop")

// Verify walks tenant's chain from the first entry and reports the first
// entry that was altered, removed, reordered or whose Prev does not match.
// It reads the chain once, streaming. An error is returned only when the
// store cannot be read; damage is reported in the Report.
//
// A chain cut off after its last entry, or rewritten from some entry on
// with freshly computed hashes, is consistent in itself: VerifyAnchor
// detects that against a (seq, hash) pair written down earlier.
func (l *Log) Verify(ctx context.Context, tenant string) (*Report, error) {
	return l.verify(ctx, tenant, 0, "")
}

// Anchored is the Kind of a Problem found by VerifyAnchor.
const Anchored = "anchor"

// VerifyAnchor is Verify that also checks the chain still holds entry
// seq with hash — a value written down earlier (from a previous verify,
// an export, a print-out): a chain truncated before seq or rewritten up
// to it fails, though it is consistent in itself.
func (l *Log) VerifyAnchor(ctx context.Context, tenant string, seq int64, hash string) (*Report, error) {
	if seq < 1 || hash == "" {
		return nil, fmt.Errorf("%w: an anchor is a seq from 1 and a hash", ErrInvalid)
	}
	return l.verify(ctx, tenant, seq, hash)
}

func (l *Log) verify(ctx context.Context, tenant string, anchor int64, anchorHash string) (*Report, error) {
	r := &Report{Tenant: tenant}
	want, prev := int64(1), ""
	err := l.store.AuditEntries(ctx, tenant, 0, 0, func(e *record.AuditEntry) error {
		r.Entries++
		p := inspect(e, want, prev)
		if p == nil && e.Seq == anchor && e.Hash != anchorHash {
			p = &Problem{Seq: e.Seq, Kind: Anchored, Reason: "its hash differs from the anchor: the chain was rewritten up to here"}
		}
		if p != nil {
			r.Problem = p
			return errStop
		}
		r.Last, r.LastHash = e.Seq, e.Hash
		want, prev = e.Seq+1, e.Hash
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, fmt.Errorf("audit: verify %s: %w", tenant, err)
	}
	if r.Problem == nil && anchor > r.Last {
		gone := fmt.Sprintf("entries %d to %d were removed", r.Last+1, anchor)
		if r.Last+1 == anchor {
			gone = fmt.Sprintf("entry %d was removed", anchor)
		}
		r.Problem = &Problem{Seq: r.Last + 1, Kind: Removed, Reason: fmt.Sprintf("the chain ends at entry %d, before the anchor %d: %s", r.Last, anchor, gone)}
	}
	return r, nil
}

// inspect checks entry e, read where entry want was expected after an
// entry with hash prev.
func inspect(e *record.AuditEntry, want int64, prev string) *Problem {
	switch {
	case e.Slot > want:
		if want == e.Slot-1 {
			return &Problem{Seq: want, Kind: Removed, Reason: fmt.Sprintf("entry %d is missing; the chain continues with entry %d", want, e.Slot)}
		}
		return &Problem{Seq: want, Kind: Removed, Reason: fmt.Sprintf("entries %d to %d are missing; the chain continues with entry %d", want, e.Slot-1, e.Slot)}
	case e.Slot < want:
		// stores return keys in order; a smaller key means a broken store
		return &Problem{Seq: e.Slot, Kind: Reordered, Reason: fmt.Sprintf("entry %d was read after entry %d", e.Slot, want-1)}
	case e.Seq != e.Slot:
		return &Problem{Seq: e.Slot, Kind: Reordered, Reason: fmt.Sprintf("the entry stored as %d carries seq %d (moved or swapped)", e.Slot, e.Seq)}
	case Hash(e) != e.Hash:
		return &Problem{Seq: e.Slot, Kind: Altered, Reason: "its content does not match its hash"}
	case e.Prev != prev:
		if want == 1 {
			return &Problem{Seq: e.Slot, Kind: Broken, Reason: "the first entry names a predecessor"}
		}
		return &Problem{Seq: e.Slot, Kind: Broken, Reason: fmt.Sprintf("its prev does not match the hash of entry %d (entry %d re-hashed or replaced)", want-1, want-1)}
	}
	return nil
}
