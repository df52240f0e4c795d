package staff

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/amtsform/amtsform/engine/record"
)

// touchEvery is how stale LastSeen / LastUsed may get before a request
// writes it again.
const touchEvery = time.Minute

// Login checks a local account's password and opens a session. addr is
// the client address (rate limit and audit).
//
// It returns ErrBadCredentials for an unknown name or a wrong password,
// ErrLocked when the name is locked after repeated failures (whether or
// not it exists), ErrRateLimited when the address is, and ErrDisabled
// for a disabled account with the right password.
func (s *Staff) Login(ctx context.Context, username, password, addr string) (*Principal, error) {
	now := s.now()
	name := strings.ToLower(strings.TrimSpace(username))
	userKey, addrKey := "user:"+name, "addr:"+addr
	if t, err := s.store.LoginThrottle(ctx, addrKey); err != nil {
		return nil, fmt.Errorf("staff: login: %w", err)
	} else if now.Before(t.LockedUntil) {
		return nil, ErrRateLimited
	}
	u, err := s.store.StaffUser(ctx, name)
	if err != nil && !errors.Is(err, record.ErrNotFound) {
		return nil, fmt.Errorf("staff: login: %w", err)
	}
	if t, err := s.store.LoginThrottle(ctx, userKey); err != nil {
		return nil, fmt.Errorf("staff: login: %w", err)
	} else if now.Before(t.LockedUntil) {
		tenant, who := auditName(u)
		s.changed(ctx, Change{Tenant: tenant, Actor: who, Action: "login.locked", Object: who, Addr: addr})
		return nil, ErrLocked
	}
	hash := s.dummy
	if u != nil && u.Source == SourceLocal && u.PasswordHash != "" {
		hash = u.PasswordHash
	}
	s.sem <- struct{}{}
	ok, rehash := verifyPassword(hash, password, s.opts.Argon2)
	<-s.sem
	if hash == s.dummy {
		ok = false
	}
	if !ok {
		return nil, s.failed(ctx, addr, userKey, addrKey, now, u)
	}
	if err := s.store.ClearLoginFailures(ctx, userKey); err != nil {
		return nil, fmt.Errorf("staff: login: %w", err)
	}
	if u.Disabled {
		s.changed(ctx, Change{Tenant: u.Tenant, Actor: u.ID, Action: "login.failed", Object: u.ID, Addr: addr, Detail: map[string]string{"reason": "disabled"}})
		return nil, ErrDisabled
	}
	if rehash {
		newHash := hashPassword(password, s.opts.Argon2)
		// A lost race (another change to the user) only postpones the rehash.
		_, _ = s.update(ctx, u.ID, func(x *User) error {
			if x.PasswordHash == u.PasswordHash {
				x.PasswordHash = newHash
			}
			return nil
		})
	}
	return s.openSession(ctx, u, addr)
}

// failed counts a failed sign-in under the name and the address and locks
// them past their limits. It returns the error Login reports.
func (s *Staff) failed(ctx context.Context, addr, userKey, addrKey string, now time.Time, u *User) error {
	tenant, who := auditName(u)
	s.changed(ctx, Change{Tenant: tenant, Actor: who, Action: "login.failed", Object: who, Addr: addr})
	result := ErrBadCredentials
	at, err := s.store.AddLoginFailure(ctx, addrKey, now, s.opts.FailureWindow)
	if err != nil {
		return fmt.Errorf("staff: login: %w", err)
	}
	if at.Count >= s.opts.MaxAddrFailures {
		if err := s.store.LockLogin(ctx, addrKey, now.Add(s.opts.LockFor)); err != nil {
			return fmt.Errorf("staff: login: %w", err)
		}
		s.opts.Logger.Warn("staff sign-in: address locked after repeated failures", "addr", addr, "for", s.opts.LockFor)
	}
	ut, err := s.store.AddLoginFailure(ctx, userKey, now, s.opts.FailureWindow)
	if err != nil {
		return fmt.Errorf("staff: login: %w", err)
	}
	if ut.Count >= s.opts.MaxFailures {
		if err := s.store.LockLogin(ctx, userKey, now.Add(s.opts.LockFor)); err != nil {
			return fmt.Errorf("staff: login: %w", err)
		}
		s.changed(ctx, Change{Tenant: tenant, Actor: who, Action: "login.locked", Object: who, Addr: addr})
		result = ErrLocked
	}
	return result
}

