package backoffice_test

// Fuzz targets of the back office's input paths, driven through the
// router as a browser would: the case actions and the catalogue forms
// (FuzzActions), the inbox's and the case view's query strings
// (FuzzQuery), the sign-in form and its next target (FuzzSignIn), and
// the OpenID callback (FuzzOIDCCallback). Whatever comes in, nothing
// may panic, no answer may be a 5xx, every error is the back office's
// own page, and no redirect leaves the site.

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amtsform/amtsform/api/apitest"
	bo "github.com/amtsform/amtsform/api/backoffice"
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/ui"
)

var (
	fuzzTmplOnce sync.Once
	fuzzTmpl     *template.Template
	fuzzTmplErr  error
)

// fuzzHost is the host the fuzz requests are sent to.
const fuzzHost = "amtsform.example"

// newFuzzFixture is a fixture with a fresh world for every fuzz input, so
// that a failing input fails again on its own, and with an admin, ida,
// who may take every action (retry and the catalogue included). The
// templates are parsed once; sign-in is not rate limited.
func newFuzzFixture(t *testing.T, change func(*bo.Deps)) *fixture {
	t.Helper()
	fuzzTmplOnce.Do(func() { fuzzTmpl, fuzzTmplErr = ui.BackofficeTemplates() })
	if fuzzTmplErr != nil {
		t.Fatal(fuzzTmplErr)
	}
	kita := apitest.Example(t, "kita-gebuehren")
	w := newWorld(func() time.Time { return now }, []*engine.Service{kita})
	seed(t, w, kita, now)
	w.oidcUser = "bernd"
	w.addUser(&bo.User{ID: "ida", Tenant: "musterstadt", Name: "Ida Imhof", Roles: []string{"admin"}, Offices: []string{officeA}}, "ida-pw")
	d := deps(w)
	d.Templates = fuzzTmpl
	d.LoginRate = 1 << 30
	if change != nil {
		change(&d)
	}
	return &fixture{t: t, w: w, app: newAppDeps(t, d), kita: kita, wf: workflowNames(t, kita)}
}

