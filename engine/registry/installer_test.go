package registry

import (
	"context"
	"errors"
	"strings"
	"testing"

	"cuelabs.dev/go/oci/ociregistry/ocimem"
	"cuelang.org/go/mod/module"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/catalog"
	"github.com/amtsform/amtsform/engine/record"
	"github.com/amtsform/amtsform/engine/registry/registrytest"
)

// TestInstaller installs, refuses an ERR upgrade unconfirmed, upgrades
// when confirmed, and refuses an overlay routing to another tenant's
// offices.
func TestInstaller(t *testing.T) {
	ctx := context.Background()
	state := mustSigner(t)
	mem := ocimem.New()
	pub := New(mem, t.TempDir())
	if _, _, err := pub.Publish(ctx, kitaDir, "v1.0.0", state); err != nil {
		t.Fatal(err)
	}
	v2 := registrytest.ERRUpgrade(t, kitaDir)
	if _, _, err := pub.Publish(ctx, v2, "v1.1.0", state); err != nil {
		t.Fatal(err)
	}

	instDir := registrytest.CopyTree(t, "../../examples/packages")
	inst, err := engine.LoadInstallation(instDir)
	if err != nil {
		t.Fatal(err)
	}
	vs := &registrytest.Versions{}
	cat := catalog.New(vs)
	in := &Installer{Registry: New(mem, t.TempDir()), Installation: inst, Settings: &Settings{Trust: Trust{"land.hessen.example/*": {state.Public()}}}, Catalog: cat, Versions: vs}

	p, err := in.Plan(ctx, "eltville", v100, "eltville")
	if err != nil {
		t.Fatal(err)
	}
	if p.Current != nil || p.Diff != nil || p.NeedsConfirmation() {
		t.Errorf("first install plan %+v", p)
	}
	first, err := in.Apply(ctx, p, false)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := cat.Get("eltville", "kita-uebernahme"); err != nil || s.Hash != first.Hash {
		t.Fatalf("offered %v %v", s, err)
	}

	v110 := module.MustNewVersion("land.hessen.example/kita@v1", "v1.1.0")
	p, err = in.Plan(ctx, "eltville", v110, "eltville")
	if err != nil {
		t.Fatal(err)
	}
	if !p.NeedsConfirmation() || p.Current.Version != "v1.0.0" {
		t.Fatalf("upgrade plan: confirm %v, current %+v, diff %s", p.NeedsConfirmation(), p.Current, p.Diff.JSON())
	}
	if _, err := in.Apply(ctx, p, false); !errors.Is(err, ErrConfirm) {
		t.Fatalf("unconfirmed ERR upgrade: %v", err)
	}
	if s, _ := cat.Get("eltville", "kita-uebernahme"); s.Hash != first.Hash {
		t.Error("the unconfirmed upgrade was offered")
	}
	second, err := in.Apply(ctx, p, true)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := cat.Get("eltville", "kita-uebernahme"); s.Hash != second.Hash || s.Version != "1.1.0" {
		t.Errorf("after the upgrade the tenant is offered %s", s.Version)
	}
	if _, err := cat.Pinned(record.ServiceRef{ID: "kita-uebernahme", Version: "1.0.0", Hash: first.Hash}); err != nil {
		t.Errorf("the old version is gone: %v", err)
	}
	rec, _ := ReadRecord(instDir)
	if len(rec.Modules) != 1 || rec.Modules[0].Version != "v1.1.0" {
		t.Errorf("record %+v", rec.Modules)
	}

	// Eltville's overlay routes to Eltville's offices, not Idstein's.
	_, err = in.Plan(ctx, "idstein", v100, "eltville")
	if err == nil || !strings.Contains(err.Error(), `office "kita-eltville" is not in the directory of tenant idstein`) {
		t.Errorf("overlay of another tenant: %v", err)
	}
	if _, err := in.Plan(ctx, "nowhere", v100, ""); err == nil {
		t.Error("an unknown tenant was accepted")
	}
}
