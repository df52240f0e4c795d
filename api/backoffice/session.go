package backoffice

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/api/httpx"
	"github.com/amtsform/amtsform/engine/record"
)

const (
	// oidcCookie holds state, nonce and PKCE verifier of a sign-in with
	// the OpenID provider, signed, for ten minutes.
	oidcCookie = "af_bo_oidc"
	oidcMaxAge = 10 * time.Minute
	csrfField  = "_csrf"
	cookiePath = "/backoffice"
)

var (
	errTooManyLogins = fiber.NewError(fiber.StatusTooManyRequests, "too many sign-in attempts")
	// errSignedOut answers posts without a live session.
	errSignedOut = fiber.NewError(fiber.StatusUnauthorized, "not signed in")
	// errReadOnly answers action posts of users who may only read.
	errReadOnly = fiber.NewError(fiber.StatusForbidden, "read-only role")
)

const principalKey = "backoffice.principal"

// loadSession finds the session of the cookie, if any and still live.
// A session that no longer works (expired, revoked, its user disabled)
// is dropped from the browser at once.
func (s *server) loadSession(c *fiber.Ctx) error {
	httpx.NoStore(c)
	if id := c.Cookies(sessionCookie); id != "" {
		p, err := s.d.Staff.Session(c.UserContext(), id)
		switch {
		case err == nil && p != nil && p.User != nil && !p.User.Disabled:
			c.Locals(principalKey, p)
		case err != nil && !errors.Is(err, record.ErrNotFound):
			// not signed in for this request, but the session may still
			// be there when the store answers again
			s.log.Warn("back office session lookup failed", "kind", httpx.ErrorKind(err))
		default:
			s.clearCookie(c, sessionCookie, cookiePath)
		}
	}
	return c.Next()
}

func principal(c *fiber.Ctx) *Principal {
	p, _ := c.Locals(principalKey).(*Principal)
	return p
}

// actor is the signed-in user as casework sees them.
func (s *server) actor(c *fiber.Ctx) Actor {
	p := principal(c)
	return Actor{ID: p.User.ID, Name: p.User.Name, Tenant: p.User.Tenant, Roles: p.User.Roles,
		Offices: s.offices(p), Addr: httpx.ByClient(c)}
}

