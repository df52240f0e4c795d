package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amtsform/amtsform/engine/record"
	"github.com/amtsform/amtsform/engine/staff"
)

// Staff checks staff.Store through engine/staff: accounts, sessions and
// their revocation, lockout, API tokens, concurrent sign-ins.
func Staff(t *testing.T, ns NewStore) {
	runCases(t, ns, []suiteCase{
		{"Users", testStaffUsers},
		{"Sessions", testStaffSessions},
		{"RevokedOnDisableAndPassword", testStaffRevoked},
		{"Lockout", testStaffLockout},
		{"Tokens", testStaffTokens},
		{"Rehash", testStaffRehash},
		{"Deputies", testStaffDeputies},
		{"ConcurrentLogins", testStaffConcurrentLogins},
		{"Sweep", testStaffSweep},
	})
}

// cheapArgon2 keeps the suite fast; the parameters are the same code path.
var cheapArgon2 = staff.Argon2Params{Memory: 1024, Time: 1, Threads: 1}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newStaff(s Store, opts staff.Options) (*staff.Staff, *clock) {
	c := &clock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	if opts.Argon2 == (staff.Argon2Params{}) {
		opts.Argon2 = cheapArgon2
	}
	opts.Now = c.Now
	opts.Logger = slog.New(slog.DiscardHandler)
	return staff.New(s, opts), c
}

const pw = "correct horse battery"

func addUser(t *testing.T, st *staff.Staff, id, tenant string, roles, offices []string) {
	t.Helper()
	if _, err := st.AddUser(ctxT(t), staff.User{ID: id, Tenant: tenant, Name: strings.ToUpper(id[:1]) + id[1:], Roles: roles, Offices: offices}, pw); err != nil {
		t.Fatal(err)
	}
}

