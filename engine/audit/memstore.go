package audit

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/amtsform/amtsform/engine/record"
)

// MemoryStore is a Store in memory, for tests of the packages that record
// entries. The zero value is ready to use.
type MemoryStore struct {
	mu      sync.Mutex
	entries map[string]map[int64]record.AuditEntry
}

// InsertAudit implements Store.
func (m *MemoryStore) InsertAudit(ctx context.Context, e *record.AuditEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.entries == nil {
		m.entries = map[string]map[int64]record.AuditEntry{}
	}
	t := m.entries[e.Tenant]
	if t == nil {
		t = map[int64]record.AuditEntry{}
		m.entries[e.Tenant] = t
	}
	if _, ok := t[e.Seq]; ok {
		return fmt.Errorf("audit entry %s/%d: %w", e.Tenant, e.Seq, record.ErrConflict)
	}
	c := *e
	c.Detail = maps.Clone(e.Detail)
	c.Slot = e.Seq
	t[e.Seq] = c
	return nil
}

// AuditEntry implements Store.
func (m *MemoryStore) AuditEntry(ctx context.Context, tenant string, seq int64) (*record.AuditEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[tenant][seq]
	if !ok {
		return nil, fmt.Errorf("audit entry %s/%d: %w", tenant, seq, record.ErrNotFound)
	}
	e.Detail = maps.Clone(e.Detail)
	return &e, nil
}

// LastAudit implements Store.
func (m *MemoryStore) LastAudit(ctx context.Context, tenant string) (*record.AuditEntry, error) {
	m.mu.Lock()
	keys := slices.Sorted(maps.Keys(m.entries[tenant]))
	m.mu.Unlock()
	if len(keys) == 0 {
		return nil, fmt.Errorf("audit of %s: %w", tenant, record.ErrNotFound)
	}
	return m.AuditEntry(ctx, tenant, keys[len(keys)-1])
}

// AuditEntries implements Store.
func (m *MemoryStore) AuditEntries(ctx context.Context, tenant string, after int64, limit int, fn func(*record.AuditEntry) error) error {
	m.mu.Lock()
	var es []record.AuditEntry
	for _, k := range slices.Sorted(maps.Keys(m.entries[tenant])) {
		if k > after && (limit <= 0 || len(es) < limit) {
			e := m.entries[tenant][k]
			e.Detail = maps.Clone(e.Detail)
			es = append(es, e)
		}
	}
	m.mu.Unlock()
	for i := range es {
		if err := fn(&es[i]); err != nil {
			return err
		}
	}
	return nil
}

// AuditTenants implements Store.
func (m *MemoryStore) AuditTenants(ctx context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.entries)), nil
}

// Tamper changes the stored entries of tenant in place, keyed by slot, as
// someone with write access to the database could (tests of Verify).
func (m *MemoryStore) Tamper(tenant string, f func(entries map[int64]record.AuditEntry)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(m.entries[tenant])
	for k, e := range m.entries[tenant] {
		e.Slot = k
		m.entries[tenant][k] = e
	}
}
