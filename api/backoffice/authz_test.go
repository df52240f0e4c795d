package backoffice_test

import (
	"net/url"
	"sort"
	"strings"
	"testing"

	bo "github.com/amtsform/amtsform/api/backoffice"
)

// route kinds of the authorization table
const (
	public = iota // sign-in: open to everyone
	page          // a page: anonymous → 303 to the sign-in page
	post          // a post: anonymous → 401
	action        // a case action post: also 403 for auditors
)

type authzRow struct {
	kind int
	// caseRoute: the route names a case (:ref) or an office (:office);
	// another office's or tenant's caseworker gets 404.
	caseRoute bool
	// form is a valid body for posts.
	form url.Values
	// admin: only admins (pages: and auditors) may; a caseworker gets 403.
	admin bool
}

// authzTable has a row for every back office route; TestAuthorization
// fails for a route without one.
var authzTable = map[string]authzRow{
	"GET /backoffice/login":                      {kind: public},
	"POST /backoffice/login":                     {kind: public},
	"GET /backoffice/oidc/:tenant/start":         {kind: public},
	"GET /backoffice/oidc/:tenant/callback":      {kind: public},
	"POST /backoffice/logout":                    {kind: post},
	"GET /backoffice/":                           {kind: page},
	"GET /backoffice/office/:office":             {kind: page, caseRoute: true},
	"GET /backoffice/cases/:ref":                 {kind: page, caseRoute: true},
	"GET /backoffice/cases/:ref/attachments/:id": {kind: page, caseRoute: true},
	"GET /backoffice/cases/:ref/receipt.pdf":     {kind: page, caseRoute: true},
	"POST /backoffice/cases/:ref/claim":          {kind: action, caseRoute: true, form: url.Values{"version": {"1"}}},
	"POST /backoffice/cases/:ref/assign":         {kind: action, caseRoute: true, form: url.Values{"version": {"1"}, "to": {"bernd"}}},
	"POST /backoffice/cases/:ref/transition":     {kind: action, caseRoute: true, form: url.Values{"version": {"1"}, "transition": {"(the first step)"}}},
	"POST /backoffice/cases/:ref/note":           {kind: action, caseRoute: true, form: url.Values{"text": {"Rückruf vereinbart"}}},
	"POST /backoffice/cases/:ref/schedule":       {kind: action, caseRoute: true, form: url.Values{"version": {"1"}, "due": {"2026-12-24"}, "followUp": {""}, "priority": {"1"}}},
	"POST /backoffice/cases/:ref/documents":      {kind: action, caseRoute: true, form: url.Values{"version": {"1"}, "fields": {"incomeProof"}, "message": {"Bitte reichen Sie den Nachweis ein."}, "deadline": {"2026-12-20"}}},
	"POST /backoffice/cases/:ref/retry":          {kind: action, caseRoute: true, admin: true, form: url.Values{"destination": {"fachverfahren"}}},
	"GET /backoffice/audit":                      {kind: page},
	"GET /backoffice/audit/export":               {kind: page},
	"GET /backoffice/catalogue":                  {kind: page, admin: true},
	"POST /backoffice/catalogue/plan":            {kind: action, admin: true, form: url.Values{"module": {"land.hessen.example/kita@v1"}, "version": {"v1.1.0"}}},
	"POST /backoffice/catalogue/install":         {kind: action, admin: true, form: url.Values{"module": {"land.hessen.example/kita@v1"}, "version": {"v1.0.1"}, "hash": {"sha256:abab0101"}}},
}

func fill(path, ref string) string {
	r := strings.NewReplacer(":ref", ref, ":office", officeA, ":id", "att-income-0001", ":tenant", "musterstadt")
	return r.Replace(path)
}

func copyForm(v url.Values) url.Values {
	out := url.Values{}
	for k, x := range v {
		out[k] = append([]string(nil), x...)
	}
	return out
}

