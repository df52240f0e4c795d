package staff

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/amtsform/amtsform/engine/record"
)

// memStore is an in-memory Store for this package's tests (the contract
// suite in engine/storetest checks the real one).
type memStore struct {
	mu       sync.Mutex
	users    map[string]record.User
	sessions map[string]record.Session
	tokens   map[string]record.APIToken
	throttle map[string]record.Throttle
}

func newMemStore() *memStore {
	return &memStore{users: map[string]record.User{}, sessions: map[string]record.Session{},
		tokens: map[string]record.APIToken{}, throttle: map[string]record.Throttle{}}
}

func (m *memStore) CreateStaffUser(_ context.Context, u *record.User) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users[u.ID]; ok {
		return record.ErrConflict
	}
	m.users[u.ID] = *u
	return nil
}

func (m *memStore) StaffUser(_ context.Context, id string) (*record.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[id]
	if !ok {
		return nil, record.ErrNotFound
	}
	return &u, nil
}

func (m *memStore) UpdateStaffUser(_ context.Context, u *record.User, v int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.users[u.ID]
	if !ok {
		return record.ErrNotFound
	}
	if cur.Version != v {
		return record.ErrConflict
	}
	u.Version = v + 1
	m.users[u.ID] = *u
	return nil
}

func (m *memStore) StaffUsers(_ context.Context, tenant string) ([]*record.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*record.User
	for _, u := range m.users {
		if tenant == "" || u.Tenant == tenant {
			out = append(out, &u)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (m *memStore) CreateStaffSession(_ context.Context, s *record.Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sessions[s.ID] = *s
	return nil
}

func (m *memStore) StaffSession(_ context.Context, id string) (*record.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[id]
	if !ok {
		return nil, record.ErrNotFound
	}
	return &s, nil
}

func (m *memStore) TouchStaffSession(_ context.Context, id string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.sessions[id]; ok {
		s.LastSeen = at
		m.sessions[id] = s
	}
	return nil
}

func (m *memStore) DeleteStaffSession(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sessions, id)
	return nil
}

func (m *memStore) DeleteStaffSessions(_ context.Context, user string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, s := range m.sessions {
		if s.User == user {
			delete(m.sessions, id)
		}
	}
	return nil
}

func (m *memStore) CreateAPIToken(_ context.Context, t *record.APIToken) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.tokens[t.ID]; ok {
		return record.ErrConflict
	}
	m.tokens[t.ID] = *t
	return nil
}

func (m *memStore) APIToken(_ context.Context, id string) (*record.APIToken, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tokens[id]
	if !ok {
		return nil, record.ErrNotFound
	}
	return &t, nil
}

func (m *memStore) APITokens(_ context.Context, tenant string) ([]*record.APIToken, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*record.APIToken
	for _, t := range m.tokens {
		if tenant == "" || t.Tenant == tenant {
			out = append(out, &t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (m *memStore) RevokeAPIToken(_ context.Context, id string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tokens[id]
	if !ok {
		return record.ErrNotFound
	}
	if t.Revoked.IsZero() {
		t.Revoked = at
		m.tokens[id] = t
	}
	return nil
}

func (m *memStore) TouchAPIToken(_ context.Context, id string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t, ok := m.tokens[id]; ok {
		t.LastUsed = at
		m.tokens[id] = t
	}
	return nil
}

func (m *memStore) LoginThrottle(_ context.Context, key string) (record.Throttle, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.throttle[key]
	t.Key = key
	return t, nil
}

func (m *memStore) AddLoginFailure(_ context.Context, key string, at time.Time, window time.Duration) (record.Throttle, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.throttle[key]
	t.Key = key
	if t.Start.IsZero() || t.Start.Before(at.Add(-window)) {
		t.Start, t.Count = at, 0
	}
	t.Count++
	m.throttle[key] = t
	return t, nil
}

func (m *memStore) LockLogin(_ context.Context, key string, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.throttle[key] = record.Throttle{Key: key, LockedUntil: until}
	return nil
}

func (m *memStore) ClearLoginFailures(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.throttle[key]
	t.Count = 0
	m.throttle[key] = t
	return nil
}

func (m *memStore) DeleteStaleStaffSessions(_ context.Context, expiredBefore, idleBefore time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for id, s := range m.sessions {
		if s.Expires.Before(expiredBefore) || s.LastSeen.Before(idleBefore) {
			delete(m.sessions, id)
			n++
		}
	}
	return n, nil
}

func (m *memStore) DeleteStaleLoginThrottles(_ context.Context, windowBefore, now time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k, t := range m.throttle {
		if t.Start.Before(windowBefore) && t.LockedUntil.Before(now) {
			delete(m.throttle, k)
			n++
		}
	}
	return n, nil
}

var _ Store = (*memStore)(nil)