func testStaffUsers(t *testing.T, ns NewStore) {
	s, another := ns(t)
	ctx := ctxT(t)
	st, _ := newStaff(s, staff.Options{})
	addUser(t, st, "erika", "musterstadt", []string{"caseworker"}, []string{"jugendamt"})
	addUser(t, st, "admin", "musterstadt", []string{"admin"}, nil)
	addUser(t, st, "kai", "kelkheim", []string{"caseworker", "auditor"}, []string{"ordnungsamt"})
	if _, err := st.AddUser(ctx, staff.User{ID: "Erika", Tenant: "kelkheim", Roles: []string{"auditor"}}, pw); !errors.Is(err, record.ErrConflict) {
		t.Fatalf("same name again (other case, other tenant): %v, want ErrConflict", err)
	}
	for _, bad := range []staff.User{
		{ID: "no spaces", Tenant: "m", Roles: []string{"admin"}},
		{ID: "x", Roles: []string{"admin"}},
		{ID: "x", Tenant: "m"},
		{ID: "x", Tenant: "m", Roles: []string{"root"}},
	} {
		if _, err := st.AddUser(ctx, bad, pw); !errors.Is(err, staff.ErrInvalid) {
			t.Errorf("AddUser(%+v): %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := st.AddUser(ctx, staff.User{ID: "short", Tenant: "m", Roles: []string{"admin"}}, "tooshort"); !errors.Is(err, staff.ErrInvalid) {
		t.Errorf("short password: %v, want ErrInvalid", err)
	}
	// another client sees them; listing is by tenant, without hashes
	st2, _ := newStaff(another(), staff.Options{})
	us, err := st2.List(ctx, "musterstadt")
	must(t, err)
	var ids []string
	for _, u := range us {
		ids = append(ids, u.ID)
		if u.PasswordHash != "" {
			t.Errorf("List returned the password hash of %s", u.ID)
		}
	}
	if strings.Join(ids, ",") != "admin,erika" {
		t.Errorf("List(musterstadt) = %v", ids)
	}
	if all, _ := st2.List(ctx, ""); len(all) != 3 {
		t.Errorf("List(all) = %d users, want 3", len(all))
	}
	u, err := s.StaffUser(ctx, "erika")
	must(t, err)
	if u.Source != "local" || !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=1024,t=1,p=1$") || u.Version != 1 || u.Created.IsZero() {
		t.Errorf("stored user: %+v", u)
	}
	// optimistic concurrency of UpdateStaffUser
	u.Name = "Erika M."
	must(t, s.UpdateStaffUser(ctx, u, 1))
	if u.Version != 2 {
		t.Errorf("version after update = %d, want 2", u.Version)
	}
	u.Name = "stale"
	if err := s.UpdateStaffUser(ctx, u, 1); !errors.Is(err, record.ErrConflict) {
		t.Errorf("stale update: %v, want ErrConflict", err)
	}
	if err := s.UpdateStaffUser(ctx, &record.User{ID: "nobody"}, 1); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("update of unknown user: %v, want ErrNotFound", err)
	}
	if got, _ := s.StaffUser(ctx, "erika"); got.Name != "Erika M." {
		t.Errorf("name = %q", got.Name)
	}
	if _, err := st.SetRoles(ctx, "erika", []string{"caseworker"}, []string{"jugendamt", "sozialamt"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.User(ctx, "erika"); strings.Join(got.Offices, ",") != "jugendamt,sozialamt" || got.PasswordHash != "" {
		t.Errorf("after SetRoles: %+v", got)
	}
}

func testStaffSessions(t *testing.T, ns NewStore) {
	s, another := ns(t)
	ctx := ctxT(t)
	var changes []string
	var mu sync.Mutex
	st, clk := newStaff(s, staff.Options{SessionIdle: 30 * time.Minute, SessionAbsolute: 2 * time.Hour,
		OnChange: func(_ context.Context, c staff.Change) {
			mu.Lock()
			changes = append(changes, c.Action+":"+c.Object)
			mu.Unlock()
		}})
	addUser(t, st, "erika", "musterstadt", []string{"caseworker"}, []string{"jugendamt"})
	p, err := st.Login(ctx, "Erika ", pw, "192.0.2.1")
	must(t, err)
	if p.SessionID == "" || p.CSRF == "" || p.User.ID != "erika" || p.User.PasswordHash != "" {
		t.Fatalf("principal: %+v", p)
	}
	// only the hash of the secret is stored
	if _, err := s.StaffSession(ctx, p.SessionID); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("session stored under its secret: %v", err)
	}
	st2, _ := newStaff(another(), staff.Options{SessionIdle: 30 * time.Minute, SessionAbsolute: 2 * time.Hour})
	q, err := st2.Session(ctx, p.SessionID)
	must(t, err)
	if q.CSRF != p.CSRF || !q.CheckCSRF(p.CSRF) || q.CheckCSRF("x"+p.CSRF) || q.CheckCSRF("") {
		t.Error("CSRF token of the session does not check")
	}
	if _, err := st.Session(ctx, p.SessionID+"x"); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("wrong secret: %v", err)
	}
	// idle expiry: activity within the idle time keeps it alive
	for i := 0; i < 3; i++ {
		clk.Add(20 * time.Minute)
		if _, err := st.Session(ctx, p.SessionID); err != nil {
			t.Fatalf("after %d×20 min with activity: %v", i+1, err)
		}
	}
	clk.Add(31 * time.Minute)
	if _, err := st.Session(ctx, p.SessionID); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("idle session: %v, want ErrNotFound", err)
	}
	// absolute expiry
	p, err = st.Login(ctx, "erika", pw, "192.0.2.1")
	must(t, err)
	for i := 0; i < 5; i++ {
		clk.Add(20 * time.Minute)
		if _, err := st.Session(ctx, p.SessionID); err != nil {
			t.Fatalf("within absolute expiry: %v", err)
		}
	}
	clk.Add(21 * time.Minute)
	if _, err := st.Session(ctx, p.SessionID); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("session past absolute expiry: %v, want ErrNotFound", err)
	}
	// logout
	p, err = st.Login(ctx, "erika", pw, "192.0.2.1")
	must(t, err)
	must(t, st.Logout(ctx, p.SessionID))
	if _, err := st2.Session(ctx, p.SessionID); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("session after logout: %v, want ErrNotFound", err)
	}
	must(t, st.Logout(ctx, p.SessionID)) // again: no error
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(changes, " "); !strings.Contains(got, "user.added:erika") || !strings.Contains(got, "login:erika") || !strings.Contains(got, "logout:erika") {
		t.Errorf("changes = %s", got)
	}
}

