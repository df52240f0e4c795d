package staff

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/record"
)

// The OpenID provider of these tests is zitadel/oidc's pkg/op with the
// in-memory storage of its example server, on loopback behind httptest:
// a real provider (discovery, signed ID tokens, JWKS, PKCE, code
// exchange, userinfo). testProvider wraps the storage to give the test
// user Keycloak-style role and group claims and to issue the faulty
// tokens the refusal cases need.

const (
	testClientID = "amtsform.web" // a dotted id, as Keycloak allows
	testSecret   = "client-secret"
	testRedirect = "http://127.0.0.1:1/backoffice/oidc/callback" // never fetched
)

type testProvider struct {
	*storage.Storage

	mu       sync.Mutex
	claims   map[string]any
	asOther  bool          // the browser's flow runs as another client of the provider
	lifetime time.Duration // when set, the ID token's lifetime
}

func (p *testProvider) set(f func(p *testProvider)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

func (p *testProvider) addClaims(ui *oidc.UserInfo) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, v := range p.claims {
		ui.AppendClaims(k, v)
	}
}

// SetUserinfoFromRequest adds the role and group claims to the ID token.
func (p *testProvider) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, r op.IDTokenRequest, scopes []string) error {
	if err := p.Storage.SetUserinfoFromRequest(ctx, ui, r, scopes); err != nil {
		return err
	}
	p.addClaims(ui)
	return nil
}

// SetUserinfoFromToken adds them to the userinfo response.
func (p *testProvider) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := p.Storage.SetUserinfoFromToken(ctx, ui, tokenID, subject, origin); err != nil {
		return err
	}
	p.addClaims(ui)
	return nil
}

type lifetimeClient struct {
	op.Client
	d time.Duration
}

func (c lifetimeClient) IDTokenLifetime() time.Duration { return c.d }

func (p *testProvider) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := p.Storage.GetClientByClientID(ctx, id)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil || p.lifetime == 0 {
		return c, err
	}
	return lifetimeClient{c, p.lifetime}, nil
}

// startProvider starts the provider and returns it with its issuer URL.
func startProvider(t *testing.T) (*testProvider, string) {
	t.Helper()
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	issuer := srv.URL
	users := storage.NewUserStore(issuer)
	clients := map[string]*storage.Client{
		testClientID:   storage.WebClient(testClientID, testSecret, testRedirect),
		"other-client": storage.WebClient("other-client", "other-secret", testRedirect),
	}
	p := &testProvider{Storage: storage.NewStorageWithClients(users, clients)}
	var key [32]byte
	rand.Read(key[:])
	provider, err := op.NewProvider(&op.Config{CryptoKey: key, CodeMethodS256: true, SupportedUILocales: nil},
		p, op.StaticIssuer(issuer), op.WithAllowInsecure(), op.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	// The login UI: the test user signs in without a form.
	username := users.GetUserByID("id1").Username
	mux := http.NewServeMux()
	mux.HandleFunc("/login/username", func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("authRequestID")
		if err := p.CheckUsernamePassword(username, "verysecure", id); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		http.Redirect(w, r, issuer+"/authorize/callback?id="+url.QueryEscape(id), http.StatusFound)
	})
	mux.Handle("/", provider)
	// With asOther, the authorization and the code exchange run as
	// another client of the same provider: the back office then receives
	// a genuine, correctly signed ID token whose audience is that client
	// (a token meant for another application).
	handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		other := p.asOther
		p.mu.Unlock()
		if other && r.URL.Path == "/authorize" {
			q := r.URL.Query()
			q.Set("client_id", "other-client")
			r.URL.RawQuery = q.Encode()
		}
		if other && r.URL.Path == "/oauth/token" {
			r.SetBasicAuth("other-client", "other-secret")
		}
		mux.ServeHTTP(w, r)
	})
	return p, issuer
}

// browser follows the provider's redirects until the one to the back
// office's callback and returns its query.
func browser(t *testing.T, authURL string) url.Values {
	t.Helper()
	c := &http.Client{CheckRedirect: func(r *http.Request, via []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), testRedirect) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode/100 != 3 || err != nil || !strings.HasPrefix(loc.String(), testRedirect) {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("provider answered %d %s: %s", resp.StatusCode, resp.Header.Get("Location"), b)
	}
	return loc.Query()
}

