package backoffice

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/api/httpx"
	"github.com/amtsform/amtsform/api/render"
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/record"
	"github.com/amtsform/amtsform/engine/staff"
)

var berlin = render.Berlin

func lang(c *fiber.Ctx) string      { return httpx.Lang(c) }
func tr(lang, de, en string) string { return render.Tr(lang, de, en) }

// errorItem is one entry of an error summary; Field names the input it
// belongs to.
type errorItem struct {
	Field, Href, Message string
}

type navLink struct {
	URL, Label string
	Current    bool
}

// pageData is what every back office template gets.
type pageData struct {
	Lang     string
	Title    string
	Heading  string
	Status   int
	LangURL  string
	LangName string
	LangCode string
	CSRF     string
	// UserName is the signed-in user's name ("" when signed out),
	// TenantName their municipality's.
	UserName, TenantName string
	Nav                  []navLink
	Errors               []errorItem
	// FieldErrors are the errors by field name (input ids).
	FieldErrors map[string]string
	Notice      string
	RequestID   string

	// login
	Username string
	Next     string
	OIDC     []oidcButton
	// message pages
	Message, Link, LinkText string
	// inbox, case view, audit
	Inbox *inboxView
	Case  *caseView
	Audit *auditView
	// catalogue, and the review of a version to install
	Catalogue *catalogueView
	Plan      *planView
}

// base fills what every page has.
func (s *server) base(c *fiber.Ctx, title string) *pageData {
	l := lang(c)
	p := &pageData{Lang: l, Title: title, Heading: title, Status: fiber.StatusOK, RequestID: c.GetRespHeader(fiber.HeaderXRequestID)}
	other, name := "en", "English"
	if l == "en" {
		other, name = "de", "Deutsch"
	}
	q := url.Values{}
	c.Request().URI().QueryArgs().VisitAll(func(k, v []byte) { q.Add(string(k), string(v)) })
	q.Set("lang", other)
	path := c.Path()
	if c.Method() != fiber.MethodGet {
		path = "/backoffice/"
		if strings.HasPrefix(c.Path(), catalogueURL) {
			path = catalogueURL
		}
		if ref := caseRef(c); ref != "" {
			path = "/backoffice/cases/" + url.PathEscape(ref)
		}
		q = url.Values{"lang": {other}}
	}
	p.LangURL, p.LangName, p.LangCode = path+"?"+q.Encode(), name, other
	if pr := principal(c); pr != nil {
		p.UserName = pr.User.Name
		if p.UserName == "" {
			p.UserName = pr.User.ID
		}
		p.TenantName = s.tenantName(pr.User.Tenant, l)
		p.CSRF = s.csrfToken(c)
		p.Nav = s.nav(c, pr, l)
	}
	return p
}

// nav lists my cases, the inbox of each office I see, and for auditors
// and admins the audit trail and the catalogue.
func (s *server) nav(c *fiber.Ctx, pr *Principal, l string) []navLink {
	cur := c.Path()
	links := []navLink{{URL: "/backoffice/", Label: tr(l, "Meine Vorgänge", "My cases")}}
	for _, o := range s.offices(pr) {
		links = append(links, navLink{URL: "/backoffice/office/" + url.PathEscape(o), Label: s.officeName(pr.User.Tenant, o, l)})
	}
	if s.d.Audit != nil && hasRole(pr, "auditor", "admin") {
		links = append(links, navLink{URL: "/backoffice/audit", Label: tr(l, "Protokoll", "Audit trail")})
	}
	if s.d.Catalogue != nil && hasRole(pr, "auditor", "admin") {
		links = append(links, navLink{URL: catalogueURL, Label: tr(l, "Katalog", "Catalogue")})
	}
	for i := range links {
		links[i].Current = links[i].URL == cur || (links[i].URL != "/backoffice/" && links[i].URL+"/" == cur)
	}
	return links
}

func (s *server) render(c *fiber.Ctx, name string, p *pageData) error {
	return httpx.Render(c, s.tmpl, name, p.Status, p)
}

// message renders a short page with a status, a title and a sentence.
func (s *server) message(c *fiber.Ctx, status int, title, msg, link, linkText string) error {
	p := s.base(c, title)
	p.Status, p.Message, p.Link, p.LinkText = status, msg, link, linkText
	return s.render(c, "message.html", p)
}

