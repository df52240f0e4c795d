package main

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/catalog"
	"github.com/amtsform/amtsform/engine/registry"
)

// TestServeCatalogue: serve builds the catalogue from the installation
// directory: without modules.registry it lists what is offered and has
// no installer; with one it can install.
func TestServeCatalogue(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	t.Setenv("AMTSFORM_MODULE_CACHE", t.TempDir())
	inst, err := engine.LoadInstallation(filepath.Join("..", "..", "examples", "installation"))
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.New(nil)
	c, ok := serveCatalogue(inst, cat, nil, nil, log).(*registry.Catalogue)
	if !ok || c.Installer != nil {
		t.Fatalf("examples/installation: %#v", c)
	}
	o, err := c.Overview(context.Background(), "musterstadt")
	if err != nil || o.Registry != "" || len(o.Modules) != 0 {
		t.Fatalf("overview %+v %v", o, err)
	}

	pk, err := engine.LoadInstallation(filepath.Join("..", "..", "examples", "packages"))
	if err != nil {
		t.Fatal(err)
	}
	c, ok = serveCatalogue(pk, cat, nil, nil, log).(*registry.Catalogue)
	if !ok || c.Installer == nil || c.Settings.Registry == "" {
		t.Fatalf("examples/packages: %#v", c)
	}
	if serveCatalogue(&engine.Installation{}, cat, nil, nil, log) != nil {
		t.Error("serve --specs has a catalogue")
	}
}