// offices are the offices whose cases p sees now: their own and those
// they stand in for, and for an admin every office of the tenant.
func (s *server) offices(p *Principal) []string {
	out := p.EffectiveOffices(s.d.Now())
	if hasRole(p, "admin") && s.d.Directory != nil {
		if t, ok := s.d.Directory.Tenant(p.User.Tenant); ok {
			for id := range t.Offices {
				if !slices.Contains(out, id) {
					out = append(out, id)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

func hasRole(p *Principal, roles ...string) bool {
	for _, r := range roles {
		if slices.Contains(p.User.Roles, r) {
			return true
		}
	}
	return false
}

// canAct reports whether p may change cases.
func canAct(p *Principal) bool { return hasRole(p, "caseworker", "admin") }

// page guards a page: without a session, to the sign-in page (303).
func (s *server) page(h fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if principal(c) == nil {
			return c.Redirect("/backoffice/login?next="+url.QueryEscape(string(c.Request().RequestURI())), fiber.StatusSeeOther)
		}
		if err := h(c); err != nil {
			return s.fail(c, err)
		}
		return nil
	}
}

// post guards a form post: a session (401), a form body (415), the
// session's CSRF token and the origin (403), and, for case actions
// (act), a role that may change cases (403).
func (s *server) post(h fiber.Handler, act bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		err := func() error {
			p := principal(c)
			if p == nil {
				return errSignedOut
			}
			if err := checkFormPost(c); err != nil {
				return err
			}
			if err := s.checkCSRF(c, p); err != nil {
				return err
			}
			if act && !canAct(p) {
				return errReadOnly
			}
			return h(c)
		}()
		if err != nil {
			return s.fail(c, err)
		}
		return nil
	}
}

// checkFormPost refuses bodies that are not HTML form posts.
func checkFormPost(c *fiber.Ctx) error {
	ct := strings.ToLower(c.Get(fiber.HeaderContentType))
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = strings.TrimSpace(ct[:i])
	}
	if ct == fiber.MIMEApplicationForm || ct == fiber.MIMEMultipartForm {
		return nil
	}
	return fiber.NewError(fiber.StatusUnsupportedMediaType, "not a form post")
}

// checkCSRF checks a signed-in post: the session's own CSRF token when
// it has one, else the signed double submit of httpx.CSRF. Either way
// the origin is checked.
func (s *server) checkCSRF(c *fiber.Ctx, p *Principal) error {
	posted := c.FormValue(csrfField)
	if p != nil && p.CSRF != "" {
		if err := s.checkOrigin(c); err != nil {
			return err
		}
		if posted == "" || !hmac.Equal([]byte(posted), []byte(p.CSRF)) {
			return fiber.NewError(fiber.StatusForbidden, "missing or wrong CSRF token")
		}
		return nil
	}
	return s.csrf.Check(c, posted)
}

func (s *server) checkOrigin(c *fiber.Ctx) error {
	o := c.Get(fiber.HeaderOrigin)
	if o == "" || o == "null" {
		return nil
	}
	if s.csrf.Origin != "" {
		if httpx.OriginOf(o) != s.csrf.Origin {
			return fiber.NewError(fiber.StatusForbidden, "cross-origin form post")
		}
		return nil
	}
	if u, err := url.Parse(o); err != nil || !strings.EqualFold(u.Host, c.Hostname()) {
		return fiber.NewError(fiber.StatusForbidden, "cross-origin form post")
	}
	return nil
}

// csrfToken is the token forms of this page carry.
func (s *server) csrfToken(c *fiber.Ctx) string {
	if p := principal(c); p != nil && p.CSRF != "" {
		return p.CSRF
	}
	return s.csrf.Token(c)
}

func (s *server) setCookie(c *fiber.Ctx, name, value, path string, maxAge time.Duration) {
	ck := &fiber.Cookie{Name: name, Value: value, Path: path, HTTPOnly: true,
		Secure: s.d.Cookies.Secure || httpx.IsHTTPS(c), SameSite: fiber.CookieSameSiteLaxMode}
	if maxAge > 0 {
		ck.MaxAge = int(maxAge / time.Second)
	}
	c.Cookie(ck)
}

func (s *server) clearCookie(c *fiber.Ctx, name, path string) {
	c.Cookie(&fiber.Cookie{Name: name, Value: "", Path: path, HTTPOnly: true, MaxAge: -1,
		Expires: time.Unix(0, 0), Secure: s.d.Cookies.Secure || httpx.IsHTTPS(c), SameSite: fiber.CookieSameSiteLaxMode})
}

// safeNext is where to go after signing in: a back office path, never
// another site. It becomes a Location header as it is, so it must be
// printable ASCII without a backslash, as the request URIs of the pages
// it names are: a control character (a NUL, a tab, a line break) would
// break the header or be read differently by browsers.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/backoffice/") || strings.HasPrefix(next, "/backoffice/login") || strings.HasPrefix(next, "/backoffice/oidc/") {
		return "/backoffice/"
	}
	for i := 0; i < len(next); i++ {
		if c := next[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return "/backoffice/"
		}
	}
	return next
}

// ---------------------------------------------------------------- sign-in

type oidcButton struct {
	URL, Label string
}

// loginPage shows the sign-in form.
func (s *server) loginPage(c *fiber.Ctx) error {
	if principal(c) != nil {
		return c.Redirect(safeNext(c.Query("next")), fiber.StatusSeeOther)
	}
	return s.renderLogin(c, fiber.StatusOK, "", nil, "")
}

func (s *server) renderLogin(c *fiber.Ctx, status int, username string, errs []errorItem, notice string) error {
	lang := lang(c)
	p := s.base(c, tr(lang, "Anmelden", "Sign in"))
	p.Status, p.Errors, p.Notice = status, errs, notice
	p.Next = safeNext(c.Query("next", c.FormValue("next")))
	p.Username = username
	p.CSRF = s.csrf.Token(c)
	p.FieldErrors = map[string]string{}
	for _, e := range errs {
		if e.Field != "" {
			p.FieldErrors[e.Field] = e.Message
		}
	}
	if s.d.OIDC != nil {
		for _, t := range s.d.Tenants {
			if _, ok := s.d.OIDC(t); ok {
				label := tr(lang, "Mit Dienstkonto anmelden", "Sign in with your work account")
				if len(s.d.Tenants) > 1 {
					label += " (" + s.tenantName(t, lang) + ")"
				}
				p.OIDC = append(p.OIDC, oidcButton{URL: "/backoffice/oidc/" + url.PathEscape(t) + "/start?next=" + url.QueryEscape(p.Next), Label: label})
			}
		}
	}
	return s.render(c, "login.html", p)
}