func testStaffRevoked(t *testing.T, ns NewStore) {
	s, another := ns(t)
	ctx := ctxT(t)
	st, _ := newStaff(s, staff.Options{})
	st2, _ := newStaff(another(), staff.Options{})
	addUser(t, st, "erika", "musterstadt", []string{"caseworker"}, []string{"jugendamt"})
	a, err := st.Login(ctx, "erika", pw, "192.0.2.1")
	must(t, err)
	b, err := st2.Login(ctx, "erika", pw, "192.0.2.2")
	must(t, err)
	must(t, st.Disable(ctx, "erika"))
	for _, p := range []*staff.Principal{a, b} {
		for _, x := range []*staff.Staff{st, st2} {
			if _, err := x.Session(ctx, p.SessionID); !errors.Is(err, record.ErrNotFound) {
				t.Errorf("session after disable: %v, want ErrNotFound", err)
			}
		}
	}
	if _, err := st.Login(ctx, "erika", pw, "192.0.2.1"); !errors.Is(err, staff.ErrDisabled) {
		t.Errorf("login when disabled: %v, want ErrDisabled", err)
	}
	if _, err := st.Login(ctx, "erika", "wrong password!", "192.0.2.1"); !errors.Is(err, staff.ErrBadCredentials) {
		t.Errorf("wrong password when disabled: %v, want ErrBadCredentials (disabled is told only with the right password)", err)
	}
	must(t, st.Enable(ctx, "erika"))
	if _, err := st.Session(ctx, a.SessionID); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("old session after enable: %v, want ErrNotFound", err)
	}
	c, err := st.Login(ctx, "erika", pw, "192.0.2.1")
	must(t, err)
	// password change ends every session at once
	must(t, st2.SetPassword(ctx, "erika", "a new long passphrase"))
	if _, err := st.Session(ctx, c.SessionID); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("session after password change: %v, want ErrNotFound", err)
	}
	if _, err := st.Login(ctx, "erika", pw, "192.0.2.1"); !errors.Is(err, staff.ErrBadCredentials) {
		t.Errorf("old password: %v", err)
	}
	if _, err := st.Login(ctx, "erika", "a new long passphrase", "192.0.2.1"); err != nil {
		t.Errorf("new password: %v", err)
	}
	// a session whose epoch is stale is refused even if it was not deleted
	// (a sign-in racing with the change)
	d, err := st.Login(ctx, "erika", "a new long passphrase", "192.0.2.1")
	must(t, err)
	u, _ := s.StaffUser(ctx, "erika")
	u.Epoch++
	must(t, s.UpdateStaffUser(ctx, u, u.Version))
	if _, err := st.Session(ctx, d.SessionID); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("session of an older epoch: %v, want ErrNotFound", err)
	}
}

func testStaffLockout(t *testing.T, ns NewStore) {
	s, _ := ns(t)
	ctx := ctxT(t)
	st, clk := newStaff(s, staff.Options{MaxFailures: 3, MaxAddrFailures: 8, FailureWindow: 10 * time.Minute, LockFor: 15 * time.Minute})
	addUser(t, st, "erika", "musterstadt", []string{"caseworker"}, []string{"jugendamt"})
	// an existing and an unknown name behave the same
	for _, name := range []string{"erika", "nobody"} {
		for i := 0; i < 2; i++ {
			if _, err := st.Login(ctx, name, "wrong password", "192.0.2.1"); !errors.Is(err, staff.ErrBadCredentials) {
				t.Fatalf("%s attempt %d: %v, want ErrBadCredentials", name, i+1, err)
			}
		}
		if _, err := st.Login(ctx, name, "wrong password", "192.0.2.1"); !errors.Is(err, staff.ErrLocked) {
			t.Fatalf("%s attempt 3: %v, want ErrLocked", name, err)
		}
		// the right password does not help while locked
		if _, err := st.Login(ctx, name, pw, "192.0.2.9"); !errors.Is(err, staff.ErrLocked) || errors.Is(err, staff.ErrRateLimited) {
			t.Fatalf("%s right password while locked: %v, want ErrLocked", name, err)
		}
	}
	clk.Add(16 * time.Minute)
	if _, err := st.Login(ctx, "erika", pw, "192.0.2.9"); err != nil {
		t.Fatalf("after the lock: %v", err)
	}
	// failures spread over time do not add up past the window
	for i := 0; i < 4; i++ {
		if _, err := st.Login(ctx, "erika", "wrong password", "192.0.2.3"); !errors.Is(err, staff.ErrBadCredentials) {
			t.Fatalf("spread failure %d: %v", i, err)
		}
		clk.Add(6 * time.Minute)
		if i%2 == 1 {
			clk.Add(5 * time.Minute)
		}
	}
	// a success resets the count
	if _, err := st.Login(ctx, "erika", "wrong password", "192.0.2.4"); err == nil {
		t.Fatal("wrong password accepted")
	}
	if _, err := st.Login(ctx, "erika", pw, "192.0.2.4"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := st.Login(ctx, "erika", "wrong password", "192.0.2.4"); !errors.Is(err, staff.ErrBadCredentials) {
			t.Fatalf("after a success, failure %d: %v", i+1, err)
		}
	}
	// one address trying many names is limited
	clk.Add(time.Hour)
	var last error
	for i := 0; i < 8; i++ {
		_, last = st.Login(ctx, fmt.Sprintf("guess%d", i), "wrong password", "198.51.100.7")
	}
	if !errors.Is(last, staff.ErrBadCredentials) {
		t.Fatalf("8th guess: %v", last)
	}
	if _, err := st.Login(ctx, "erika", pw, "198.51.100.7"); !errors.Is(err, staff.ErrRateLimited) || !errors.Is(err, staff.ErrLocked) {
		t.Fatalf("from a limited address: %v, want ErrRateLimited", err)
	}
	if _, err := st.Login(ctx, "erika", pw, "198.51.100.8"); err != nil {
		t.Fatalf("from another address: %v", err)
	}
}