// rawQuery makes s usable as the query of a request line: the bytes an
// HTTP client could not send (controls, space, '#', non-ASCII) are
// percent-encoded, everything else, broken escapes and repeated keys
// included, stays as it is.
func rawQuery(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == '#' || c >= 0x7f {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// maxQuery bounds the raw query of a fuzz request: with the rest of the
// request line and the headers it must fit fasthttp's read buffer
// (4 KiB), or the server answers 431 before any handler runs (and
// app.Test returns an error instead).
const maxQuery = 1536

// request builds a request to path with a raw query and, for a POST, a
// URL-encoded form body.
func request(method, path, query, body string) *http.Request {
	var rd io.Reader
	if method == http.MethodPost {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, "http://"+fuzzHost+path, rd)
	// app.Test sends RequestURI as it is
	req.URL.RawQuery = rawQuery(query)
	if len(req.URL.RawQuery) > maxQuery {
		req.URL.RawQuery = req.URL.RawQuery[:maxQuery]
	}
	req.RequestURI = req.URL.RequestURI()
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return req
}

// checkPage fails for what no back office answer may be: a 5xx, an
// error that is not the back office's HTML page, a redirect that leaves
// the back office.
func checkPage(t *testing.T, what string, r resp) {
	t.Helper()
	switch {
	case r.StatusCode >= 500:
		t.Fatalf("%s: status %d\n%s", what, r.StatusCode, clip(r.body))
	case r.StatusCode >= 400:
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || !strings.Contains(r.body, "<html") {
			t.Fatalf("%s: status %d answers %q, not the back office's page\n%s", what, r.StatusCode, ct, clip(r.body))
		}
	case r.StatusCode >= 300:
		if loc := r.Header.Get("Location"); !onSite(loc) {
			t.Fatalf("%s: status %d redirects off the back office to %q", what, r.StatusCode, loc)
		}
	}
	for _, ck := range r.Header.Values("Set-Cookie") {
		if strings.ContainsAny(ck, "\r\n") {
			t.Fatalf("%s: Set-Cookie %q", what, ck)
		}
	}
}

// onSite reports whether loc is a back office path that every browser
// reads the same: printable ASCII without a backslash (which browsers
// take for a slash), starting with /backoffice/, so that it names a
// path on this site and never another host.
func onSite(loc string) bool {
	for i := 0; i < len(loc); i++ {
		if c := loc[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return false
		}
	}
	return strings.HasPrefix(loc, "/backoffice/")
}

// TestOnSite pins the redirect check the fuzz targets rely on.
func TestOnSite(t *testing.T) {
	for _, tc := range []struct {
		loc  string
		want bool
	}{
		{"/backoffice/", true},
		{"/backoffice/cases/KITA-2026-000001?done=claim", true},
		{"/backoffice/%2F%2Fevil.example", true},
		{"/backoffice/../../evil", true}, // a path on this site
		{"/backoffice/..%2F..%2", true},
		{"/backoffice/\x00", false},
		{"/backoffice/ä", false},
		{"https://evil.example/backoffice/", false},
		{"//evil.example/backoffice/", false},
		{"/\\evil.example/backoffice/", false},
		{"\\\\evil.example/backoffice/", false},
		{"/\t/evil.example/backoffice/", false},
		{" //evil.example/backoffice/", false},
		{"/musterstadt/", false},
		{"", false},
	} {
		if got := onSite(tc.loc); got != tc.want {
			t.Errorf("onSite(%q) = %v, want %v", tc.loc, got, tc.want)
		}
	}
}

// actionRoutes are the back office's form posts (":ref" a case).
var actionRoutes = []string{
	"/backoffice/cases/:ref/claim",
	"/backoffice/cases/:ref/assign",
	"/backoffice/cases/:ref/transition",
	"/backoffice/cases/:ref/note",
	"/backoffice/cases/:ref/schedule",
	"/backoffice/cases/:ref/documents",
	"/backoffice/cases/:ref/retry",
	"/backoffice/catalogue/plan",
	"/backoffice/catalogue/install",
	"/backoffice/logout",
}

// FuzzActions posts arbitrary form bodies and query strings to every
// action route, as a signed-in admin with the session's CSRF token.
// route picks the route (modulo their number) and, from 128 on, the
// case anna works on instead of the unassigned one.
func FuzzActions(f *testing.F) {
	long := strings.Repeat("Ä", 4001)
	seeds := map[string][]string{
		"claim":  {"version=1", "version=-1", "version=99999999999999999999", "version=1&version=2", "version=%zz", "version="},
		"assign": {"version=1&to=bernd", "version=1&to=", "version=1&to=zora", "version=1&to=dirk", "version=1&to=bernd&to=anna", "to=bernd"},
		"transition": {"version=1&transition=pruefen", "version=1&transition=zurueckziehen&comment=Antrag+zur%C3%BCckgenommen%2C+R%C3%BCckruf+am+31.12.2026",
			"version=1&transition=zurueckziehen&commentRequired=1&comment=", "version=1&transition=bewilligen", "version=1&transition=nachfordern",
			"version=1&transition=vorbereiten&comment=" + url.QueryEscape(long), "version=1&transition=", "version=1&transition=%FF%FE&comment=%E4%F6%FC",
			"version=1&transition=pruefen&transition=ablehnen"},
		"note": {"text=R%C3%BCckruf+vereinbart%2C+Frau+M%C3%BC%C3%9Fig+meldet+sich", "text=", "text=+%0D%0A+", "text=" + url.QueryEscape(long), "text=%00%01%02", "text=a&text=b"},
		"schedule": {"version=1&due=2026-12-31&followUp=&priority=1", "version=1&due=31.12.2026&followUp=2026-12-24&priority=2",
			"version=1&due=2026-02-30&followUp=0000-01-01&priority=3", "version=1&due=9999-12-31&followUp=-0001-01-01&priority=-1",
			"version=1&due=&followUp=&priority=0", "version=1&due=2026-12-31T00:00:00Z&priority=1e3", "version=1&priority=2&priority=0&due=2026-1-1"},
		"documents": {"version=1&fields=incomeProof&message=Bitte+reichen+Sie+den+Einkommensnachweis+ein.&deadline=2026-12-20",
			"version=1&fields=incomeProof&fields=nope&fields=&message=x&deadline=31.12.2026", "version=1&message=&deadline=2026-11-30",
			"version=1&fields=incomeProof&message=" + url.QueryEscape(long) + "&deadline=2026-12-01", "version=1&fields=applicant.givenName&message=%C3%A4&deadline=2027-01-01"},
		"retry":   {"destination=fachverfahren", "destination=abruf", "destination=", "destination=nope", "destination=%2E%2E%2Ffachverfahren"},
		"plan":    {"module=land.hessen.example%2Fkita%40v1&version=v1.1.0", "module=land.hessen.example/kita@v1&version=v9.9.9", "module=&version=", "module=%00&version=..%2F.."},
		"install": {"module=land.hessen.example/kita@v1&version=v1.0.1&hash=sha256:abab0101", "module=land.hessen.example/kita@v1&version=v1.1.0&hash=sha256:x&confirm=1", "module=land.hessen.example/kita@v1&version=v1.1.0&hash=&confirm=0"},
		"logout":  {"", "next=//evil.example"},
	}
	queries := []string{"", "lang=en", "done=claim&lang=de", "next=//evil.example&lang=%FF", "version=2&_csrf=forged", "lang=en&lang=de&&=&%"}
	for i, r := range actionRoutes {
		name := r[strings.LastIndexByte(r, '/')+1:]
		for j, body := range seeds[name] {
			f.Add(uint8(i), queries[j%len(queries)], body)
			if j == 0 {
				f.Add(uint8(i+128), "", body)
			}
		}
	}
	f.Add(uint8(2), "", "version=1&transition=pruefen&_csrf=forged")
	f.Add(uint8(4), "", "version=1&due=2026-12-31&due=2027-01-01&priority=1&%=%&==&&")
	f.Fuzz(func(t *testing.T, route uint8, query, body string) {
		fx := newFuzzFixture(t, nil)
		ref := refA1
		if route >= 128 {
			ref = refA2
		}
		path := strings.Replace(actionRoutes[int(route)%len(actionRoutes)], ":ref", ref, 1)
		ida := fx.w.session("ida")
		req := request(http.MethodPost, path, query, "_csrf="+url.QueryEscape(ida.CSRF)+"&"+body)
		req.Header.Set("Cookie", "af_staff="+ida.SessionID)
		checkPage(t, "POST "+path, fx.do(req))
	})
}

// FuzzQuery sends arbitrary query strings to the pages that read them:
// the inboxes (filter, sort, page), the case view (done notice), the
// audit trail and its export, the catalogue and the sign-in page.
func FuzzQuery(f *testing.F) {
	paths := []string{"/backoffice/", "/backoffice/office/" + officeA, "/backoffice/cases/" + refA1, "/backoffice/audit", "/backoffice/audit/export",
		"/backoffice/catalogue", "/backoffice/login"}
	for _, q := range []string{
		"", "q=KITA-2026&status=eingegangen&status=in-pruefung&service=kita-gebuehren&sort=due",
		"from=2026-11-01&to=2026-12-31&overdue=1&followup=1&assignee=me", "from=31.12.2026&to=01.01.2026", "from=2026-12-31&to=2026-01-01",
		"from=2026-02-30&to=0000-00-00&page=-1", "page=99999999999999999999&sort=-age&assignee=-", "page=2147483647&sort=priority",
		"q=M%C3%BC%C3%9Fig&status=&status=%FF&assignee=bernd&assignee=anna", "done=claim&lang=en", "done=%3Cscript%3E&lang=xx",
		"after=-1&format=csv", "format=ndjson&after=9223372036854775807", "format=..%2F..%2Fetc%2Fpasswd", "installed=land.hessen.example%2Fkita%40v1%40v1.0.0",
		"next=//evil.example", "lang=en&lang=de&&=&%",
	} {
		for i := range paths {
			f.Add(uint8(i), q)
		}
	}
	f.Fuzz(func(t *testing.T, page uint8, query string) {
		fx := newFuzzFixture(t, nil)
		path := paths[int(page)%len(paths)]
		user := "anna"
		if strings.HasPrefix(path, "/backoffice/audit") || strings.HasPrefix(path, "/backoffice/catalogue") {
			user = "ida"
		}
		p := fx.w.session(user)
		req := request(http.MethodGet, path, query, "")
		if page < 128 {
			req.Header.Set("Cookie", "af_staff="+p.SessionID)
		}
		checkPage(t, "GET "+path, fx.do(req))
	})
}

// FuzzSignIn signs in with an arbitrary next target, extra form fields
// and query, by password and through the OpenID callback, and asks the
// sign-in page of a signed-in user to go on to it: every answer must
// stay in the back office.
func FuzzSignIn(f *testing.F) {
	for _, next := range []string{
		"/backoffice/cases/" + refA1, "/backoffice/office/" + officeA + "?status=eingegangen", "", "https://evil.example/", "//evil.example/",
		"/\\evil.example", "\\/evil.example", "/backoffice/\\evil", "/backoffice/login?next=//evil.example", "/backoffice/oidc/musterstadt/start",
		"%2F%2Fevil.example", "/%2F/evil.example", "/backoffice/%2F%2Fevil.example", "/backoffice/..%2F..%2F%2Fevil.example",
		"/backoffice/\t/evil.example", " //evil.example", "\t//evil.example", "/backoffice/\r\nLocation: //evil.example",
		"javascript:alert(1)", "data:text/html,hi", "/musterstadt/", "/backoffice/\x00", "/backoffice/ä?ü=ß#frag",
	} {
		f.Add(next, "", "")
	}
	f.Add("/backoffice/", "next=//evil.example", "next=//evil.example")
	f.Add("/backoffice/", "lang=en", "username=&password=")
	f.Add("/backoffice/", "", "_csrf=forged")
	f.Add("/backoffice/", "", "username=zora&password=nope")
	f.Add("/backoffice/", "", "%zz=%zz&username=anna%FF")
	f.Fuzz(func(t *testing.T, next, query, extra string) {
		fx := newFuzzFixture(t, nil)
		cookie, token := fx.loginForm(t)
		form := url.Values{"_csrf": {token}, "username": {"anna"}, "password": {"anna-pw"}, "next": {next}}
		req := request(http.MethodPost, "/backoffice/login", query, extra+"&"+form.Encode())
		req.Header.Set("Cookie", "af_csrf="+cookie)
		checkPage(t, "sign-in", fx.do(req))

		// the sign-in page, signed in and not, and the OpenID round trip
		q := "next=" + url.QueryEscape(next) + "&" + query
		req = request(http.MethodGet, "/backoffice/login", q, "")
		req.Header.Set("Cookie", "af_staff="+fx.w.session("anna").SessionID)
		checkPage(t, "sign-in page, signed in", fx.do(req))
		checkPage(t, "sign-in page", fx.do(request(http.MethodGet, "/backoffice/login", q, "")))
		start := fx.do(request(http.MethodGet, "/backoffice/oidc/musterstadt/start", q, ""))
		checkPage(t, "OpenID start", start)
		loc, err := url.Parse(start.Header.Get("Location"))
		ck := oidcCookieRe.FindStringSubmatch(strings.Join(start.Header.Values("Set-Cookie"), "\n"))
		if start.StatusCode != http.StatusSeeOther || err != nil || ck == nil {
			t.Fatalf("OpenID start: %d, Location %q, Set-Cookie %q", start.StatusCode, start.Header.Get("Location"), start.Header.Get("Set-Cookie"))
		}
		req = request(http.MethodGet, "/backoffice/oidc/musterstadt/callback", loc.RawQuery, "")
		req.Header.Set("Cookie", "af_bo_oidc="+ck[1])
		r := fx.do(req)
		if r.StatusCode != http.StatusSeeOther {
			t.Fatalf("OpenID callback: %d, want 303\n%s", r.StatusCode, clip(r.body))
		}
		checkPage(t, "OpenID callback", r)
	})
}

var oidcCookieRe = regexp.MustCompile(`af_bo_oidc=([^;]+)`)

// refusingOIDC is a provider that signs nobody in: its token endpoint
// refuses every code (norole, disabled and locked as the staff
// accounts would, anything else as an unreachable provider).
type refusingOIDC struct{}

func (refusingOIDC) AuthURL(state, nonce, verifier string) string {
	return "https://login.example/authorize?response_type=code&state=" + url.QueryEscape(state)
}

func (refusingOIDC) Finish(ctx context.Context, code, verifier, nonce, addr string) (*bo.Principal, error) {
	switch code {
	case "norole":
		return nil, bo.ErrNoRole
	case "disabled":
		return nil, fmt.Errorf("staff: %w", bo.ErrDisabled)
	case "locked":
		return nil, bo.ErrLocked
	case "bad":
		return nil, fmt.Errorf("token exchange: %w", bo.ErrBadCredentials)
	}
	return nil, fmt.Errorf("token exchange: %w", errors.New("dial tcp 192.0.2.1:443: connect: connection refused"))
}

// FuzzOIDCCallback calls the OpenID callback with arbitrary state,
// code and error parameters and cookies, without a provider that signs
// anyone in. In query, {state} stands for the state of a sign-in just
// started; in cookies, {oidc} for its signed cookie. Every answer is a
// 4xx page or a redirect to the sign-in page, and no session is ever
// set.
func FuzzOIDCCallback(f *testing.F) {
	for _, tc := range [][3]string{
		{"musterstadt", "code=good&state={state}", "af_bo_oidc={oidc}"},
		{"musterstadt", "code=norole&state={state}", "af_bo_oidc={oidc}"},
		{"musterstadt", "code=disabled&state={state}", "af_bo_oidc={oidc}"},
		{"musterstadt", "code=locked&state={state}", "af_bo_oidc={oidc}"},
		{"musterstadt", "code=bad&state={state}", "af_bo_oidc={oidc}"},
		{"musterstadt", "error=access_denied&error_description=Zugriff+verweigert&state={state}", "af_bo_oidc={oidc}"},
		{"musterstadt", "code=&state={state}", "af_bo_oidc={oidc}"},
		{"musterstadt", "code=good&state={state}&state=forged", "af_bo_oidc={oidc}"},
		{"musterstadt", "code=good&state=forged", "af_bo_oidc={oidc}"},
		{"musterstadt", "code=good&state={state}", ""},
		{"musterstadt", "code=good&state={state}", "af_bo_oidc={oidc}x"},
		{"musterstadt", "code=good&state={state}", "af_bo_oidc=e30.AAAA"},
		{"musterstadt", "code=good&state=", "af_bo_oidc=."},
		{"musterstadt", "code=good&state={state}", "af_bo_oidc={oidc}; af_bo_oidc=other; af_staff=sess-000001"},
		{"musterstadt", "code=%FF&state=%zz", "af_bo_oidc=%FF%FE"},
		{"kelkheim", "code=good&state={state}", "af_bo_oidc={oidc}"},
		{"nowhere", "code=good&state={state}", "af_bo_oidc={oidc}"},
		{"", "", ""},
		{"musterstadt/../kelkheim", "code=good", "af_staff=x"},
	} {
		f.Add(tc[0], tc[1], tc[2])
	}
	f.Fuzz(func(t *testing.T, tenant, query, cookies string) {
		fx := newFuzzFixture(t, func(d *bo.Deps) {
			d.OIDC = func(tenant string) (bo.OIDC, bool) { return refusingOIDC{}, tenant == "musterstadt" }
		})
		start := fx.get(nil, "/backoffice/oidc/musterstadt/start?next=/backoffice/cases/"+refA1)
		loc, err := url.Parse(start.Header.Get("Location"))
		ck := oidcCookieRe.FindStringSubmatch(strings.Join(start.Header.Values("Set-Cookie"), "\n"))
		if start.StatusCode != http.StatusSeeOther || err != nil || ck == nil {
			t.Fatalf("OpenID start: %d, Location %q, Set-Cookie %q", start.StatusCode, start.Header.Get("Location"), start.Header.Get("Set-Cookie"))
		}
		query = strings.ReplaceAll(query, "{state}", url.QueryEscape(loc.Query().Get("state")))
		cookies = strings.ReplaceAll(cookies, "{oidc}", ck[1])
		// within fasthttp's read buffer, as in request
		if len(tenant) > 128 {
			tenant = tenant[:128]
		}
		cookies = apitest.HeaderValue(cookies)
		if len(cookies) > 1024 {
			cookies = cookies[:1024]
		}
		req := request(http.MethodGet, "/backoffice/oidc/"+url.PathEscape(tenant)+"/callback", query, "")
		if c := cookies; c != "" {
			req.Header.Set("Cookie", c)
		}
		r := fx.do(req)
		checkPage(t, "OpenID callback", r)
		if r.StatusCode < 400 && !strings.HasPrefix(r.Header.Get("Location"), "/backoffice/login") {
			t.Fatalf("OpenID callback: %d to %q, want a 4xx or the sign-in page", r.StatusCode, r.Header.Get("Location"))
		}
		for _, c := range r.Header.Values("Set-Cookie") {
			if v, ok := strings.CutPrefix(c, "af_staff="); ok && !strings.HasPrefix(v, ";") && v != "" {
				t.Fatalf("OpenID callback set a session: %q", c)
			}
		}
	})
}

// TestActionsHugeForms posts what the fuzzer rarely builds to every
// action route: every field some 100 KB long, a version a megabyte
// long, and a field repeated ten thousand times. The answers are the
// back office's own pages, never a 5xx.
func TestActionsHugeForms(t *testing.T) {
	huge := url.QueryEscape(strings.Repeat("Prüfung läuft. ", 1<<12))
	many := strings.Repeat("fields=incomeProof&", 10000)
	for _, tc := range []struct{ name, body string }{
		{"huge values", "version=1&to=" + huge + "&transition=" + huge + "&comment=" + huge + "&text=" + huge + "&due=" + huge +
			"&followUp=" + huge + "&priority=" + huge + "&fields=" + huge + "&message=" + huge + "&deadline=" + huge +
			"&destination=" + huge + "&module=" + huge + "&version=" + huge + "&hash=" + huge},
		{"huge version", "version=" + strings.Repeat("9", 1<<20)},
		{"repeated keys", "version=1&" + many + "message=Bitte+nachreichen&deadline=2026-12-20"},
	} {
		for _, route := range actionRoutes {
			path := strings.Replace(route, ":ref", refA1, 1)
			t.Run(tc.name+" "+path, func(t *testing.T) {
				fx := newFuzzFixture(t, nil)
				ida := fx.w.session("ida")
				req := request(http.MethodPost, path, "", "_csrf="+url.QueryEscape(ida.CSRF)+"&"+tc.body)
				req.Header.Set("Cookie", "af_staff="+ida.SessionID)
				checkPage(t, "POST "+path, fx.do(req))
			})
		}
	}
}