// TestAuthorization runs the table over every route the router has
// under /backoffice: anonymous, a caseworker of another office and of
// another tenant, an auditor, a disabled user.
func TestAuthorization(t *testing.T) {
	f := newFixture(t)
	var routes []string
	seen := map[string]bool{}
	for _, r := range f.app.GetRoutes(true) {
		if r.Method == "HEAD" || !strings.HasPrefix(r.Path, "/backoffice") {
			continue
		}
		k := r.Method + " " + r.Path
		if !seen[k] {
			seen[k] = true
			routes = append(routes, k)
		}
	}
	sort.Strings(routes)
	if len(routes) < len(authzTable) {
		t.Errorf("the router has %d back office routes, the table %d rows", len(routes), len(authzTable))
	}
	for k := range authzTable {
		if !seen[k] {
			t.Errorf("table row %q names no route", k)
		}
	}
	dirk := f.w.session("dirk")   // office B
	emil := f.w.session("emil")   // another tenant, same office id as A
	clara := f.w.session("clara") // auditor of office A and B
	for _, k := range routes {
		row, ok := authzTable[k]
		if !ok {
			t.Errorf("route %s has no row in the authorization table", k)
			continue
		}
		method, path, _ := strings.Cut(k, " ")
		t.Run(k, func(t *testing.T) {
			send := func(p *bo.Principal, ref string) resp {
				if method == "GET" {
					return f.get(p, fill(path, ref))
				}
				form := copyForm(row.form)
				if form.Get("transition") != "" {
					form.Set("transition", f.wf.start.ID)
				}
				return f.post(p, fill(path, ref), form)
			}
			// anonymous
			r := send(nil, refA1)
			switch row.kind {
			case page:
				if r.StatusCode != 303 || !strings.HasPrefix(r.Header.Get("Location"), "/backoffice/login?next=") {
					t.Errorf("anonymous: %d %s, want 303 to the sign-in page", r.StatusCode, r.Header.Get("Location"))
				}
			case post, action:
				if r.StatusCode != 401 {
					t.Errorf("anonymous: %d, want 401", r.StatusCode)
				}
			}
			if row.caseRoute {
				for _, who := range []struct {
					name string
					p    *bo.Principal
				}{{"caseworker of office B", dirk}, {"caseworker of another tenant", emil}} {
					r := send(who.p, refA1)
					if strings.Contains(path, ":office") && who.p == emil {
						// the same office id in his own tenant: his
						// tenant's inbox, without musterstadt's cases
						if r.StatusCode != 200 || strings.Contains(r.body, refA1) || strings.Contains(r.body, refA2) || !strings.Contains(r.body, refK1) {
							t.Errorf("%s: %d, want 200 with only his tenant's cases\n%s", who.name, r.StatusCode, clip(r.body))
						}
						continue
					}
					if r.StatusCode != 404 {
						t.Errorf("%s on a case of office A: %d, want 404\n%s", who.name, r.StatusCode, clip(r.body))
					}
				}
				if strings.Contains(path, ":ref") {
					anna := f.w.session("anna")
					if r := send(anna, refK1); r.StatusCode != 404 {
						t.Errorf("caseworker of office A on the other tenant's case: %d, want 404", r.StatusCode)
					}
					if r := send(anna, refB1); r.StatusCode != 404 {
						t.Errorf("caseworker of office A on a case of office B: %d, want 404", r.StatusCode)
					}
				}
			}
			if row.kind == action {
				if r := send(clara, refA1); r.StatusCode != 403 {
					t.Errorf("auditor: %d, want 403", r.StatusCode)
				}
			}
			if row.admin {
				if r := send(f.w.session("anna"), refA1); r.StatusCode != 403 {
					t.Errorf("caseworker: %d, want 403", r.StatusCode)
				}
				if row.kind == page {
					if r := send(clara, refA1); r.StatusCode != 200 {
						t.Errorf("auditor: %d, want 200 (auditors may read)", r.StatusCode)
					}
				}
			}
		})
	}
	t.Run("disabled user", func(t *testing.T) {
		anna := f.w.session("anna")
		f.get(anna, "/backoffice/").want(t, 200)
		f.w.mu.Lock()
		f.w.users["anna"].Disabled = true
		f.w.mu.Unlock()
		defer func() { f.w.mu.Lock(); f.w.users["anna"].Disabled = false; f.w.mu.Unlock() }()
		for _, k := range routes {
			row := authzTable[k]
			method, path, _ := strings.Cut(k, " ")
			switch {
			case row.kind == page && method == "GET":
				if r := f.get(anna, fill(path, refA1)); r.StatusCode != 303 {
					t.Errorf("%s after disabling: %d, want 303", k, r.StatusCode)
				}
			case row.kind == post || row.kind == action:
				if r := f.post(anna, fill(path, refA1), copyForm(row.form)); r.StatusCode != 401 {
					t.Errorf("%s after disabling: %d, want 401", k, r.StatusCode)
				}
			}
		}
	})
}
