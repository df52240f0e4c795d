package registry

import (
	"context"
	"fmt"
	"testing"

	"cuelabs.dev/go/oci/ociregistry/ocimem"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/record"
)

func TestReadSettings(t *testing.T) {
	s, err := ReadSettings("../../examples/packages")
	if err != nil {
		t.Fatal(err)
	}
	if s.Registry != "land.hessen.example=registry.hessen.example/cue" {
		t.Errorf("registry %q", s.Registry)
	}
	if ks := s.Trust.Keys("land.hessen.example/kita"); len(ks) != 1 {
		t.Errorf("keys for the Kita module: %v", ks)
	}
	if ks := s.Trust.Keys("land.bayern.example/kita"); len(ks) != 0 {
		t.Errorf("keys for another state's module: %v", ks)
	}
	if ks := s.Trust.Keys("land.hessen.examplex/kita"); len(ks) != 0 {
		t.Errorf("a prefix matched a longer host: %v", ks)
	}
	none, err := ReadSettings("../../examples/installation")
	if err != nil || none.Registry != "" || len(none.Trust) != 0 {
		t.Errorf("an installation without modules: %+v %v", none, err)
	}
}

func TestOpenRefusesInsecureRemote(t *testing.T) {
	if _, err := Open(Config{CUERegistry: "registry.example+insecure", CacheDir: t.TempDir()}); err == nil {
		t.Error("+insecure for a remote host was accepted")
	}
	for _, h := range []string{"127.0.0.1:5000+insecure", "localhost:5000+insecure", "[::1]:5000+insecure"} {
		if _, err := Open(Config{CUERegistry: h, CacheDir: t.TempDir()}); err != nil {
			t.Errorf("%s: %v", h, err)
		}
	}
}

func TestRecord(t *testing.T) {
	dir := t.TempDir()
	r, err := ReadRecord(dir)
	if err != nil || len(r.Modules) != 0 {
		t.Fatalf("empty record: %+v %v", r, err)
	}
	r.Set(Installed{Tenant: "idstein", Module: "land.hessen.example/kita@v1", Version: "v1.0.0", Overlay: "idstein", Service: "kita", ServiceVersion: "1.0.0", Hash: "h1"})
	r.Set(Installed{Tenant: "eltville", Module: "land.hessen.example/kita@v1", Version: "v1.0.0", Overlay: "eltville", Service: "kita", ServiceVersion: "1.0.0", Hash: "h2"})
	r.Set(Installed{Tenant: "idstein", Module: "land.hessen.example/kita@v1", Version: "v1.1.0", Overlay: "idstein", Service: "kita", ServiceVersion: "1.1.0", Hash: "h3"})
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	r, err = ReadRecord(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Modules) != 2 || r.Modules[0].Tenant != "eltville" || r.Current("idstein", "land.hessen.example/kita@v1", "idstein").Version != "v1.1.0" {
		t.Errorf("record %+v", r.Modules)
	}
	offers, err := r.Offers(func(ref record.ServiceRef) (*engine.Service, error) {
		if ref.Hash == "h2" {
			return nil, fmt.Errorf("not stored")
		}
		return &engine.Service{ID: ref.ID, Version: ref.Version, Hash: ref.Hash}, nil
	})
	if err == nil || len(offers["idstein"]) != 1 || offers["idstein"][0].Hash != "h3" || len(offers["eltville"]) != 0 {
		t.Errorf("offers %v, %v", offers, err)
	}

	ctx := context.Background()
	reg := New(ocimem.New(), t.TempDir())
	for _, v := range []string{"v1.0.0", "v1.1.0", "v1.2.0"} {
		if _, _, err := reg.Publish(ctx, "../../examples/packages/kita", v, nil); err != nil {
			t.Fatal(err)
		}
	}
	newer, err := r.Newer(ctx, reg)
	if err != nil || fmt.Sprint(newer) != "map[land.hessen.example/kita@v1:[v1.2.0]]" {
		t.Errorf("newer %v %v", newer, err)
	}
}

func TestCompareVersions(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"v1.0.0", "v1.0.0", 0}, {"v1.0.0", "v1.1.0", -1}, {"v1.10.0", "v1.9.0", 1},
		{"v1.0.0-rc.1", "v1.0.0", -1}, {"", "v0.0.1", -1}, {"v2.0.0", "v1.99.99", 1},
	} {
		if got := compareVersions(tt.a, tt.b); got != tt.want {
			t.Errorf("compare(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