func testStaffTokens(t *testing.T, ns NewStore) {
	s, another := ns(t)
	ctx := ctxT(t)
	st, clk := newStaff(s, staff.Options{})
	st2, _ := newStaff(another(), staff.Options{})
	secret, err := st.CreateToken(ctx, "musterstadt", "Fachverfahren Kita", []string{"jugendamt"}, []string{"caseworker"})
	must(t, err)
	id := staff.TokenID(secret)
	if id == "" || !strings.HasPrefix(secret, "aft_"+id+"_") {
		t.Fatalf("secret %q has no id", secret)
	}
	stored, err := s.APIToken(ctx, id)
	must(t, err)
	if strings.Contains(stored.Hash, secret) || stored.Hash == "" || len(stored.Hash) != 64 {
		t.Errorf("token stored as %q", stored.Hash)
	}
	clk.Add(time.Hour)
	p, err := st2.Token(ctx, secret)
	must(t, err)
	if p.TokenID != id || p.SessionID != "" || p.User.ID != "token:"+id || p.User.Tenant != "musterstadt" ||
		strings.Join(p.Roles(), ",") != "caseworker" || strings.Join(p.EffectiveOffices(clk.Now()), ",") != "jugendamt" {
		t.Errorf("token principal: %+v", p.User)
	}
	if got, _ := s.APIToken(ctx, id); got.LastUsed.IsZero() {
		t.Error("last use not recorded")
	}
	for _, bad := range []string{"", "aft_", secret + "x", strings.Replace(secret, id, "000000000000", 1), "Bearer " + secret} {
		if _, err := st.Token(ctx, bad); !errors.Is(err, record.ErrNotFound) {
			t.Errorf("Token(%q): %v, want ErrNotFound", bad, err)
		}
	}
	if _, err := st.CreateToken(ctx, "musterstadt", "x", nil, []string{"superuser"}); !errors.Is(err, staff.ErrInvalid) {
		t.Errorf("unknown role: %v", err)
	}
	other, err := st.CreateToken(ctx, "kelkheim", "Statistik", nil, []string{"auditor"})
	must(t, err)
	ts, err := st.Tokens(ctx, "musterstadt")
	must(t, err)
	if len(ts) != 1 || ts[0].ID != id || ts[0].Hash != "" || ts[0].Name != "Fachverfahren Kita" {
		t.Errorf("Tokens(musterstadt) = %+v", ts)
	}
	must(t, st.RevokeToken(ctx, id))
	for _, x := range []*staff.Staff{st, st2} {
		if _, err := x.Token(ctx, secret); !errors.Is(err, record.ErrNotFound) {
			t.Errorf("revoked token: %v, want ErrNotFound", err)
		}
	}
	if _, err := st.Token(ctx, other); err != nil {
		t.Errorf("the other token: %v", err)
	}
	if err := st.RevokeToken(ctx, "000000000000"); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("revoke unknown: %v", err)
	}
	if got, _ := s.APIToken(ctx, id); got.Revoked.IsZero() {
		t.Error("revocation time not stored")
	}
}