func TestOIDC(t *testing.T) {
	prov, issuer := startProvider(t)
	cfg := OIDCConfig{
		Issuer: issuer, ClientID: testClientID, Userinfo: true,
		Roles:   map[string]string{"sachbearbeitung": "caseworker", "revision": "auditor", "amtsform-admin": "admin"},
		Offices: map[string][]string{"/aemter/jugendamt": {"jugendamt-main-taunus"}, "/aemter/standesamt": {"standesamt-hofheim"}},
	}
	o := NewOIDC("musterstadt", cfg, testSecret, testRedirect, nil)
	var changes []string
	var mu sync.Mutex
	store := newMemStore()
	st := New(store, Options{Argon2: Argon2Params{Memory: 1024, Time: 1, Threads: 1}, OIDC: map[string]*OIDC{"musterstadt": o},
		Logger: slog.New(slog.DiscardHandler),
		OnChange: func(_ context.Context, c Change) {
			mu.Lock()
			changes = append(changes, c.Action+" "+c.Detail["reason"])
			mu.Unlock()
		}})
	if got, ok := st.OIDC("musterstadt"); !ok || got != o {
		t.Fatal("OIDC(musterstadt) not found")
	}
	if _, ok := st.OIDC("kelkheim"); ok {
		t.Fatal("OIDC(kelkheim) found")
	}
	keycloak := map[string]any{
		"realm_access":    map[string]any{"roles": []any{"offline_access", "sachbearbeitung"}},
		"resource_access": map[string]any{testClientID: map[string]any{"roles": []any{"revision"}}, "other": map[string]any{"roles": []any{"amtsform-admin"}}},
		"groups":          []any{"/aemter/jugendamt", "/sport"},
	}
	prov.set(func(p *testProvider) { p.claims = keycloak })
	ctx := context.Background()

	// signIn runs one sign-in; finishNonce "" uses the nonce of the request.
	signIn := func(t *testing.T, finishNonce string, verifier func(string) string) (*Principal, error) {
		t.Helper()
		state, nonce, ver := NewOIDCRequest()
		u, err := o.AuthURLContext(ctx, state, nonce, ver)
		if err != nil {
			t.Fatal(err)
		}
		au, _ := url.Parse(u)
		if q := au.Query(); q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") != nonce ||
			q.Get("state") != state || q.Get("client_id") != testClientID || !strings.Contains(q.Get("scope"), "openid") {
			t.Fatalf("authorization URL %s", u)
		}
		q := browser(t, u)
		if q.Get("state") != state {
			t.Fatalf("state %q came back as %q", state, q.Get("state"))
		}
		if finishNonce == "" {
			finishNonce = nonce
		}
		if verifier != nil {
			ver = verifier(ver)
		}
		return o.Finish(ctx, q.Get("code"), ver, finishNonce, "192.0.2.7")
	}

	t.Run("Success", func(t *testing.T) {
		p, err := signIn(t, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		u := p.User
		if u.ID != "oidc:musterstadt:id1" || u.Source != SourceOIDC || u.Tenant != "musterstadt" || u.Name != "Test User" || u.Email != "test-user@zitadel.ch" {
			t.Errorf("user %+v", u)
		}
		// realm role, the role of this client (not of another), the group
		if strings.Join(u.Roles, ",") != "auditor,caseworker" || strings.Join(p.EffectiveOffices(time.Now()), ",") != "jugendamt-main-taunus" {
			t.Errorf("roles %v, offices %v", u.Roles, u.Offices)
		}
		q, err := st.Session(ctx, p.SessionID)
		if err != nil || q.User.ID != u.ID || !q.CheckCSRF(p.CSRF) {
			t.Fatalf("session: %v", err)
		}
		// the next sign-in updates roles and offices from the claims
		prov.set(func(p *testProvider) {
			p.claims = map[string]any{"realm_access": map[string]any{"roles": []any{"sachbearbeitung"}}, "groups": []any{"/aemter/standesamt"}}
		})
		defer prov.set(func(p *testProvider) { p.claims = keycloak })
		p, err = signIn(t, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(p.User.Roles, ",") != "caseworker" || strings.Join(p.User.Offices, ",") != "standesamt-hofheim" {
			t.Errorf("after the claims changed: roles %v, offices %v", p.User.Roles, p.User.Offices)
		}
		if us, _ := st.List(ctx, "musterstadt"); len(us) != 1 {
			t.Errorf("%d users after two sign-ins, want 1", len(us))
		}
	})

	refusals := []struct {
		name   string
		setup  func(p *testProvider)
		nonce  string
		ver    func(string) string
		cause  error
		reason string
	}{
		{name: "WrongAudience", setup: func(p *testProvider) { p.asOther = true },
			cause: oidc.ErrAudience, reason: "not meant for this client (audience)"},
		{name: "Expired", setup: func(p *testProvider) { p.lifetime = -time.Minute },
			cause: oidc.ErrExpired, reason: "the ID token has expired"},
		{name: "WrongNonce", nonce: "nonce-of-another-sign-in",
			cause: oidc.ErrNonceInvalid, reason: "belongs to another sign-in (nonce)"},
		{name: "WrongPKCEVerifier", ver: func(v string) string { return strings.Repeat("x", len(v)) },
			reason: "the provider refused the authorization code"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				prov.set(tc.setup)
				defer prov.set(func(p *testProvider) { p.asOther, p.lifetime = false, 0 })
			}
			p, err := signIn(t, tc.nonce, tc.ver)
			if err == nil {
				t.Fatalf("signed in as %s", p.User.ID)
			}
			t.Logf("refused: %v", err)
			if !errors.Is(err, ErrOIDC) || (tc.cause != nil && !errors.Is(err, tc.cause)) || !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("error %q, want ErrOIDC wrapping %v with %q", err, tc.cause, tc.reason)
			}
			mu.Lock()
			last := changes[len(changes)-1]
			mu.Unlock()
			if !strings.HasPrefix(last, "login.failed") || !strings.Contains(last, tc.reason) {
				t.Errorf("audit change %q", last)
			}
		})
	}

	t.Run("NoRole", func(t *testing.T) {
		prov.set(func(p *testProvider) { p.claims = map[string]any{"groups": []any{"/sport"}} })
		defer prov.set(func(p *testProvider) { p.claims = keycloak })
		if _, err := signIn(t, "", nil); !errors.Is(err, ErrNoRole) {
			t.Errorf("no role: %v, want ErrNoRole", err)
		}
	})

	t.Run("DisabledInAmtsform", func(t *testing.T) {
		p, err := signIn(t, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Disable(ctx, p.User.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Session(ctx, p.SessionID); !errors.Is(err, record.ErrNotFound) {
			t.Errorf("session after disable: %v", err)
		}
		if _, err := signIn(t, "", nil); !errors.Is(err, ErrDisabled) {
			t.Errorf("sign-in of a disabled OIDC user: %v, want ErrDisabled", err)
		}
		// an OIDC account has no password here
		if err := st.SetPassword(ctx, p.User.ID, "a long enough password"); !errors.Is(err, ErrInvalid) {
			t.Errorf("SetPassword of an OIDC user: %v", err)
		}
	})
}

func TestClaimValues(t *testing.T) {
	claims := map[string]any{
		"realm_access":    map[string]any{"roles": []any{"a", "b", 3}},
		"resource_access": map[string]any{"amtsform.prod": map[string]any{"roles": []any{"c"}}, "amtsform": map[string]any{"roles": []any{"d"}}},
		"groups":          []any{"/x"},
		"dept":            "jugendamt",
	}
	for path, want := range map[string]string{
		"realm_access.roles":                  "a,b",
		"resource_access.amtsform.prod.roles": "c",
		"resource_access.amtsform.roles":      "d",
		"groups":                              "/x",
		"dept":                                "jugendamt",
		"missing.roles":                       "",
		"realm_access":                        "",
	} {
		if got := strings.Join(claimValues(claims, path), ","); got != want {
			t.Errorf("claimValues(%s) = %q, want %q", path, got, want)
		}
	}
}

func TestOIDCUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	o := NewOIDC("musterstadt", OIDCConfig{Issuer: srv.URL, ClientID: "amtsform"}, "", testRedirect, nil)
	New(newMemStore(), Options{Logger: slog.New(slog.DiscardHandler), OIDC: map[string]*OIDC{"musterstadt": o}})
	if u := o.AuthURL("s", "n", "v"); u != "" {
		t.Errorf("AuthURL with the provider down = %q, want \"\"", u)
	}
}

