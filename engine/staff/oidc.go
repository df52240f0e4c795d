package staff

import (
	"cmp"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/record"
)

// OIDCConfig is a tenant's provider as the installation directory
// declares it.
type OIDCConfig = engine.OIDCConfig

// ErrOIDC reports a sign-in the identity provider's answer did not
// allow: the code exchange failed, or the ID token is not for this client
// (audience), expired, has the wrong nonce, a bad signature or issuer.
// The error also wraps the library's cause (oidc.ErrAudience,
// oidc.ErrExpired, oidc.ErrNonceInvalid, ...).
var ErrOIDC = errors.New("sign-in through the identity provider refused")

// OIDC signs a tenant's staff in through its OpenID provider with the
// authorization code flow, PKCE (S256) and a nonce, using the relying
// party of github.com/zitadel/oidc (the ID token's signature, issuer,
// audience, expiry and nonce are checked there, never by hand).
//
// The back office keeps state, nonce and PKCE verifier (NewOIDCRequest)
// for the browser between AuthURL and Finish, e.g. in a short-lived
// HttpOnly cookie, and checks the state on the callback itself.
type OIDC struct {
	Tenant      string
	cfg         OIDCConfig
	secret      string
	redirectURL string
	client      *http.Client

	mu    sync.Mutex
	party rp.RelyingParty // after discovery

	staff *Staff
}

// NewOIDC returns the relying party of a tenant's provider. secret is the
// client secret (from the environment variable cfg.ClientSecretEnv);
// redirectURL the back office's callback (cfg.RedirectURL wins when
// set). The provider's discovery document is fetched on first use, so a
// provider that is down does not stop the server. client may be nil.
func NewOIDC(tenant string, cfg OIDCConfig, secret, redirectURL string, client *http.Client) *OIDC {
	if cfg.RedirectURL != "" {
		redirectURL = cfg.RedirectURL
	}
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &OIDC{Tenant: tenant, cfg: cfg, secret: secret, redirectURL: redirectURL, client: client}
}

// OIDC returns the tenant's OpenID Connect sign-in, if it has one.
func (s *Staff) OIDC(tenant string) (*OIDC, bool) {
	o, ok := s.opts.OIDC[tenant]
	return o, ok && o != nil
}

// NewOIDCRequest returns fresh random values for one sign-in: the state
// (against CSRF on the callback), the nonce (binds the ID token to this
// sign-in) and the PKCE code verifier (64 characters).
func NewOIDCRequest() (state, nonce, verifier string) {
	return record.NewToken(), record.NewToken(), record.NewToken() + record.NewToken()
}

// OIDCRequestCookie is the name of the short-lived cookie that keeps a
// sign-in's OIDCRequest between AuthURL and Finish (HttpOnly,
// SameSite=Lax — the provider's redirect back is a top-level GET —,
// Secure behind TLS, Max-Age of a few minutes, deleted on the callback).
const OIDCRequestCookie = "af_staff_oidc"

// OIDCRequest is what one sign-in keeps for the browser: the tenant and
// the values of NewOIDCRequest.
type OIDCRequest struct {
	Tenant, State, Nonce, Verifier string
}

// NewOIDCRequestFor returns a fresh OIDCRequest for tenant.
func NewOIDCRequestFor(tenant string) OIDCRequest {
	st, n, v := NewOIDCRequest()
	return OIDCRequest{Tenant: tenant, State: st, Nonce: n, Verifier: v}
}

// Encode returns the cookie value of r (the values are URL-safe).
func (r OIDCRequest) Encode() string {
	return strings.Join([]string{r.Tenant, r.State, r.Nonce, r.Verifier}, ".")
}

// ParseOIDCRequest reads a cookie value of Encode. ok is false when it
// is malformed.
func ParseOIDCRequest(s string) (r OIDCRequest, ok bool) {
	p := strings.Split(s, ".")
	if len(p) != 4 || p[0] == "" || p[1] == "" || p[2] == "" || len(p[3]) < 43 {
		return OIDCRequest{}, false
	}
	return OIDCRequest{Tenant: p[0], State: p[1], Nonce: p[2], Verifier: p[3]}, true
}

// CheckState reports, in constant time, whether the state returned on
// the callback is the request's.
func (r OIDCRequest) CheckState(state string) bool {
	return r.State != "" && subtle.ConstantTimeCompare([]byte(r.State), []byte(state)) == 1
}

type nonceKey struct{}

func (o *OIDC) relyingParty(ctx context.Context) (rp.RelyingParty, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.party != nil {
		return o.party, nil
	}
	scopes := o.cfg.Scopes
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail}
	}
	if !slices.Contains(scopes, oidc.ScopeOpenID) {
		scopes = append([]string{oidc.ScopeOpenID}, scopes...)
	}
	p, err := rp.NewRelyingPartyOIDC(ctx, o.cfg.Issuer, o.cfg.ClientID, o.secret, o.redirectURL, scopes,
		rp.WithHTTPClient(o.client),
		rp.WithVerifierOpts(rp.WithNonce(func(ctx context.Context) string {
			n, _ := ctx.Value(nonceKey{}).(string)
			return n
		})))
	if err != nil {
		return nil, fmt.Errorf("staff: OpenID provider of %s (%s): %w", o.Tenant, o.cfg.Issuer, err)
	}
	o.party = p
	return p, nil
}