func testStaffRehash(t *testing.T, ns NewStore) {
	s, _ := ns(t)
	ctx := ctxT(t)
	old, _ := newStaff(s, staff.Options{Argon2: staff.Argon2Params{Memory: 512, Time: 1, Threads: 1}})
	addUser(t, old, "erika", "musterstadt", []string{"caseworker"}, []string{"jugendamt"})
	cur, _ := newStaff(s, staff.Options{Argon2: staff.Argon2Params{Memory: 2048, Time: 2, Threads: 1}})
	if _, err := cur.Login(ctx, "erika", pw, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	u, err := s.StaffUser(ctx, "erika")
	must(t, err)
	if !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=2048,t=2,p=1$") {
		t.Errorf("hash not upgraded: %s", u.PasswordHash)
	}
	if _, err := cur.Login(ctx, "erika", pw, "192.0.2.1"); err != nil {
		t.Fatalf("after rehash: %v", err)
	}
}

func testStaffDeputies(t *testing.T, ns NewStore) {
	s, _ := ns(t)
	ctx := ctxT(t)
	st, clk := newStaff(s, staff.Options{})
	addUser(t, st, "erika", "musterstadt", []string{"caseworker"}, []string{"jugendamt"})
	addUser(t, st, "max", "musterstadt", []string{"caseworker"}, []string{"sozialamt", "wohngeld"})
	addUser(t, st, "kai", "kelkheim", []string{"caseworker"}, []string{"ordnungsamt"})
	day := func(d int) time.Time { return time.Date(2026, 12, d, 0, 0, 0, 0, time.UTC) }
	if _, err := st.SetDeputies(ctx, "erika", []staff.Deputy{{User: "kai"}}); !errors.Is(err, staff.ErrInvalid) {
		t.Errorf("deputy for a user of another tenant: %v", err)
	}
	if _, err := st.SetDeputies(ctx, "erika", []staff.Deputy{{Office: "x", User: "max"}}); !errors.Is(err, staff.ErrInvalid) {
		t.Errorf("office and user: %v", err)
	}
	if _, err := st.SetDeputies(ctx, "erika", []staff.Deputy{{Office: "standesamt", From: day(5), Until: day(3)}}); !errors.Is(err, staff.ErrInvalid) {
		t.Errorf("period ending before it starts: %v", err)
	}
	_, err := st.SetDeputies(ctx, "erika", []staff.Deputy{
		{Office: "standesamt", From: day(3), Until: day(10)},
		{User: "max", From: day(8), Until: day(15)},
	})
	must(t, err)
	p, err := st.Login(ctx, "erika", pw, "192.0.2.1")
	must(t, err)
	for _, tc := range []struct {
		at   time.Time
		want string
		for_ string
	}{
		{day(2), "jugendamt", ""},
		{day(3), "jugendamt,standesamt", ""},
		{day(9), "jugendamt,sozialamt,standesamt,wohngeld", "max"},
		{day(10), "jugendamt,sozialamt,wohngeld", "max"},
		{day(15), "jugendamt", ""},
	} {
		if got := strings.Join(p.EffectiveOffices(tc.at), ","); got != tc.want {
			t.Errorf("EffectiveOffices(%s) = %s, want %s", tc.at.Format("Jan 2"), got, tc.want)
		}
		if got := strings.Join(p.StandsInFor(tc.at), ","); got != tc.for_ {
			t.Errorf("StandsInFor(%s) = %s, want %s", tc.at.Format("Jan 2"), got, tc.for_)
		}
	}
	// a session sees changed deputies at the next request
	_, err = st.SetDeputies(ctx, "erika", nil)
	must(t, err)
	clk.Add(time.Minute)
	q, err := st.Session(ctx, p.SessionID)
	must(t, err)
	if got := strings.Join(q.EffectiveOffices(day(9)), ","); got != "jugendamt" {
		t.Errorf("after removing the deputies: %s", got)
	}
}

