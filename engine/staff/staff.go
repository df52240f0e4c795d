// Package staff signs staff members in and tells who they are: local
// accounts with argon2id passwords, OpenID Connect accounts from a
// tenant's identity provider, server-side sessions, and API tokens of
// integrations.
//
// Roles are admin, caseworker (bound to offices, and through deputies —
// Vertretung — to another office or person for a period) and auditor.
// The back office and the staff API build their actor from a Principal:
// its User's Roles and EffectiveOffices(now).
//
// Security properties:
//   - passwords are hashed with argon2id (OWASP parameters, PHC string
//     format), compared in constant time, rehashed when the parameters
//     change; an unknown user name costs the same hash as a known one;
//   - sessions live in the database: the cookie carries a 192-bit random
//     secret, the store only its SHA-256; they expire after an idle time
//     and absolutely, and end at once on logout, password change and
//     disable (the user's Epoch changes, Session checks it every time);
//   - failed sign-ins are counted per user name (existing or not, so a
//     lock tells nothing about whether the account exists) and per client
//     address; past the limit the name or address is locked for a period;
//   - API tokens are random secrets shown once; the store holds their
//     SHA-256, their tenant, offices and roles, their last use and
//     revocation.
package staff

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/amtsform/amtsform/engine/record"
)

// User and Deputy are the stored records (engine/record).
type (
	User   = record.User
	Deputy = record.Deputy
)

// Errors of sign-in. They never tell whether a user name exists:
// ErrBadCredentials covers an unknown name and a wrong password alike,
// and a name is locked after repeated failures whether it exists or not.
var (
	ErrBadCredentials = errors.New("wrong user name or password")
	ErrLocked         = errors.New("too many failed sign-ins: try again later")
	// ErrRateLimited is ErrLocked for a client address (errors.Is(err,
	// ErrLocked) holds for both).
	ErrRateLimited = fmt.Errorf("%w (this address)", ErrLocked)
	// ErrDisabled reports a disabled account; Login returns it only after
	// the right password.
	ErrDisabled = errors.New("account disabled")
	// ErrNoRole reports an OIDC sign-in whose claims grant no role.
	ErrNoRole = errors.New("the identity provider grants this account no role in Amtsform")
	// ErrInvalid reports invalid input to an administrative function
	// (user name, role, password policy).
	ErrInvalid = errors.New("invalid")
)

// Source values of User.Source.
const (
	SourceLocal = "local"
	SourceOIDC  = "oidc"
	SourceToken = "token" // the pseudo user of a Principal signed in by API token
)

// SessionCookie is the name of the cookie holding the session secret
// (Principal.SessionID). Set it HttpOnly, SameSite=Lax, Secure behind
// TLS, Path=/backoffice, without Max-Age (the server expires sessions).
const SessionCookie = "af_staff"

// Store is what the staff package needs of a store
// (engine/mongostore implements it; engine/storetest checks it).
type Store interface {
	// CreateStaffUser inserts u; record.ErrConflict if its ID exists.
	CreateStaffUser(ctx context.Context, u *record.User) error
	// StaffUser returns a user by ID or record.ErrNotFound.
	StaffUser(ctx context.Context, id string) (*record.User, error)
	// UpdateStaffUser replaces the user u.ID if its stored Version equals
	// expectVersion (else record.ErrConflict) and sets u.Version.
	UpdateStaffUser(ctx context.Context, u *record.User, expectVersion int64) error
	// StaffUsers lists the users of a tenant ("" = all), by ID.
	StaffUsers(ctx context.Context, tenant string) ([]*record.User, error)

	CreateStaffSession(ctx context.Context, s *record.Session) error
	// StaffSession returns a session by ID (the secret's hash) or record.ErrNotFound.
	StaffSession(ctx context.Context, id string) (*record.Session, error)
	TouchStaffSession(ctx context.Context, id string, at time.Time) error
	DeleteStaffSession(ctx context.Context, id string) error
	// DeleteStaffSessions deletes every session of a user.
	DeleteStaffSessions(ctx context.Context, user string) error

	// CreateAPIToken inserts t; record.ErrConflict if its ID exists.
	CreateAPIToken(ctx context.Context, t *record.APIToken) error
	APIToken(ctx context.Context, id string) (*record.APIToken, error)
	// APITokens lists a tenant's tokens ("" = all), by ID.
	APITokens(ctx context.Context, tenant string) ([]*record.APIToken, error)
	// RevokeAPIToken sets Revoked (once); record.ErrNotFound if unknown.
	RevokeAPIToken(ctx context.Context, id string, at time.Time) error
	TouchAPIToken(ctx context.Context, id string, at time.Time) error

	// LoginThrottle returns the failure count and lock under key (a zero
	// Throttle when there is none).
	LoginThrottle(ctx context.Context, key string) (record.Throttle, error)
	// AddLoginFailure counts one failure under key at time at and returns
	// the count within the window (starting a new window when the
	// current one began before at-window). Concurrent failures are all
	// counted.
	AddLoginFailure(ctx context.Context, key string, at time.Time, window time.Duration) (record.Throttle, error)
	// LockLogin locks key until the given time and resets its count.
	LockLogin(ctx context.Context, key string, until time.Time) error
	// ClearLoginFailures resets the count under key (a lock stays).
	ClearLoginFailures(ctx context.Context, key string) error

	// DeleteStaleStaffSessions deletes the sessions that expired before
	// expiredBefore or were last seen before idleBefore.
	DeleteStaleStaffSessions(ctx context.Context, expiredBefore, idleBefore time.Time) (int, error)
	// DeleteStaleLoginThrottles deletes the throttles whose window began
	// before windowBefore and whose lock (if any) ended before now.
	DeleteStaleLoginThrottles(ctx context.Context, windowBefore, now time.Time) (int, error)
}

