// Package audit keeps the audit trail: an append-only log per tenant of
// every view of a case, download of an attachment, transition and
// administrative change — who, when, what, from which address.
//
// The entries of a tenant form a hash chain. Entry n carries Seq n (dense:
// 1, 2, 3, … without gaps), the Hash of entry n-1 as Prev, and its own
// Hash, the hex SHA-256 over a canonical encoding of (tenant, seq, at,
// actor, action, object, addr, detail, prev) (see Hash). Verify walks the
// chain and names the first entry that was altered, removed, moved or
// whose Prev does not match.
//
// Exclusivity comes from the store: an entry is inserted under the key
// (tenant, seq), and an insert whose key exists fails with
// record.ErrConflict. A writer that loses retries with the next seq, so
// concurrent writers — in one process or across store clients — yield one
// gap-free chain.
//
// The log never holds citizen data: actors are user ids, objects are
// reference numbers and ids, details are ids and action names.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/amtsform/amtsform/engine/record"
)

// Store keeps audit entries. Implementations: engine/mongostore.
type Store interface {
	// InsertAudit stores e under the key (e.Tenant, e.Seq). It fails with
	// record.ErrConflict when that key exists and never overwrites.
	InsertAudit(ctx context.Context, e *record.AuditEntry) error
	// AuditEntry returns the entry stored under (tenant, seq), or
	// record.ErrNotFound.
	AuditEntry(ctx context.Context, tenant string, seq int64) (*record.AuditEntry, error)
	// LastAudit returns the entry with the highest key of tenant, or
	// record.ErrNotFound when the tenant has none.
	LastAudit(ctx context.Context, tenant string) (*record.AuditEntry, error)
	// AuditEntries calls fn for the entries of tenant with a key above
	// after, in key order, at most limit of them (0: all), streaming.
	// Each entry's Slot is its key. An error from fn stops the walk and
	// is returned.
	AuditEntries(ctx context.Context, tenant string, after int64, limit int, fn func(*record.AuditEntry) error) error
	// AuditTenants returns the tenants that have entries, sorted.
	AuditTenants(ctx context.Context) ([]string, error)
}

// Limits on what an entry may carry: the log holds references, not
// content, and a value beyond these is a caller's mistake.
const (
	MaxDetailKeys  = 32
	MaxFieldLength = 512 // bytes, for Actor, Action, Object, Addr, every Detail key and value
)

// ErrInvalid reports an entry the log refuses (no tenant or action, or
// beyond the limits).
var ErrInvalid = errors.New("audit: invalid entry")

// Log is a tenant-partitioned, hash-chained, append-only audit log.
type Log struct {
	store Store
	now   func() time.Time

	mu    sync.Mutex
	heads map[string]*head // per tenant
}

// head is the last entry this Log knows of a tenant; its mutex
// serialises the writers of this process.
type head struct {
	mu    sync.Mutex
	known bool
	seq   int64
	hash  string
}

// Option configures a Log.
type Option func(*Log)

// WithClock sets the clock that stamps entries without At (tests).
func WithClock(now func() time.Time) Option { return func(l *Log) { l.now = now } }

// New returns a Log on store.
func New(store Store, opts ...Option) *Log {
	l := &Log{store: store, now: time.Now, heads: map[string]*head{}}
	for _, o := range opts {
		o(l)
	}
	return l
}

func (l *Log) head(tenant string) *head {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.heads[tenant]
	if h == nil {
		h = &head{}
		l.heads[tenant] = h
	}
	return h
}

// maxAttempts bounds the retries of one Record against other writers.
const maxAttempts = 10000

// Record appends e to its tenant's chain. It assigns Seq, Prev and Hash
// (any values given are ignored) and stamps At with the current time when
// it is zero. It implements casework.Auditor.
func (l *Log) Record(ctx context.Context, e record.AuditEntry) error {
	_, err := l.Append(ctx, e)
	return err
}