func TestOIDCRequestCookie(t *testing.T) {
	r := NewOIDCRequestFor("musterstadt")
	got, ok := ParseOIDCRequest(r.Encode())
	if !ok || got != r || !got.CheckState(r.State) || got.CheckState(r.State+"x") || got.CheckState("") {
		t.Fatalf("round trip: %+v, %v", got, ok)
	}
	if len(r.Verifier) < 43 || len(r.Verifier) > 128 {
		t.Errorf("PKCE verifier of %d characters (RFC 7636: 43 to 128)", len(r.Verifier))
	}
	for _, bad := range []string{"", "a.b.c", "musterstadt.s.n.short", ".s.n." + r.Verifier, "a.b.c.d.e"} {
		if _, ok := ParseOIDCRequest(bad); ok {
			t.Errorf("ParseOIDCRequest(%q) ok", bad)
		}
	}
}

func TestOIDCFromInstallation(t *testing.T) {
	in := &engine.Installation{Tenants: []engine.TenantConfig{
		{ID: "musterstadt", OIDC: &engine.OIDCConfig{Issuer: "https://login.example/realms/m", ClientID: "amtsform", ClientSecretEnv: "M_SECRET"}},
		{ID: "kelkheim"},
		{ID: "eschborn", OIDC: &engine.OIDCConfig{Issuer: "https://login.example/realms/e", ClientID: "amtsform", ClientSecretEnv: "E_SECRET"}},
		{ID: "public", OIDC: &engine.OIDCConfig{Issuer: "https://login.example/realms/p", ClientID: "amtsform", RedirectURL: "https://x.example/cb"}},
	}}
	env := map[string]string{"M_SECRET": "s3cret"}
	got, err := OIDCFromInstallation(in, func(k string) string { return env[k] },
		func(tenant string) string { return "https://amtsform.example/backoffice/" + tenant + "/oidc/callback" }, nil)
	if err == nil || !strings.Contains(err.Error(), "tenant eschborn: the OIDC client secret variable E_SECRET is not set") {
		t.Errorf("error %v", err)
	}
	if len(got) != 2 || got["musterstadt"].secret != "s3cret" || got["kelkheim"] != nil ||
		got["musterstadt"].redirectURL != "https://amtsform.example/backoffice/musterstadt/oidc/callback" ||
		got["public"].redirectURL != "https://x.example/cb" {
		t.Errorf("got %+v", got)
	}
}
