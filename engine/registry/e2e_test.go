package registry_test

import (
	"context"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cuelabs.dev/go/oci/ociregistry/ocimem"
	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/load"
	"cuelang.org/go/mod/modconfig"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/casework"
	"github.com/amtsform/amtsform/engine/catalog"
	"github.com/amtsform/amtsform/engine/diff"
	"github.com/amtsform/amtsform/engine/intake"
	"github.com/amtsform/amtsform/engine/mongostore"
	"github.com/amtsform/amtsform/engine/mongostore/embedded"
	"github.com/amtsform/amtsform/engine/registry"
	"github.com/amtsform/amtsform/engine/registry/registrytest"
	"github.com/amtsform/amtsform/specs"
)

// TestPublishInstallServe is the whole path of a shared service: the
// state publishes v1.0.0 of its Kita module to an OCI registry (ociserver
// over ocimem on loopback), Eltville installs it with its overlay and
// serves it; a draft is started; the state publishes v1.1.0, Eltville
// upgrades after the diff; the draft continues on v1.0.0 and submits as
// v1.0.0, a new draft starts on v1.1.0. The same registry is then read
// by cuelang.org/go's own module resolution (modconfig).
func TestPublishInstallServe(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded store")
	}
	ctx := context.Background()
	cfg := registrytest.Serve(t, ocimem.New())

	state, err := registry.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := registry.Open(registry.Config{CUERegistry: cfg, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := pub.Publish(ctx, "../../examples/packages/kita", "v1.0.0", state); err != nil {
		t.Fatal(err)
	}
	// v1.1.0 adds an optional field.
	v2 := registrytest.CopyTree(t, "../../examples/packages/kita")
	registrytest.ReplaceIn(t, filepath.Join(v2, "service.cue"), `version:       "1.0.0"`, `version:       "1.1.0"`)
	registrytest.ReplaceIn(t, filepath.Join(v2, "service.cue"), "\t\temail?:    spec.#Email\n", "\t\temail?:    spec.#Email\n\t\tphone?:    spec.#Phone\n")
	registrytest.ReplaceIn(t, filepath.Join(v2, "service.cue"), `fields: ["applicant", "address", "email"]`, `fields: ["applicant", "address", "email", "phone"]`)
	registrytest.ReplaceIn(t, filepath.Join(v2, "service.cue"), "\t\tiban: label:", "\t\tphone: label: {de: \"Telefon\", en: \"Phone\"}\n\t\tiban: label:")

	// The server: the embedded store, a catalogue that persists versions.
	db, err := embedded.Start(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Stop()
	st, err := mongostore.Connect(ctx, db.URI(), mongostore.Options{ExclusiveDrafts: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(ctx)
	cat := catalog.New(st)
	in := &intake.Intake{Store: st, Catalog: cat, Secret: []byte("packages-test-secret-0123456789ab"), Background: func(f func()) { f() }}

	trust := registry.Trust{"land.hessen.example/*": {state.Public()}}
	reg, err := registry.Open(registry.Config{CUERegistry: cfg, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	overlay := "../../examples/packages/eltville"
	mv1, _ := registry.ParseRef("land.hessen.example/kita@v1.0.0")
	c1, err := reg.Prepare(ctx, mv1, trust, overlay)
	if err != nil {
		t.Fatal(err)
	}
	if err := cat.Offer(ctx, "eltville", []*engine.Service{c1.Service}); err != nil {
		t.Fatal(err)
	}

	d, s, err := in.NewDraft(ctx, "eltville", "kita-uebernahme")
	if err != nil {
		t.Fatal(err)
	}
	if s.Hash != c1.Service.Hash || d.Service.Version != "1.0.0" {
		t.Fatalf("draft on %+v", d.Service)
	}
	pages := []struct {
		id     string
		values map[string]any
	}{
		{"person", map[string]any{
			"applicant": map[string]any{"givenName": "Anna", "familyName": "Schmidt", "birthDate": "1988-04-12"},
			"address":   map[string]any{"street": "Rheingauer Straße", "houseNumber": "28", "postalCode": "65343", "city": "Eltville am Rhein"},
		}},
		{"kinder", map[string]any{"children": []any{map[string]any{"name": "Paul", "birthDate": "2020-09-17", "careType": "kindergarten", "monthlyFee": 18050}}}},
	}
	for _, p := range pages {
		r, err := in.SavePage(ctx, "eltville", d.ID, d.Version, p.id, p.values)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Errors) > 0 {
			t.Fatalf("page %s: %v", p.id, r.Errors)
		}
		d = r.Draft
	}

	// The state publishes v1.1.0; Eltville sees the diff, then upgrades.
	if _, _, err := pub.Publish(ctx, v2, "v1.1.0", state); err != nil {
		t.Fatal(err)
	}
	vs, err := reg.Versions(ctx, "land.hessen.example/kita@v1")
	if err != nil || strings.Join(vs, " ") != "v1.0.0 v1.1.0" {
		t.Fatalf("versions %v %v", vs, err)
	}
	mv2, _ := registry.ParseRef("land.hessen.example/kita@v1.1.0")
	c2, err := reg.Prepare(ctx, mv2, trust, overlay)
	if err != nil {
		t.Fatal(err)
	}
	rep := diff.Compare(&diff.Version{Service: c1.Service, Value: c1.Source.Value}, &diff.Version{Service: c2.Service, Value: c2.Source.Value}, diff.Options{Today: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)})
	if rep.Severity == diff.Err {
		t.Errorf("adding an optional field graded ERR: %s", rep.JSON())
	}
	if err := cat.Offer(ctx, "eltville", []*engine.Service{c2.Service}); err != nil {
		t.Fatal(err)
	}

	// The draft continues on v1.0.0 and submits as v1.0.0.
	d, s, err = in.Draft(ctx, "eltville", d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if s.Hash != c1.Service.Hash {
		t.Fatalf("draft now on %s %s", s.Version, s.Hash)
	}
	r, err := in.SavePage(ctx, "eltville", d.ID, d.Version, "einkommen", map[string]any{"income": 3400000, "iban": "DE89370400440532013000", "consent": true})
	if err != nil || len(r.Errors) > 0 {
		t.Fatalf("einkommen: %v %v", err, r.Errors)
	}
	sub, _, err := in.SubmitDraft(ctx, "eltville", d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if sub.Service.Hash != c1.Service.Hash || sub.Service.Version != "1.0.0" {
		t.Errorf("submitted as %+v, want v1.0.0 %s", sub.Service, c1.Service.Hash)
	}
	if sub.Office != "kita-eltville" {
		t.Errorf("routed to %q", sub.Office)
	}
	// A new draft starts on v1.1.0.
	d2, s2, err := in.NewDraft(ctx, "eltville", "kita-uebernahme")
	if err != nil {
		t.Fatal(err)
	}
	if s2.Hash != c2.Service.Hash || d2.Service.Version != "1.1.0" {
		t.Errorf("new draft on %+v, want 1.1.0", d2.Service)
	}
	for _, p := range append(pages, struct {
		id     string
		values map[string]any
	}{"einkommen", map[string]any{"income": 3400000, "iban": "DE89370400440532013000", "consent": true}}) {
		r, err := in.SavePage(ctx, "eltville", d2.ID, d2.Version, p.id, p.values)
		if err != nil || len(r.Errors) > 0 {
			t.Fatalf("v1.1.0 page %s: %v %v", p.id, err, r.Errors)
		}
		d2 = r.Draft
	}
	sub2, _, err := in.SubmitDraft(ctx, "eltville", d2.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The back office shows each case with its own version.
	work := casework.New(st, cat, nil, casework.Options{})
	clerk := casework.Actor{ID: "clerk", Tenant: "eltville", Roles: []string{casework.RoleCaseworker}, Offices: []string{"kita-eltville"}}
	for _, want := range []struct {
		ref     string
		version string
		svc     *engine.Service
	}{{sub.Ref, "1.0.0", c1.Service}, {sub2.Ref, "1.1.0", c2.Service}} {
		cs, err := work.Case(ctx, clerk, want.ref)
		if err != nil {
			t.Fatal(err)
		}
		if cs.Sub.Service.Version != want.version || cs.Service.Version != want.version || cs.Service.Hash != want.svc.Hash {
			t.Errorf("case %s: ref %+v, service %s %s; want %s %s", want.ref, cs.Sub.Service, cs.Service.Version, cs.Service.Hash, want.version, want.svc.Hash)
		}
	}
	page, err := work.Inbox(ctx, clerk, casework.Query{Office: "kita-eltville", Limit: 25})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range page.Cases {
		got[c.Ref] = c.Service.Version
	}
	if got[sub.Ref] != "1.0.0" || got[sub2.Ref] != "1.1.0" {
		t.Errorf("inbox versions %v", got)
	}
	// After a restart the old version is restored from the store alone.
	cat2 := catalog.New(st)
	if n, err := cat2.Restore(ctx); err != nil || n < 2 {
		t.Fatalf("restored %d: %v", n, err)
	}
	if _, err := cat2.Pinned(sub.Service); err != nil {
		t.Error(err)
	}

	// cuelang.org/go's own resolution reads the same registry.
	cueReg, err := modconfig.NewRegistry(&modconfig.Config{CUERegistry: cfg, Env: []string{
		"CUE_CACHE_DIR=" + t.TempDir(), "CUE_CONFIG_DIR=" + t.TempDir(), "HOME=" + t.TempDir(),
	}})
	if err != nil {
		t.Fatal(err)
	}
	consumer := t.TempDir()
	os.MkdirAll(filepath.Join(consumer, "cue.mod"), 0o755)
	os.WriteFile(filepath.Join(consumer, "cue.mod", "module.cue"), []byte("module: \"example.org/consumer\"\nlanguage: version: \"v0.17.0\"\ndeps: \"land.hessen.example/kita@v1\": v: \"v1.1.0\"\n"), 0o644)
	os.WriteFile(filepath.Join(consumer, "x.cue"), []byte("package x\n\nimport kita \"land.hessen.example/kita@v1\"\n\nid: kita.service.id\nversion: kita.service.version\n"), 0o644)
	ov := map[string]load.Source{}
	fs.WalkDir(specs.FS, "spec", func(p string, de fs.DirEntry, err error) error {
		if err == nil && !de.IsDir() {
			b, _ := specs.FS.ReadFile(p)
			ov[filepath.Join(consumer, "cue.mod", "pkg", specs.ImportPath, path.Base(p))] = load.FromBytes(b)
		}
		return err
	})
	insts := load.Instances([]string{"."}, &load.Config{Dir: consumer, Registry: cueReg, Overlay: ov})
	if err := insts[0].Err; err != nil {
		t.Fatal(err)
	}
	v := cuecontext.New().BuildInstance(insts[0])
	id, _ := v.LookupPath(cue.ParsePath("id")).String()
	ver, _ := v.LookupPath(cue.ParsePath("version")).String()
	if id != "kita-uebernahme" || ver != "1.1.0" {
		t.Errorf("cue read %q %q: %v", id, ver, v.Err())
	}
}