// Change is an administrative change or a sign-in event, for the audit
// trail (Options.OnChange). It carries no password, secret or citizen data.
type Change struct {
	Tenant string
	Actor  string // who did it: a user id, "cli", or the user signing in
	Action string // "user.added", "user.password", "user.disabled", "user.enabled", "user.updated",
	// "user.deputies", "token.created", "token.revoked", "login", "login.failed", "login.locked", "logout"
	Object string // the user or token id
	Addr   string
	Detail map[string]string
}

// Options configure Staff. Zero values select the defaults.
type Options struct {
	Argon2 Argon2Params // default DefaultArgon2
	// MinPasswordLength is the shortest password accepted (default 12).
	MinPasswordLength int

	SessionIdle     time.Duration // default 30 minutes
	SessionAbsolute time.Duration // default 10 hours

	// MaxFailures failed sign-ins of one user name within FailureWindow
	// lock the name for LockFor (defaults 5, 15 min, 15 min).
	MaxFailures   int
	FailureWindow time.Duration
	LockFor       time.Duration
	// MaxAddrFailures failed sign-ins from one client address within
	// FailureWindow lock the address for LockFor (default 50).
	MaxAddrFailures int

	// MaxConcurrentHashes bounds the argon2id computations running at
	// once (each takes Argon2.Memory); default 4.
	MaxConcurrentHashes int

	// OIDC configures sign-in through each tenant's identity provider
	// (see NewOIDC); nil for none.
	OIDC map[string]*OIDC

	// OnChange, when set, is called after every administrative change
	// and sign-in event (the lead wires it to the audit log).
	OnChange func(ctx context.Context, c Change)

	Now    func() time.Time
	Logger *slog.Logger
}

// Staff is safe for concurrent use.
type Staff struct {
	store Store
	opts  Options
	sem   chan struct{}
	dummy string // hash compared against when a user name is unknown
}