// unknownName stands in the audit trail for a user name that is no
// account: what was typed may be a password typed into the wrong field.
const unknownName = "(unknown user name)"

func auditName(u *User) (tenant, who string) {
	if u == nil {
		return "", unknownName
	}
	return u.Tenant, u.ID
}

// openSession stores a new session for u and returns its principal.
func (s *Staff) openSession(ctx context.Context, u *User, addr string) (*Principal, error) {
	now := s.now()
	secret := record.NewToken()
	sess := &record.Session{
		ID: hashSecret(secret), User: u.ID, Tenant: u.Tenant, Epoch: u.Epoch,
		CSRF: record.NewToken(), Addr: addr,
		Created: now, LastSeen: now, Expires: now.Add(s.opts.SessionAbsolute),
	}
	if err := s.store.CreateStaffSession(ctx, sess); err != nil {
		return nil, fmt.Errorf("staff: session: %w", err)
	}
	s.changed(ctx, Change{Tenant: u.Tenant, Actor: u.ID, Action: "login", Object: u.ID, Addr: addr, Detail: map[string]string{"source": u.Source}})
	p := s.principal(ctx, u)
	p.SessionID, p.CSRF = secret, sess.CSRF
	return p, nil
}

// Session returns the principal of a session secret (the cookie value).
// It returns an error wrapping record.ErrNotFound when the session does
// not exist, has expired (idle or absolute), was revoked, or its user was
// disabled, removed or changed their password since.
func (s *Staff) Session(ctx context.Context, secret string) (*Principal, error) {
	if secret == "" {
		return nil, fmt.Errorf("staff: session: %w", record.ErrNotFound)
	}
	id := hashSecret(secret)
	sess, err := s.store.StaffSession(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("staff: session: %w", err)
	}
	now := s.now()
	if !now.Before(sess.Expires) || now.Sub(sess.LastSeen) >= s.opts.SessionIdle {
		_ = s.store.DeleteStaffSession(ctx, id)
		return nil, fmt.Errorf("staff: session expired: %w", record.ErrNotFound)
	}
	u, err := s.store.StaffUser(ctx, sess.User)
	if errors.Is(err, record.ErrNotFound) || (err == nil && (u.Disabled || u.Epoch != sess.Epoch)) {
		_ = s.store.DeleteStaffSession(ctx, id)
		return nil, fmt.Errorf("staff: session revoked: %w", record.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("staff: session: %w", err)
	}
	if now.Sub(sess.LastSeen) >= touchEvery {
		if err := s.store.TouchStaffSession(ctx, id, now); err != nil {
			s.opts.Logger.Warn("staff session: last-seen time not updated", "err", err)
		}
	}
	p := s.principal(ctx, u)
	p.SessionID, p.CSRF = secret, sess.CSRF
	return p, nil
}

// Logout ends the session of a secret. Ending an unknown session is not
// an error.
func (s *Staff) Logout(ctx context.Context, secret string) error {
	if secret == "" {
		return nil
	}
	id := hashSecret(secret)
	sess, err := s.store.StaffSession(ctx, id)
	if errors.Is(err, record.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("staff: logout: %w", err)
	}
	if err := s.store.DeleteStaffSession(ctx, id); err != nil && !errors.Is(err, record.ErrNotFound) {
		return fmt.Errorf("staff: logout: %w", err)
	}
	s.changed(ctx, Change{Tenant: sess.Tenant, Actor: sess.User, Action: "logout", Object: sess.User})
	return nil
}

// Sweep deletes expired and idle sessions and finished failure counts,
// which otherwise stay in the store until their user or name comes back.
// Run it now and then (the lead wires it to the lifecycle sweeper).
func (s *Staff) Sweep(ctx context.Context) (sessions, throttles int, err error) {
	now := s.now()
	if sessions, err = s.store.DeleteStaleStaffSessions(ctx, now, now.Add(-s.opts.SessionIdle)); err != nil {
		return 0, 0, fmt.Errorf("staff: sweep sessions: %w", err)
	}
	if throttles, err = s.store.DeleteStaleLoginThrottles(ctx, now.Add(-s.opts.FailureWindow), now); err != nil {
		return sessions, 0, fmt.Errorf("staff: sweep sign-in throttles: %w", err)
	}
	return sessions, throttles, nil
}
