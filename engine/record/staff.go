package record

import "time"

// Staff roles. A user holds any of them; engine/staff checks them.
const (
	RoleAdmin      = "admin"      // manages the tenant's staff and tokens, sees every office
	RoleCaseworker = "caseworker" // works the cases of their offices (and deputies')
	RoleAuditor    = "auditor"    // reads the audit trail, never changes a case
)

// User is a staff member's account (Sachbearbeiterin, administrator,
// auditor). Local accounts sign in with a password; OIDC accounts are
// created and updated from the identity provider's claims at sign-in.
type User struct {
	// ID is the login name of a local account (unique in the
	// installation) or "oidc:<tenant>:<subject>" for an OIDC account.
	ID       string
	Tenant   string
	Name     string // display name
	Email    string
	Roles    []string
	Offices  []string // offices the user works for (caseworker)
	Deputies []Deputy // periods the user stands in for another office or person
	Disabled bool
	Source   string // "local" | "oidc"
	// PasswordHash is an argon2id hash in PHC string format; empty for
	// OIDC accounts and local accounts without a password yet.
	PasswordHash string
	// Epoch is incremented by every change that must end the user's
	// sessions (password change, disable); a session is valid only with
	// the epoch it was created under.
	Epoch   int64
	Created time.Time
	Updated time.Time
	Version int64 // incremented by every successful write
}

// Deputy (Vertretung) lets a user stand in for an office or for another
// user (and so for that user's offices) during a period. Exactly one of
// Office and User is set. A zero From means "since ever", a zero Until
// "until further notice"; the period is [From, Until).
type Deputy struct {
	Office string
	User   string
	From   time.Time
	Until  time.Time
}

// Active reports whether the deputy period contains t.
func (d Deputy) Active(t time.Time) bool {
	return (d.From.IsZero() || !t.Before(d.From)) && (d.Until.IsZero() || t.Before(d.Until))
}

// Session is a signed-in staff member's server-side session. Only the
// SHA-256 of the session secret (the cookie value) is stored.
type Session struct {
	ID       string // hex SHA-256 of the secret
	User     string
	Tenant   string
	Epoch    int64 // the user's Epoch at sign-in
	CSRF     string
	Addr     string // client address at sign-in
	Created  time.Time
	LastSeen time.Time // for the idle expiry; updated at most once a minute
	Expires  time.Time // absolute expiry
}

// APIToken is a staff API token of an integration (Fachverfahren). The
// secret is shown once at creation; only its SHA-256 is stored.
type APIToken struct {
	ID       string // public id, part of the secret
	Tenant   string
	Name     string
	Offices  []string
	Roles    []string
	Hash     string // hex SHA-256 of the whole secret
	Created  time.Time
	LastUsed time.Time // updated at most once a minute
	Revoked  time.Time // zero while valid
}

// Throttle counts failed sign-ins under one key ("user:<name>" or
// "addr:<address>") within a window, and the lock they caused.
type Throttle struct {
	Key         string
	Count       int
	Start       time.Time // start of the counting window
	LockedUntil time.Time
}
