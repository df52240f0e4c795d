package staff

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/amtsform/amtsform/engine/record"
)

// tokenPrefix starts every API token secret, so that secret scanners and
// people recognise one: aft_<id>_<random>.
const tokenPrefix = "aft_"

// TokenID returns the public id contained in a token secret, or "".
func TokenID(secret string) string {
	rest, ok := strings.CutPrefix(secret, tokenPrefix)
	if !ok {
		return ""
	}
	id, _, ok := strings.Cut(rest, "_")
	if !ok || len(id) != 12 {
		return ""
	}
	return id
}

// CreateToken creates a staff API token for an integration of tenant,
// scoped to offices and roles, and returns its secret. The secret is
// shown once: only its SHA-256 is stored. TokenID(secret) is the id
// under which it is listed and revoked.
func (s *Staff) CreateToken(ctx context.Context, tenant, name string, offices []string, roles []string) (string, error) {
	if tenant == "" {
		return "", fmt.Errorf("%w: the token needs a tenant", ErrInvalid)
	}
	if strings.TrimSpace(name) == "" {
		return "", fmt.Errorf("%w: the token needs a name (which integration uses it)", ErrInvalid)
	}
	roles, offices = normalise(roles), normalise(offices)
	if err := checkRoles(roles, offices); err != nil {
		return "", err
	}
	for attempt := 0; ; attempt++ {
		var b [6]byte
		if _, err := rand.Read(b[:]); err != nil {
			panic("crypto/rand: " + err.Error())
		}
		id := hex.EncodeToString(b[:])
		secret := tokenPrefix + id + "_" + record.NewToken()
		t := &record.APIToken{ID: id, Tenant: tenant, Name: strings.TrimSpace(name), Offices: offices, Roles: roles,
			Hash: hashSecret(secret), Created: s.now()}
		err := s.store.CreateAPIToken(ctx, t)
		if errors.Is(err, record.ErrConflict) && attempt < 3 {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("staff: create token: %w", err)
		}
		s.changed(ctx, Change{Tenant: tenant, Action: "token.created", Object: id,
			Detail: map[string]string{"name": t.Name, "roles": strings.Join(roles, ","), "offices": strings.Join(offices, ",")}})
		return secret, nil
	}
}

// Token returns the principal of a staff API bearer token. An unknown,
// malformed or revoked token is an error wrapping record.ErrNotFound.
func (s *Staff) Token(ctx context.Context, secret string) (*Principal, error) {
	id := TokenID(secret)
	if id == "" {
		return nil, fmt.Errorf("staff: token: %w", record.ErrNotFound)
	}
	t, err := s.store.APIToken(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("staff: token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(t.Hash), []byte(hashSecret(secret))) != 1 {
		return nil, fmt.Errorf("staff: token: %w", record.ErrNotFound)
	}
	if !t.Revoked.IsZero() {
		return nil, fmt.Errorf("staff: token revoked: %w", record.ErrNotFound)
	}
	now := s.now()
	if now.Sub(t.LastUsed) >= touchEvery {
		if err := s.store.TouchAPIToken(ctx, id, now); err != nil {
			s.opts.Logger.Warn("staff token: last-used time not updated", "err", err)
		}
	}
	return &Principal{
		User: &User{ID: "token:" + t.ID, Tenant: t.Tenant, Name: t.Name, Roles: t.Roles, Offices: t.Offices,
			Source: SourceToken, Created: t.Created},
		TokenID: t.ID,
	}, nil
}

// RevokeToken revokes a token by id; it stops working at once.
func (s *Staff) RevokeToken(ctx context.Context, id string) error {
	t, err := s.store.APIToken(ctx, id)
	if err != nil {
		return fmt.Errorf("staff: revoke token %s: %w", id, err)
	}
	if err := s.store.RevokeAPIToken(ctx, id, s.now()); err != nil {
		return fmt.Errorf("staff: revoke token %s: %w", id, err)
	}
	s.changed(ctx, Change{Tenant: t.Tenant, Action: "token.revoked", Object: id})
	return nil
}

// Tokens lists a tenant's tokens ("" = all) without their hashes.
func (s *Staff) Tokens(ctx context.Context, tenant string) ([]*record.APIToken, error) {
	ts, err := s.store.APITokens(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("staff: list tokens: %w", err)
	}
	for _, t := range ts {
		t.Hash = ""
	}
	return ts, nil
}