// fail renders the back office's page for an error: 401 and 403, 404,
// 409 with who won, and the rest as httpx.StatusOf says. Internal errors
// are logged by kind only, never by their text.
func (s *server) fail(c *fiber.Ctx, err error) error {
	l := lang(c)
	status, _ := httpx.StatusOf(err)
	var ce *ConflictError
	switch {
	case errors.As(err, &ce):
		status = fiber.StatusConflict
	case errors.Is(err, ErrForbidden):
		status = fiber.StatusForbidden
	}
	back, backText := "/backoffice/", tr(l, "Zur Übersicht", "To the overview")
	if ref := caseRef(c); ref != "" && status != fiber.StatusNotFound {
		back, backText = "/backoffice/cases/"+url.PathEscape(ref), tr(l, "Zurück zum Vorgang", "Back to the case")
	}
	title := httpx.TitleOf(status, l)
	msg := tr(l, "Bitte gehen Sie zurück und versuchen Sie es erneut.", "Please go back and try again.")
	switch status {
	case fiber.StatusUnauthorized:
		title = tr(l, "Nicht angemeldet", "Not signed in")
		msg = tr(l, "Ihre Sitzung ist abgelaufen oder beendet. Bitte melden Sie sich an. Es wurde nichts gespeichert.", "Your session has expired or ended. Please sign in. Nothing was saved.")
		back, backText = "/backoffice/login", tr(l, "Zur Anmeldung", "To sign-in")
	case fiber.StatusForbidden:
		msg = tr(l, "Dafür fehlt Ihnen die Berechtigung. Es wurde nichts geändert.", "You are not allowed to do this. Nothing was changed.")
		var fe *fiber.Error
		if errors.As(err, &fe) && (fe.Message == "missing or wrong CSRF token" || fe.Message == "cross-origin form post") {
			msg = tr(l, "Das Formular ist abgelaufen oder wurde nicht von dieser Seite gesendet. Bitte laden Sie die Seite neu und senden Sie es noch einmal. Cookies müssen erlaubt sein. Es wurde nichts geändert.",
				"The form has expired or was not sent from this site. Please reload the page and send it again. Cookies must be enabled. Nothing was changed.")
		}
	case fiber.StatusNotFound:
		title = tr(l, "Nicht gefunden", "Not found")
		msg = tr(l, "Diese Seite oder diesen Vorgang gibt es nicht, oder er gehört nicht zu Ihren Ämtern.", "This page or case does not exist, or it does not belong to your offices.")
	case fiber.StatusConflict:
		title = tr(l, "Der Vorgang wurde inzwischen geändert", "The case was changed in the meantime")
		msg = tr(l, "Jemand hat den Vorgang geändert, während Sie ihn angesehen haben. Ihre Änderung wurde nicht gespeichert. Bitte prüfen Sie den aktuellen Stand.",
			"Someone changed the case while you were looking at it. Your change was not saved. Please check the current state.")
		if ce != nil && ce.By != "" {
			by := s.userName(c, ce.By)
			if w := strings.ToLower(ce.What); strings.Contains(w, "claim") || strings.Contains(w, "assign") {
				title = tr(l, "Dieser Vorgang wurde soeben übernommen", "This case was just taken over")
				msg = tr(l, "Dieser Vorgang wurde soeben von "+by+" übernommen. Ihre Änderung wurde nicht gespeichert.",
					"This case was just taken over by "+by+". Your change was not saved.")
			} else {
				msg = tr(l, "Dieser Vorgang wurde soeben von "+by+" geändert. Ihre Änderung wurde nicht gespeichert. Bitte prüfen Sie den aktuellen Stand.",
					"This case was just changed by "+by+". Your change was not saved. Please check the current state.")
			}
		}
	case fiber.StatusTooManyRequests:
		msg = tr(l, "Zu viele Versuche in kurzer Zeit. Bitte warten Sie eine Minute.", "Too many attempts in a short time. Please wait a minute.")
	case fiber.StatusUnsupportedMediaType:
		msg = tr(l, "Diese Adresse nimmt nur Formulare an. Es wurde nichts geändert.", "This address accepts only form posts. Nothing was changed.")
	}
	if status >= 500 {
		s.log.Error("back office request failed", "method", c.Method(), "route", c.Route().Path, "status", status,
			"request_id", c.GetRespHeader(fiber.HeaderXRequestID), "kind", httpx.ErrorKind(err))
		msg = tr(l, "Bitte versuchen Sie es später erneut.", "Please try again later.")
	}
	return s.message(c, status, title, msg, back, backText)
}

// ---------------------------------------------------------------- names and dates

func (s *server) tenantName(t, l string) string {
	if s.d.Directory != nil {
		if tc, ok := s.d.Directory.Tenant(t); ok {
			return tc.Name.In(l)
		}
	}
	return render.OfficeName(t)
}

func (s *server) office(tenant, id string) *engine.Office {
	if s.d.Directory != nil {
		if o, ok := s.d.Directory.Office(tenant, id); ok {
			return o
		}
	}
	return nil
}