// Append is Record returning the entry as stored.
func (l *Log) Append(ctx context.Context, e record.AuditEntry) (record.AuditEntry, error) {
	if err := check(&e); err != nil {
		return record.AuditEntry{}, err
	}
	if e.At.IsZero() {
		e.At = l.now()
	}
	e.At = e.At.UTC().Truncate(time.Millisecond)
	if len(e.Detail) == 0 {
		e.Detail = nil
	}
	e.Slot = 0
	h := l.head(e.Tenant)
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.known {
		last, err := l.store.LastAudit(ctx, e.Tenant)
		switch {
		case errors.Is(err, record.ErrNotFound):
		case err != nil:
			return record.AuditEntry{}, fmt.Errorf("audit: last entry of %s: %w", e.Tenant, err)
		default:
			h.seq, h.hash = last.Slot, last.Hash
		}
		h.known = true
	}
	for attempt := 0; attempt < maxAttempts; attempt++ {
		e.Seq, e.Prev = h.seq+1, h.hash
		e.Hash = Hash(&e)
		err := l.store.InsertAudit(ctx, &e)
		if err == nil {
			h.seq, h.hash = e.Seq, e.Hash
			return e, nil
		}
		if !errors.Is(err, record.ErrConflict) {
			return record.AuditEntry{}, fmt.Errorf("audit: record %s: %w", e.Action, err)
		}
		// Another writer took this seq: continue after its entry.
		won, err := l.store.AuditEntry(ctx, e.Tenant, e.Seq)
		if err != nil {
			return record.AuditEntry{}, fmt.Errorf("audit: read entry %d of %s: %w", e.Seq, e.Tenant, err)
		}
		h.seq, h.hash = e.Seq, won.Hash
		if err := ctx.Err(); err != nil {
			return record.AuditEntry{}, err
		}
	}
	return record.AuditEntry{}, fmt.Errorf("audit: record %s: gave up after %d concurrent writers won: %w", e.Action, maxAttempts, record.ErrConflict)
}

func check(e *record.AuditEntry) error {
	if e.Tenant == "" || e.Action == "" {
		return fmt.Errorf("%w: tenant and action are required", ErrInvalid)
	}
	if len(e.Detail) > MaxDetailKeys {
		return fmt.Errorf("%w: %d detail keys (at most %d)", ErrInvalid, len(e.Detail), MaxDetailKeys)
	}
	for name, v := range map[string]string{"tenant": e.Tenant, "actor": e.Actor, "action": e.Action, "object": e.Object, "addr": e.Addr} {
		if len(v) > MaxFieldLength {
			return fmt.Errorf("%w: %s longer than %d bytes", ErrInvalid, name, MaxFieldLength)
		}
		// JSON would encode invalid bytes as U+FFFD: two contents, one hash
		if !utf8.ValidString(v) {
			return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, name)
		}
	}
	if strings.Contains(e.Tenant, "/") {
		return fmt.Errorf("%w: tenant contains '/'", ErrInvalid)
	}
	for k, v := range e.Detail {
		if len(k) > MaxFieldLength || len(v) > MaxFieldLength {
			return fmt.Errorf("%w: detail %.40q longer than %d bytes", ErrInvalid, k, MaxFieldLength)
		}
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return fmt.Errorf("%w: detail %.40q is not valid UTF-8", ErrInvalid, k)
		}
	}
	return nil
}

// hashVersion names the canonical encoding; it is its first element.
const hashVersion = "amtsform-audit-v1"

// Hash returns the hex SHA-256 of e's canonical encoding: the JSON array
//
//	["amtsform-audit-v1", tenant, seq, at, actor, action, object, addr, detail, prev]
//
// with seq a JSON number, at as RFC 3339 in UTC with exactly three
// fractional digits ("2026-12-01T11:46:59.123Z"), detail a JSON object
// with keys in byte order ({} when empty), and strings as encoding/json
// writes them. Slot and Hash itself are not covered.
func Hash(e *record.AuditEntry) string {
	detail := e.Detail
	if detail == nil {
		detail = map[string]string{}
	}
	b, err := json.Marshal([]any{hashVersion, e.Tenant, e.Seq, e.At.UTC().Format(timeLayout),
		e.Actor, e.Action, e.Object, e.Addr, detail, e.Prev})
	if err != nil {
		panic("audit: encode entry: " + err.Error()) // strings and int64 always encode
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// List returns up to limit entries of tenant after seq after, in order
// (limit 0: 100; at most 1000).
func (l *Log) List(ctx context.Context, tenant string, after int64, limit int) ([]record.AuditEntry, error) {
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	var out []record.AuditEntry
	err := l.store.AuditEntries(ctx, tenant, after, limit, func(e *record.AuditEntry) error {
		out = append(out, *e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit: list %s: %w", tenant, err)
	}
	return out, nil
}

// Tenants returns the tenants that have entries.
func (l *Log) Tenants(ctx context.Context) ([]string, error) {
	ts, err := l.store.AuditTenants(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: tenants: %w", err)
	}
	return ts, nil
}

// Store returns the store the log writes to.
func (l *Log) Store() Store { return l.store }
