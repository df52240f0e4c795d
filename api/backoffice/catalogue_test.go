package backoffice_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	bo "github.com/amtsform/amtsform/api/backoffice"
)

func (f *fixture) admin(id, tenant string) *bo.Principal {
	f.w.addUser(&bo.User{ID: id, Tenant: tenant, Name: strings.ToUpper(id[:1]) + id[1:] + " Admin", Roles: []string{"admin"}}, id+"-pw")
	return f.w.session(id)
}

// TestCatalogue: the catalogue page for admins and auditors, the review
// of a newer version with its semantic diff, the confirmation an ERR
// upgrade needs, and the install.
func TestCatalogue(t *testing.T) {
	f := newFixture(t)
	ida := f.admin("ida", "musterstadt")
	kai := f.admin("kai", "kelkheim")

	r := f.get(ida, "/backoffice/catalogue")
	r.want(t, 200, "Installierte Module", "land.hessen.example/kita@v1", "v1.0.0", "musterstadt/kita", stateKey,
		"vertraut für", "land.hessen.example/*", "registry.hessen.example/cue", "Übernahme der Kita-Gebühren", "1111aaaa2222",
		"Installationsverzeichnis", `action="/backoffice/catalogue/plan"`, `value="v1.1.0"`, `value="v1.0.1"`, `href="/backoffice/catalogue" aria-current="page"`)
	// the admin of another tenant sees only their own
	r = f.get(kai, "/backoffice/catalogue")
	r.want(t, 200, "keine Module", "Hundesteuer")
	if strings.Contains(r.body, "kita@v1") || strings.Contains(r.body, "Kita-Gebühren") {
		t.Error("kelkheim's admin sees musterstadt's catalogue")
	}
	// an auditor reads, without forms
	r = f.get(f.w.session("clara"), "/backoffice/catalogue")
	r.want(t, 200, "land.hessen.example/kita@v1", "v1.1.0")
	if strings.Contains(r.body, "/backoffice/catalogue/plan") {
		t.Error("the auditor gets install forms")
	}
	f.get(f.w.session("anna"), "/backoffice/").want(t, 200)
	if r := f.get(f.w.session("anna"), "/backoffice/"); strings.Contains(r.body, `href="/backoffice/catalogue"`) {
		t.Error("a caseworker is offered the catalogue")
	}

	t.Run("an ERR upgrade needs confirmation", func(t *testing.T) {
		form := url.Values{"module": {kitaModule}, "version": {"v1.1.0"}}
		r := f.post(ida, "/backoffice/catalogue/plan", form)
		r.want(t, 200, "Änderungen prüfen", "maximum narrowed: 200000 → 180000", `<strong class="bo-flag">ERR</strong>`,
			"children[0].monthlyFee: maximum", `id="confirm"`, `name="hash" value="sha256:abab1100"`, "Aktualisieren auf", "behalten die Version")
		if len(f.w.catalogue.applied) != 0 {
			t.Fatal("the review installed something")
		}
		form.Set("hash", "sha256:abab1100")
		r = f.post(ida, "/backoffice/catalogue/install", form)
		r.want(t, 422, "error-summary", `href="#confirm"`, `aria-invalid="true"`, `id="confirm-error"`)
		if len(f.w.catalogue.applied) != 0 {
			t.Fatal("installed without confirmation")
		}
		form.Set("hash", "sha256:other")
		form.Set("confirm", "1")
		f.post(ida, "/backoffice/catalogue/install", form).want(t, 409, "anderen Inhalt")
		form.Set("hash", "sha256:abab1100")
		r = f.post(ida, "/backoffice/catalogue/install", form)
		if r.StatusCode != 303 || r.Header.Get("Location") != "/backoffice/catalogue?installed="+url.QueryEscape(kitaModule+"@v1.1.0") {
			t.Fatalf("confirmed install: %d %s\n%s", r.StatusCode, r.Header.Get("Location"), clip(r.body))
		}
		if !slices.Equal(f.w.catalogue.applied, []string{"ida " + kitaModule + "@v1.1.0"}) {
			t.Errorf("applied %v", f.w.catalogue.applied)
		}
		f.get(ida, r.Header.Get("Location")).want(t, 200, `role="status"`, "v1.1.0 ist installiert")
	})
	t.Run("a texts-only upgrade installs without confirmation", func(t *testing.T) {
		g := newFixture(t)
		ida := g.admin("ida", "musterstadt")
		form := url.Values{"module": {kitaModule}, "version": {"v1.0.1"}}
		r := g.post(ida, "/backoffice/catalogue/plan", form)
		r.want(t, 200, "text changed", "INFO")
		if strings.Contains(r.body, `id="confirm"`) {
			t.Error("an INFO upgrade asks for confirmation")
		}
		form.Set("hash", "sha256:abab0101")
		if r := g.post(ida, "/backoffice/catalogue/install", form); r.StatusCode != 303 {
			t.Fatalf("install: %d\n%s", r.StatusCode, clip(r.body))
		}
	})
	t.Run("a refused version", func(t *testing.T) {
		r := f.post(ida, "/backoffice/catalogue/plan", url.Values{"module": {kitaModule}, "version": {"v9.9.9"}})
		r.want(t, 422, "refused: the version is not signed", "Es wurde nichts installiert")
	})
	t.Run("no registry configured", func(t *testing.T) {
		g := newFixture(t)
		g.w.catalogue.registry = ""
		ida := g.admin("ida", "musterstadt")
		r := g.get(ida, "/backoffice/catalogue")
		r.want(t, 200, "Keine Registry konfiguriert", "land.hessen.example/kita@v1")
		if strings.Contains(r.body, "/backoffice/catalogue/plan") {
			t.Error("install forms without a registry")
		}
		g.get(ida, "/backoffice/catalogue?lang=en").want(t, 200, "No registry configured")
	})
	t.Run("without a catalogue", func(t *testing.T) {
		g := newFixture(t)
		d := deps(g.w)
		d.Catalogue = nil
		g.app = newAppDeps(t, d)
		ida := g.admin("ida", "musterstadt")
		g.get(ida, "/backoffice/catalogue").want(t, 404)
		g.post(ida, "/backoffice/catalogue/plan", url.Values{"module": {kitaModule}, "version": {"v1.1.0"}}).want(t, 404)
		if r := g.get(ida, "/backoffice/"); strings.Contains(r.body, `href="/backoffice/catalogue"`) {
			t.Error("the nav offers a catalogue that is not there")
		}
	})
}