// AuthURLContext returns the provider's authorization URL for one
// sign-in (authorization code flow with PKCE S256 and the nonce).
func (o *OIDC) AuthURLContext(ctx context.Context, state, nonce, verifier string) (string, error) {
	p, err := o.relyingParty(ctx)
	if err != nil {
		return "", err
	}
	return rp.AuthURL(state, p,
		rp.WithCodeChallenge(oidc.NewSHACodeChallenge(verifier)),
		rp.AuthURLOpt(rp.WithURLParam("nonce", nonce))), nil
}

// AuthURL is AuthURLContext with a 10-second deadline for discovery; it
// returns "" when the provider cannot be reached (and logs why).
func (o *OIDC) AuthURL(state, nonce, verifier string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u, err := o.AuthURLContext(ctx, state, nonce, verifier)
	if err != nil && o.staff != nil {
		o.staff.opts.Logger.Error("staff sign-in: OpenID provider unreachable", "tenant", o.Tenant, "err", err)
	}
	return u
}

// Finish completes a sign-in on the callback: it exchanges the code
// (with the PKCE verifier), verifies the ID token (signature, issuer,
// audience, expiry, nonce), maps its claims to roles and offices, creates
// or updates the User (Source "oidc", ID "oidc:<tenant>:<subject>") and
// opens a session. Refusals wrap ErrOIDC; a token granting no role is
// ErrNoRole; a user disabled in Amtsform is ErrDisabled.
func (o *OIDC) Finish(ctx context.Context, code, verifier, nonce, addr string) (*Principal, error) {
	if o.staff == nil {
		return nil, errors.New("staff: OIDC not registered in Options.OIDC")
	}
	if nonce == "" || verifier == "" {
		return nil, fmt.Errorf("%w: the sign-in has no nonce or PKCE verifier (start it again)", ErrOIDC)
	}
	p, err := o.relyingParty(ctx)
	if err != nil {
		return nil, err
	}
	tokens, err := rp.CodeExchange[*oidc.IDTokenClaims](context.WithValue(ctx, nonceKey{}, nonce), code, p, rp.WithCodeVerifier(verifier))
	if err != nil {
		o.staff.changed(ctx, Change{Tenant: o.Tenant, Actor: "oidc", Action: "login.failed", Addr: addr, Detail: map[string]string{"reason": reason(err)}})
		return nil, fmt.Errorf("%w: %s: %w", ErrOIDC, reason(err), err)
	}
	claims := tokens.IDTokenClaims
	all := map[string]any{}
	for k, v := range claims.Claims {
		all[k] = v
	}
	name, email := claims.Name, claims.Email
	if name == "" {
		name = claims.PreferredUsername
	}
	if o.cfg.Userinfo {
		info, err := rp.Userinfo[*oidc.UserInfo](ctx, tokens.AccessToken, tokens.TokenType, claims.Subject, p)
		if err != nil {
			return nil, fmt.Errorf("%w: userinfo: %w", ErrOIDC, err)
		}
		if info.Subject != claims.Subject {
			return nil, fmt.Errorf("%w: userinfo is about another subject", ErrOIDC)
		}
		for k, v := range info.Claims {
			if _, ok := all[k]; !ok {
				all[k] = v
			}
		}
		if name == "" {
			name = cmp.Or(info.Name, info.PreferredUsername)
		}
		email = cmp.Or(email, info.Email)
	}
	roles, offices := o.mapClaims(all)
	id := "oidc:" + o.Tenant + ":" + claims.Subject
	if len(roles) == 0 {
		o.staff.changed(ctx, Change{Tenant: o.Tenant, Actor: id, Action: "login.failed", Object: id, Addr: addr, Detail: map[string]string{"reason": "no role"}})
		return nil, ErrNoRole
	}
	u, err := o.staff.upsertOIDC(ctx, User{ID: id, Tenant: o.Tenant, Name: name, Email: email, Roles: roles, Offices: offices})
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		o.staff.changed(ctx, Change{Tenant: o.Tenant, Actor: id, Action: "login.failed", Object: id, Addr: addr, Detail: map[string]string{"reason": "disabled"}})
		return nil, ErrDisabled
	}
	return o.staff.openSession(ctx, u, addr)
}

