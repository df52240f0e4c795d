package backoffice_test

import (
	"context"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"cuelabs.dev/go/oci/ociregistry/ocimem"
	"cuelang.org/go/mod/module"

	"github.com/amtsform/amtsform/api/apitest"
	bo "github.com/amtsform/amtsform/api/backoffice"
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/catalog"
	"github.com/amtsform/amtsform/engine/registry"
	"github.com/amtsform/amtsform/engine/registry/registrytest"
)

var regexpHash = regexp.MustCompile(`name="hash" value="([^"]+)"`)

// TestCatalogueWithRegistry runs the catalogue page on the real
// registry.Catalogue over an in-memory OCI registry: the state
// publishes the Kita module v1.0.0, Eltville runs it with its overlay,
// the state publishes v1.1.0 with a narrower fee bound (ERR for
// drafts); Eltville's admin sees it, reviews the diff, must confirm and
// installs it.
func TestCatalogueWithRegistry(t *testing.T) {
	ctx := context.Background()
	examples := apitest.ExamplesDir()
	kita := filepath.Join(examples, "packages", "kita")
	state, err := registry.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	mem := ocimem.New()
	pub := registry.New(mem, t.TempDir())
	if _, _, err := pub.Publish(ctx, kita, "v1.0.0", state); err != nil {
		t.Fatal(err)
	}
	instDir := registrytest.CopyTree(t, filepath.Join(examples, "packages"))
	inst, err := engine.LoadInstallation(instDir)
	if err != nil {
		t.Fatal(err)
	}
	vs := &registrytest.Versions{}
	cat := catalog.New(vs)
	set := &registry.Settings{Registry: "land.hessen.example=registry.hessen.example/cue", Trust: registry.Trust{"land.hessen.example/*": {state.Public()}}}
	in := &registry.Installer{Registry: registry.New(mem, t.TempDir()), Installation: inst, Settings: set, Catalog: cat, Versions: vs}
	p, err := in.Plan(ctx, "eltville", module.MustNewVersion("land.hessen.example/kita@v1", "v1.0.0"), "eltville")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Apply(ctx, p, false); err != nil {
		t.Fatal(err)
	}
	v2 := registrytest.ERRUpgrade(t, kita)
	if _, _, err := pub.Publish(ctx, v2, "v1.1.0", state); err != nil {
		t.Fatal(err)
	}

	f := newFixture(t)
	d := deps(f.w)
	var audited []string
	d.Catalogue = &registry.Catalogue{Installation: inst, Settings: set, Installer: in, Catalog: cat,
		OnInstall: func(_ context.Context, by string, m registry.Installed) { audited = append(audited, by+" "+m.Version) }}
	f.app = newAppDeps(t, d)
	f.w.addUser(&bo.User{ID: "eva", Tenant: "eltville", Name: "Eva Ernst", Roles: []string{"admin"}}, "eva-pw")
	eva := f.w.session("eva")

	r := f.get(eva, "/backoffice/catalogue")
	r.want(t, 200, "land.hessen.example/kita@v1", "v1.0.0", "eltville", state.Public().ID(), "land.hessen.example/*", `value="v1.1.0"`, "kita-uebernahme")
	form := url.Values{"module": {"land.hessen.example/kita@v1"}, "version": {"v1.1.0"}}
	r = f.post(eva, "/backoffice/catalogue/plan", form)
	r.want(t, 200, "monthlyFee", `<strong class="bo-flag">ERR</strong>`, `id="confirm"`)
	m := regexpHash.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no hash in the form\n%s", clip(r.body))
	}
	form.Set("hash", m[1])
	f.post(eva, "/backoffice/catalogue/install", form).want(t, 422, `href="#confirm"`)
	if s, _ := cat.Get("eltville", "kita-uebernahme"); s.Version != "1.0.0" {
		t.Fatalf("installed without confirmation: %s", s.Version)
	}
	form.Set("confirm", "1")
	if r := f.post(eva, "/backoffice/catalogue/install", form); r.StatusCode != 303 {
		t.Fatalf("install: %d\n%s", r.StatusCode, clip(r.body))
	}
	if s, _ := cat.Get("eltville", "kita-uebernahme"); s.Version != "1.1.0" {
		t.Errorf("after the install the tenant is offered %s", s.Version)
	}
	if len(audited) != 1 || audited[0] != "eva v1.1.0" {
		t.Errorf("audited %v", audited)
	}
	r = f.get(eva, "/backoffice/catalogue?installed="+url.QueryEscape("land.hessen.example/kita@v1@v1.1.0"))
	r.want(t, 200, "v1.1.0 ist installiert")
	if strings.Contains(r.body, `value="v1.1.0"`) {
		t.Error("v1.1.0 is still offered as newer")
	}
}