// New returns a Staff on store.
func New(store Store, opts Options) *Staff {
	if opts.Argon2 == (Argon2Params{}) {
		opts.Argon2 = DefaultArgon2
	}
	if opts.MinPasswordLength <= 0 {
		opts.MinPasswordLength = 12
	}
	if opts.SessionIdle <= 0 {
		opts.SessionIdle = 30 * time.Minute
	}
	if opts.SessionAbsolute <= 0 {
		opts.SessionAbsolute = 10 * time.Hour
	}
	if opts.MaxFailures <= 0 {
		opts.MaxFailures = 5
	}
	if opts.MaxAddrFailures <= 0 {
		opts.MaxAddrFailures = 50
	}
	if opts.FailureWindow <= 0 {
		opts.FailureWindow = 15 * time.Minute
	}
	if opts.LockFor <= 0 {
		opts.LockFor = 15 * time.Minute
	}
	if opts.MaxConcurrentHashes <= 0 {
		opts.MaxConcurrentHashes = 4
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Staff{store: store, opts: opts, sem: make(chan struct{}, opts.MaxConcurrentHashes)}
	s.dummy = hashPassword("amtsform-dummy-password", opts.Argon2)
	for _, o := range opts.OIDC {
		if o != nil {
			o.staff = s
		}
	}
	return s
}

func (s *Staff) now() time.Time { return s.opts.Now().UTC().Truncate(time.Millisecond) }

type actorKey struct{}

type actorVal struct{ actor, addr string }

// WithActor returns a context naming who performs the administrative
// changes made with it (a user id or "cli") and from which address; the
// name goes into Change.Actor.
func WithActor(ctx context.Context, actor, addr string) context.Context {
	return context.WithValue(ctx, actorKey{}, actorVal{actor, addr})
}

func (s *Staff) changed(ctx context.Context, c Change) {
	if c.Actor == "" {
		if a, ok := ctx.Value(actorKey{}).(actorVal); ok {
			c.Actor, c.Addr = a.actor, a.addr
		}
	}
	if c.Actor == "" {
		c.Actor = "system"
	}
	if s.opts.OnChange != nil {
		s.opts.OnChange(ctx, c)
	}
}

// Principal is who is signed in: a user with a session, or the pseudo
// user of an API token (User.ID "token:<id>", User.Source "token").
type Principal struct {
	User      *User
	SessionID string // the session secret (the cookie value); "" for a token
	TokenID   string // the API token's id; "" for a session
	CSRF      string // the session's CSRF token; "" for a token

	// personOffices are the person deputies of User.Deputies resolved to
	// office deputies (the offices of the person stood in for, at the
	// session or token lookup).
	personOffices []Deputy
}

// Roles returns the principal's roles.
func (p *Principal) Roles() []string { return slices.Clone(p.User.Roles) }

// HasRole reports whether the principal holds role.
func (p *Principal) HasRole(role string) bool { return slices.Contains(p.User.Roles, role) }

// EffectiveOffices returns the offices whose cases the principal sees at
// now: its own offices and those of every deputy period containing now
// (an office stood in for, or the offices of the person stood in for),
// sorted, without duplicates. What an admin sees beyond that is the
// caller's rule.
func (p *Principal) EffectiveOffices(now time.Time) []string {
	out := slices.Clone(p.User.Offices)
	for _, d := range append(slices.Clone(p.User.Deputies), p.personOffices...) {
		if d.Office != "" && d.Active(now) {
			out = append(out, d.Office)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// StandsInFor returns the users the principal is a deputy for at now
// (whose own cases it may work).
func (p *Principal) StandsInFor(now time.Time) []string {
	var out []string
	for _, d := range p.User.Deputies {
		if d.User != "" && d.Active(now) {
			out = append(out, d.User)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// CheckCSRF reports, in constant time, whether token is the session's
// CSRF token. Back-office forms carry Principal.CSRF in a hidden field;
// every state-changing request must pass this check. A token principal
// (no session, no cookie) needs no CSRF token and always passes.
func (p *Principal) CheckCSRF(token string) bool {
	if p.SessionID == "" && p.TokenID != "" {
		return true
	}
	return p.CSRF != "" && subtle.ConstantTimeCompare([]byte(p.CSRF), []byte(token)) == 1
}

func (s *Staff) principal(ctx context.Context, u *User) *Principal {
	c := *u
	c.PasswordHash = ""
	return &Principal{User: &c, personOffices: personOffices(u, s.now(), s.colleague(ctx))}
}

// colleague looks a user up by id for personOffices; nil when unknown.
func (s *Staff) colleague(ctx context.Context) func(id string) *User {
	return func(id string) *User {
		o, err := s.store.StaffUser(ctx, id)
		if err != nil {
			return nil
		}
		return o
	}
}

// personOffices resolves u's person deputies not yet ended at now to
// office deputies over the same periods: the offices of each colleague
// stood in for who is of u's tenant and enabled.
func personOffices(u *User, now time.Time, colleague func(id string) *User) []Deputy {
	var out []Deputy
	for _, d := range u.Deputies {
		if d.User == "" || (!d.Until.IsZero() && !now.Before(d.Until)) {
			continue
		}
		o := colleague(d.User)
		if o == nil || o.Tenant != u.Tenant || o.Disabled {
			continue
		}
		for _, off := range o.Offices {
			out = append(out, Deputy{Office: off, From: d.From, Until: d.Until})
		}
	}
	return out
}

func hashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// Roles a user or token may hold.
var validRoles = []string{record.RoleAdmin, record.RoleCaseworker, record.RoleAuditor}

var (
	userIDPattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)
	officeIDPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
)

func checkRoles(roles, offices []string) error {
	if len(roles) == 0 {
		return fmt.Errorf("%w: at least one role is needed (%s)", ErrInvalid, strings.Join(validRoles, ", "))
	}
	for _, r := range roles {
		if !slices.Contains(validRoles, r) {
			return fmt.Errorf("%w: unknown role %q (want %s)", ErrInvalid, r, strings.Join(validRoles, ", "))
		}
	}
	for _, o := range offices {
		if !officeIDPattern.MatchString(o) {
			return fmt.Errorf("%w: malformed office id %q", ErrInvalid, o)
		}
	}
	return nil
}

func normalise(xs []string) []string {
	var out []string
	for _, x := range xs {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}