func testStaffConcurrentLogins(t *testing.T, ns NewStore) {
	s, another := ns(t)
	ctx := ctxT(t)
	s2 := another()
	st, _ := newStaff(s, staff.Options{MaxFailures: 10, MaxAddrFailures: 1000})
	st2, _ := newStaff(s2, staff.Options{MaxFailures: 10, MaxAddrFailures: 1000})
	addUser(t, st, "erika", "musterstadt", []string{"caseworker"}, []string{"jugendamt"})
	const n = 8
	ids := make([]string, n)
	errs := make([]error, n)
	inParallel(n, s, s2, func(i int, _ Store) {
		x := st
		if i%2 == 1 {
			x = st2
		}
		p, err := x.Login(ctx, "erika", pw, fmt.Sprintf("192.0.2.%d", i))
		errs[i] = err
		if err == nil {
			ids[i] = p.SessionID
		}
	})
	seen := map[string]bool{}
	for i := range ids {
		if errs[i] != nil {
			t.Fatalf("concurrent login %d: %v", i, errs[i])
		}
		if seen[ids[i]] {
			t.Fatal("two logins got the same session")
		}
		seen[ids[i]] = true
		if _, err := st.Session(ctx, ids[i]); err != nil {
			t.Errorf("session %d: %v", i, err)
		}
	}
	// concurrent failures are all counted: 20 at once against a limit
	// of 10 lock the name, and the count reached is exact
	inParallel(20, s, s2, func(i int, _ Store) {
		x := st
		if i%2 == 1 {
			x = st2
		}
		_, _ = x.Login(ctx, "erika", "wrong password", "192.0.2.50")
	})
	if _, err := st.Login(ctx, "erika", pw, "192.0.2.51"); !errors.Is(err, staff.ErrLocked) {
		t.Errorf("after 20 concurrent failures: %v, want ErrLocked", err)
	}
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	inParallel(20, s, s2, func(i int, st Store) {
		if _, err := st.AddLoginFailure(ctx, "user:count", at, time.Hour); err != nil {
			t.Error(err)
		}
	})
	th, err := s.LoginThrottle(ctx, "user:count")
	must(t, err)
	if th.Count != 20 {
		t.Errorf("20 concurrent failures counted as %d", th.Count)
	}
}

func testStaffSweep(t *testing.T, ns NewStore) {
	s, _ := ns(t)
	ctx := ctxT(t)
	st, clk := newStaff(s, staff.Options{SessionIdle: 30 * time.Minute, SessionAbsolute: 8 * time.Hour,
		MaxFailures: 2, FailureWindow: 10 * time.Minute, LockFor: time.Hour})
	addUser(t, st, "erika", "musterstadt", []string{"caseworker"}, []string{"jugendamt"})
	idle, err := st.Login(ctx, "erika", pw, "192.0.2.1")
	must(t, err)
	_, _ = st.Login(ctx, "nobody", "wrong password", "192.0.2.2") // a count, no lock
	_, _ = st.Login(ctx, "locked", "wrong password", "192.0.2.3")
	_, _ = st.Login(ctx, "locked", "wrong password", "192.0.2.3") // locked for an hour
	clk.Add(25 * time.Minute)
	alive, err := st.Login(ctx, "erika", pw, "192.0.2.1")
	must(t, err)
	clk.Add(10 * time.Minute) // idle is 35 minutes idle, alive 10
	sessions, throttles, err := st.Sweep(ctx)
	must(t, err)
	// gone: the idle session; the count of "nobody" and both address
	// counts of 192.0.2.2 and .3 (windows over, never locked); kept: the
	// lock of "locked" and the count of 192.0.2.1 (none: successes only)
	if sessions != 1 || throttles != 3 {
		t.Errorf("swept %d sessions, %d throttles; want 1, 3", sessions, throttles)
	}
	if _, err := st.Session(ctx, alive.SessionID); err != nil {
		t.Errorf("live session swept: %v", err)
	}
	if _, err := s.StaffSession(ctx, hashOf(idle.SessionID)); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("idle session still stored: %v", err)
	}
	if th, _ := s.LoginThrottle(ctx, "user:locked"); th.LockedUntil.IsZero() {
		t.Error("a running lock was swept")
	}
}

func hashOf(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}