// login signs in with username and password.
func (s *server) login(c *fiber.Ctx) error {
	lang := lang(c)
	if err := checkFormPost(c); err != nil {
		return s.fail(c, err)
	}
	if err := s.csrf.Check(c, c.FormValue(csrfField)); err != nil {
		return s.fail(c, err)
	}
	user, pass := strings.TrimSpace(c.FormValue("username")), c.FormValue("password")
	var errs []errorItem
	if user == "" {
		errs = append(errs, errorItem{Field: "username", Href: "#username", Message: tr(lang, "Geben Sie Ihren Benutzernamen ein.", "Enter your username.")})
	}
	if pass == "" {
		errs = append(errs, errorItem{Field: "password", Href: "#password", Message: tr(lang, "Geben Sie Ihr Passwort ein.", "Enter your password.")})
	}
	if len(errs) > 0 {
		return s.renderLogin(c, fiber.StatusUnprocessableEntity, user, errs, "")
	}
	p, err := s.d.Staff.Login(c.UserContext(), user, pass, httpx.ByClient(c))
	switch {
	case errors.Is(err, ErrLocked):
		return s.renderLogin(c, fiber.StatusTooManyRequests, user, []errorItem{{Field: "password", Href: "#password",
			Message: tr(lang, "Nach mehreren fehlgeschlagenen Versuchen ist die Anmeldung vorübergehend gesperrt. Bitte versuchen Sie es später erneut oder wenden Sie sich an die Administration.",
				"After several failed attempts, signing in is blocked for a while. Please try again later or contact your administrator.")}}, "")
	case errors.Is(err, ErrBadCredentials), errors.Is(err, ErrDisabled):
		// The same answer whether the user exists, is disabled or typed
		// a wrong password.
		return s.renderLogin(c, fiber.StatusUnauthorized, user, []errorItem{{Field: "password", Href: "#password",
			Message: tr(lang, "Benutzername oder Passwort ist falsch.", "The username or password is wrong.")}}, "")
	case err != nil:
		return s.fail(c, err)
	}
	s.startSession(c, p)
	return c.Redirect(safeNext(c.FormValue("next")), fiber.StatusSeeOther)
}

func (s *server) startSession(c *fiber.Ctx, p *Principal) {
	s.setCookie(c, sessionCookie, p.SessionID, cookiePath, 0)
}

// logout ends the session.
func (s *server) logout(c *fiber.Ctx) error {
	p := principal(c)
	if err := s.d.Staff.Logout(c.UserContext(), p.SessionID); err != nil {
		return err
	}
	s.clearCookie(c, sessionCookie, cookiePath)
	lang := lang(c)
	c.Locals(principalKey, nil)
	return s.renderLogin(c, fiber.StatusOK, "", nil, tr(lang, "Sie sind abgemeldet.", "You are signed out."))
}

// ---------------------------------------------------------------- OIDC

type oidcState struct {
	Tenant   string `json:"t"`
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Next     string `json:"x"`
	Expires  int64  `json:"e"`
}

func randomString() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (s *server) signState(st oidcState) string {
	b, _ := json.Marshal(st)
	v := base64.RawURLEncoding.EncodeToString(b)
	return v + "." + s.mac("oidc", v)
}

func (s *server) openState(v string) (oidcState, bool) {
	var st oidcState
	body, sig, ok := strings.Cut(v, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(s.mac("oidc", body))) {
		return st, false
	}
	b, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || json.Unmarshal(b, &st) != nil {
		return st, false
	}
	return st, time.Now().Unix() <= st.Expires
}