// reason names why a code exchange or token check failed, for the
// person signing in and the audit trail.
func reason(err error) string {
	switch {
	case errors.Is(err, oidc.ErrAudience):
		return "the ID token is not meant for this client (audience)"
	case errors.Is(err, oidc.ErrExpired):
		return "the ID token has expired"
	case errors.Is(err, oidc.ErrNonceInvalid):
		return "the ID token belongs to another sign-in (nonce)"
	case errors.Is(err, oidc.ErrIssuerInvalid):
		return "the ID token is from another issuer"
	case errors.Is(err, oidc.ErrSignatureInvalid), errors.Is(err, oidc.ErrSignatureUnsupportedAlg):
		return "the ID token's signature does not verify"
	case errors.Is(err, oidc.ErrAzpInvalid):
		return "the ID token was issued to another client (azp)"
	case errors.Is(err, rp.ErrMissingIDToken):
		return "the provider sent no ID token"
	}
	return "the provider refused the authorization code"
}

// claimValues returns the values at path: a string or a list of strings.
// Path segments are separated by dots; a map key containing dots (a
// Keycloak client id "amtsform.prod") is matched whole.
func claimValues(v any, path string) []string {
	if path == "" {
		switch x := v.(type) {
		case string:
			return []string{x}
		case []any:
			var out []string
			for _, e := range x {
				if s, ok := e.(string); ok {
					out = append(out, s)
				}
			}
			return out
		case []string:
			return x
		}
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	for i := len(path); i > 0; i-- {
		if i < len(path) && path[i] != '.' {
			continue
		}
		if x, ok := m[path[:i]]; ok {
			rest := ""
			if i < len(path) {
				rest = path[i+1:]
			}
			if out := claimValues(x, rest); out != nil {
				return out
			}
		}
	}
	return nil
}

// mapClaims maps the configured claims' values to roles and offices.
func (o *OIDC) mapClaims(claims map[string]any) (roles, offices []string) {
	paths := o.cfg.Claims
	if len(paths) == 0 {
		paths = []string{"realm_access.roles", "resource_access." + o.cfg.ClientID + ".roles", "groups"}
	}
	for _, p := range paths {
		for _, v := range claimValues(claims, p) {
			if r, ok := o.cfg.Roles[v]; ok {
				roles = append(roles, r)
			}
			offices = append(offices, o.cfg.Offices[v]...)
		}
	}
	sort.Strings(roles)
	sort.Strings(offices)
	return slices.Compact(roles), slices.Compact(offices)
}

// upsertOIDC creates the user of an OIDC sign-in or updates its name,
// e-mail, roles and offices from the claims (deputies and Disabled are
// Amtsform's own and stay).
func (s *Staff) upsertOIDC(ctx context.Context, in User) (*User, error) {
	now := s.now()
	in.Source, in.Created, in.Updated, in.Version = SourceOIDC, now, now, 1
	err := s.store.CreateStaffUser(ctx, &in)
	if err == nil {
		s.changed(ctx, Change{Tenant: in.Tenant, Actor: in.ID, Action: "user.added", Object: in.ID,
			Detail: map[string]string{"source": SourceOIDC, "roles": strings.Join(in.Roles, ","), "offices": strings.Join(in.Offices, ",")}})
		return &in, nil
	}
	if !errors.Is(err, record.ErrConflict) {
		return nil, fmt.Errorf("staff: OIDC user: %w", err)
	}
	changed := false
	u, err := s.update(ctx, in.ID, func(u *User) error {
		if u.Source != SourceOIDC || u.Tenant != in.Tenant {
			return fmt.Errorf("staff: OIDC user %s: %w", in.ID, record.ErrConflict)
		}
		changed = !slices.Equal(u.Roles, in.Roles) || !slices.Equal(u.Offices, in.Offices)
		u.Name, u.Email, u.Roles, u.Offices = in.Name, in.Email, in.Roles, in.Offices
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("staff: OIDC user: %w", err)
	}
	if changed {
		s.changed(ctx, Change{Tenant: u.Tenant, Actor: u.ID, Action: "user.updated", Object: u.ID,
			Detail: map[string]string{"source": SourceOIDC, "roles": strings.Join(u.Roles, ","), "offices": strings.Join(u.Offices, ",")}})
	}
	return u, nil
}

// OIDCFromInstallation returns the OIDC sign-ins of every tenant of in
// that declares a provider, for Options.OIDC. getenv reads the client
// secrets (os.Getenv); redirect returns a tenant's callback URL. A
// provider whose secret variable is unset is an error.
func OIDCFromInstallation(in *engine.Installation, getenv func(string) string, redirect func(tenant string) string, client *http.Client) (map[string]*OIDC, error) {
	out := map[string]*OIDC{}
	var errs []error
	for _, t := range in.Tenants {
		if t.OIDC == nil {
			continue
		}
		secret := ""
		if t.OIDC.ClientSecretEnv != "" {
			if secret = getenv(t.OIDC.ClientSecretEnv); secret == "" {
				errs = append(errs, fmt.Errorf("tenant %s: the OIDC client secret variable %s is not set", t.ID, t.OIDC.ClientSecretEnv))
				continue
			}
		}
		out[t.ID] = NewOIDC(t.ID, *t.OIDC, secret, redirect(t.ID), client)
	}
	return out, errors.Join(errs...)
}
