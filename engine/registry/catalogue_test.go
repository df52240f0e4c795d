package registry

import (
	"context"
	"errors"
	"slices"
	"testing"

	"cuelabs.dev/go/oci/ociregistry/ocimem"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/catalog"
	"github.com/amtsform/amtsform/engine/registry/registrytest"
)

// TestCatalogue is the back office's catalogue over a real registry:
// the overview without a registry, with the newer version the registry
// holds, the plan with its ERR diff, a refused unconfirmed install, a
// confirmation for other content, and the confirmed install.
func TestCatalogue(t *testing.T) {
	ctx := context.Background()
	state := mustSigner(t)
	mem := ocimem.New()
	pub := New(mem, t.TempDir())
	if _, _, err := pub.Publish(ctx, kitaDir, "v1.0.0", state); err != nil {
		t.Fatal(err)
	}
	v2 := registrytest.ERRUpgrade(t, kitaDir)

	instDir := registrytest.CopyTree(t, "../../examples/packages")
	inst, err := engine.LoadInstallation(instDir)
	if err != nil {
		t.Fatal(err)
	}
	vs := &registrytest.Versions{}
	cat := catalog.New(vs)
	settings := &Settings{Registry: "land.hessen.example=127.0.0.1:5000/cue+insecure", Trust: Trust{"land.hessen.example/*": {state.Public()}}}
	in := &Installer{Registry: New(mem, t.TempDir()), Installation: inst, Settings: settings, Catalog: cat, Versions: vs}

	// Without a registry: what is installed, and nothing newer.
	none := &Catalogue{Installation: inst, Catalog: cat}
	o, err := none.Overview(ctx, "eltville")
	if err != nil || o.Registry != "" || len(o.Modules) != 0 {
		t.Fatalf("overview without registry: %+v %v", o, err)
	}
	if _, err := none.Plan(ctx, "eltville", "land.hessen.example/kita@v1", "v1.0.0"); err == nil {
		t.Error("a plan without a registry")
	}

	p, err := in.Plan(ctx, "eltville", v100, "eltville")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Apply(ctx, p, false); err != nil {
		t.Fatal(err)
	}
	var installed []string
	c := &Catalogue{Installation: inst, Settings: settings, Installer: in, Catalog: cat,
		OnInstall: func(_ context.Context, by string, m Installed) { installed = append(installed, by+" "+m.Version) }}
	o, err = c.Overview(ctx, "eltville")
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Modules) != 1 || o.Modules[0].Version != "v1.0.0" || len(o.Modules[0].Newer) != 0 || o.NewerError != "" {
		t.Fatalf("overview %+v", o)
	}
	if !slices.Equal(o.Modules[0].TrustedFor, []string{"land.hessen.example/*"}) {
		t.Errorf("trusted for %v", o.Modules[0].TrustedFor)
	}
	if len(o.Services) != 1 || o.Services[0].Module != "land.hessen.example/kita@v1" || o.Services[0].Hash != o.Modules[0].Hash {
		t.Errorf("services %+v", o.Services)
	}
	// another tenant sees none of it
	if o, _ := c.Overview(ctx, "idstein"); len(o.Modules) != 0 || len(o.Services) != 0 {
		t.Errorf("idstein sees %+v", o)
	}

	if _, _, err := pub.Publish(ctx, v2, "v1.1.0", state); err != nil {
		t.Fatal(err)
	}
	o, _ = c.Overview(ctx, "eltville")
	if !slices.Equal(o.Modules[0].Newer, []string{"v1.1.0"}) {
		t.Fatalf("newer %v", o.Modules[0].Newer)
	}
	ip, err := c.Plan(ctx, "eltville", "land.hessen.example/kita@v1", "v1.1.0")
	if err != nil {
		t.Fatal(err)
	}
	if !ip.NeedsConfirmation || ip.Diff == nil || ip.Current == nil || ip.Current.Version != "v1.0.0" || ip.Overlay != "eltville" {
		t.Fatalf("plan %+v", ip)
	}
	if _, err := c.Apply(ctx, "eltville", "ida", "land.hessen.example/kita@v1", "v1.1.0", ip.Hash, false); !errors.Is(err, ErrConfirm) {
		t.Fatalf("unconfirmed: %v", err)
	}
	if _, err := c.Apply(ctx, "eltville", "ida", "land.hessen.example/kita@v1", "v1.1.0", "sha256:other", true); !errors.Is(err, ErrChanged) {
		t.Fatalf("other content: %v", err)
	}
	done, err := c.Apply(ctx, "eltville", "ida", "land.hessen.example/kita@v1", "v1.1.0", ip.Hash, true)
	if err != nil || done.Version != "v1.1.0" {
		t.Fatalf("apply: %+v %v", done, err)
	}
	if !slices.Equal(installed, []string{"ida v1.1.0"}) {
		t.Errorf("OnInstall %v", installed)
	}
	o, _ = c.Overview(ctx, "eltville")
	if o.Modules[0].Version != "v1.1.0" || len(o.Modules[0].Newer) != 0 || o.Services[0].Version != "1.1.0" {
		t.Errorf("after the upgrade %+v", o)
	}
}