func (s *server) mac(purpose, v string) string {
	m := hmac.New(sha256.New, s.d.Secret)
	m.Write([]byte("backoffice-" + purpose + "\x00" + v))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *server) oidcOf(c *fiber.Ctx) (string, OIDC, error) {
	t := c.Params("tenant")
	if s.d.OIDC == nil || !slices.Contains(s.d.Tenants, t) {
		return "", nil, fiber.ErrNotFound
	}
	o, ok := s.d.OIDC(t)
	if !ok || o == nil {
		return "", nil, fiber.ErrNotFound
	}
	return t, o, nil
}

// oidcStart sends the browser to the tenant's OpenID provider, with
// state, nonce and PKCE verifier kept in a short-lived signed cookie.
func (s *server) oidcStart(c *fiber.Ctx) error {
	t, o, err := s.oidcOf(c)
	if err != nil {
		return s.fail(c, err)
	}
	st := oidcState{Tenant: t, State: randomString(), Nonce: randomString(), Verifier: randomString(),
		Next: safeNext(c.Query("next")), Expires: time.Now().Add(oidcMaxAge).Unix()}
	to := o.AuthURL(st.State, st.Nonce, st.Verifier)
	if to == "" {
		l := lang(c)
		return s.message(c, fiber.StatusServiceUnavailable, tr(l, "Anmeldedienst nicht erreichbar", "Sign-in service unavailable"),
			tr(l, "Der Anmeldedienst Ihrer Verwaltung ist gerade nicht erreichbar. Bitte versuchen Sie es später erneut oder melden Sie sich mit Benutzername und Passwort an.",
				"Your administration's sign-in service cannot be reached right now. Please try again later or sign in with username and password."),
			"/backoffice/login", tr(l, "Zur Anmeldung", "To sign-in"))
	}
	s.setCookie(c, oidcCookie, s.signState(st), cookiePath+"/oidc/", oidcMaxAge)
	return c.Redirect(to, fiber.StatusSeeOther)
}

// oidcCallback finishes the sign-in with the provider's code.
func (s *server) oidcCallback(c *fiber.Ctx) error {
	lang := lang(c)
	t, o, err := s.oidcOf(c)
	if err != nil {
		return s.fail(c, err)
	}
	st, ok := s.openState(c.Cookies(oidcCookie))
	s.clearCookie(c, oidcCookie, cookiePath+"/oidc/")
	failed := func(status int) error {
		return s.message(c, status, tr(lang, "Anmeldung fehlgeschlagen", "Sign-in failed"),
			tr(lang, "Die Anmeldung mit dem Dienstkonto hat nicht geklappt oder hat zu lange gedauert. Bitte versuchen Sie es noch einmal.",
				"Signing in with your work account did not work or took too long. Please try again."),
			"/backoffice/login", tr(lang, "Zur Anmeldung", "To sign-in"))
	}
	if !ok || st.Tenant != t || c.Query("state") == "" || !hmac.Equal([]byte(c.Query("state")), []byte(st.State)) {
		return failed(fiber.StatusBadRequest)
	}
	if c.Query("error") != "" || c.Query("code") == "" {
		return failed(fiber.StatusUnauthorized)
	}
	p, err := o.Finish(c.UserContext(), c.Query("code"), st.Verifier, st.Nonce, httpx.ByClient(c))
	if err != nil {
		if errors.Is(err, ErrNoRole) {
			return s.message(c, fiber.StatusForbidden, tr(lang, "Keine Berechtigung", "No permission"),
				tr(lang, "Ihr Dienstkonto hat keine Rolle im Backoffice. Bitte wenden Sie sich an die Administration.",
					"Your work account has no role in the back office. Please contact your administrator."),
				"/backoffice/login", tr(lang, "Zur Anmeldung", "To sign-in"))
		}
		if errors.Is(err, ErrDisabled) || errors.Is(err, ErrLocked) {
			return failed(fiber.StatusForbidden)
		}
		s.log.Warn("oidc sign-in failed", "tenant", t, "kind", httpx.ErrorKind(err))
		return failed(fiber.StatusUnauthorized)
	}
	s.startSession(c, p)
	return c.Redirect(safeNext(st.Next), fiber.StatusSeeOther)
}