func (s *server) officeName(tenant, id, l string) string {
	name, _ := render.Office(s.office(tenant, id), id, l)
	return name
}

// users returns the signed-in user's colleagues (nil without Users).
func (s *server) users(c *fiber.Ctx) []*User {
	if v, ok := c.Locals("backoffice.users").([]*User); ok {
		return v
	}
	p := principal(c)
	if s.d.Users == nil || p == nil {
		return nil
	}
	us, err := s.d.Users(c.UserContext(), p.User.Tenant)
	if err != nil {
		s.log.Warn("listing staff failed", "kind", httpx.ErrorKind(err))
		return nil
	}
	c.Locals("backoffice.users", us)
	return us
}

// colleagueOf looks a staff member up by id in users (nil if absent),
// for staff.Sees.
func colleagueOf(users []*User) func(id string) *User {
	return func(id string) *User {
		for _, u := range users {
			if u.ID == id {
				return u
			}
		}
		return nil
	}
}

// assigneeGone says why the assignee of an open case cannot work on it
// any more, or "": their account is disabled, or they no longer work
// for the case's office (their offices or deputies changed since the
// case was given to them, an OIDC sign-in brought other offices). Such a
// case is missing from their inbox and they cannot open it, so the
// office sees the flag and gives the case to someone else.
func (s *server) assigneeGone(c *fiber.Ctx, sub *record.Submission, l string) string {
	if sub.Assignee == "" || sub.Office == "" {
		return ""
	}
	colleague := colleagueOf(s.users(c))
	u := colleague(sub.Assignee)
	switch {
	case u == nil:
		return "" // not known here (no staff directory)
	case u.Disabled:
		return tr(l, "Konto deaktiviert", "account disabled")
	case !staff.Sees(u, sub.Office, s.d.Now(), colleague):
		return tr(l, "arbeitet nicht mehr für diese Stelle", "no longer works for this office")
	}
	return ""
}

// userName names a staff member by id.
func (s *server) userName(c *fiber.Ctx, id string) string {
	if p := principal(c); p != nil && p.User.ID == id && p.User.Name != "" {
		return p.User.Name
	}
	for _, u := range s.users(c) {
		if u.ID == id && u.Name != "" {
			return u.Name
		}
	}
	return id
}

func (s *server) date(t time.Time, l string) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(s.zone)
	if l == "en" {
		return t.Format("2 Jan 2006")
	}
	return t.Format("02.01.2006")
}

func (s *server) dateTime(t time.Time, l string) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(s.zone)
	if l == "en" {
		return t.Format("2 Jan 2006, 15:04")
	}
	return t.Format("02.01.2006, 15:04")
}

// isoDate is a date for an <input type="date">.
func (s *server) isoDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(s.zone).Format("2006-01-02")
}

// parseDate reads a date as the start of that day in the zone: yyyy-mm-dd
// as a date input sends it, or d.m.yyyy as people write it where a browser
// shows a plain text field (31.12.2026, 1.2.2027).
func (s *server) parseDate(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if strings.Contains(v, ".") {
		return time.ParseInLocation("2.1.2006", v, s.zone)
	}
	return time.ParseInLocation("2006-01-02", v, s.zone)
}

func priorityLabel(p int, l string) string {
	switch p {
	case 1:
		return tr(l, "Hoch", "High")
	case 2:
		return tr(l, "Dringend", "Urgent")
	}
	return tr(l, "Normal", "Normal")
}

// statusTitles maps status ids to the titles the tenant's workflows give
// them (the first service that names a status wins).
func (s *server) statusTitles(tenant, l string) map[string]string {
	m := map[string]string{}
	if s.d.Catalog == nil {
		return m
	}
	for _, svc := range s.d.Catalog.List(tenant) {
		if svc.Workflow == nil {
			continue
		}
		ids := make([]string, 0, len(svc.Workflow.States))
		for id := range svc.Workflow.States {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			if _, ok := m[id]; !ok {
				m[id] = svc.Workflow.States[id].Title.In(l)
			}
		}
	}
	return m
}

func statusTitle(svc *engine.Service, fallback map[string]string, id, l string) string {
	if svc != nil && svc.Workflow != nil {
		if st, ok := svc.Workflow.States[id]; ok {
			return st.Title.In(l)
		}
	}
	if t := fallback[id]; t != "" {
		return t
	}
	if id == "" {
		return "—"
	}
	return id
}

// caseRef is the case reference of the URL, copied: Fiber's parameters point
// into the request buffer unless the app is Immutable.
func caseRef(c *fiber.Ctx) string { return strings.Clone(c.Params("ref")) }
