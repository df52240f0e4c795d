package registry

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cuelabs.dev/go/oci/ociregistry"
	"cuelabs.dev/go/oci/ociregistry/ocimem"
	"cuelang.org/go/mod/module"

	"github.com/amtsform/amtsform/engine/registry/registrytest"
)

const (
	kitaDir     = "../../examples/packages/kita"
	eltvilleDir = "../../examples/packages/eltville"
)

// openLoopback opens the registry that cueRegistry names
// (registrytest.Serve) with a fresh cache.
func openLoopback(t *testing.T, cueRegistry string) *Registry {
	t.Helper()
	r, err := Open(Config{CUERegistry: cueRegistry, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustSigner(t *testing.T) *Signer {
	t.Helper()
	s, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var v100 = module.MustNewVersion("land.hessen.example/kita@v1", "v1.0.0")

// TestPublishFetchLoad publishes the shared Kita module to a loopback
// registry, fetches it verified into a fresh cache and compiles an
// overlay that imports it through load.Config.Registry.
func TestPublishFetchLoad(t *testing.T) {
	ctx := context.Background()
	host := registrytest.Serve(t, ocimem.New())
	state := mustSigner(t)
	pub := openLoopback(t, host)
	mv, digest, err := pub.Publish(ctx, kitaDir, "v1.0.0", state)
	if err != nil {
		t.Fatal(err)
	}
	if mv != v100 || !strings.HasPrefix(string(digest), "sha256:") {
		t.Fatalf("published %v %s", mv, digest)
	}
	vs, err := pub.Versions(ctx, "land.hessen.example/kita@v1")
	if err != nil || len(vs) != 1 || vs[0] != "v1.0.0" {
		t.Fatalf("versions %v %v", vs, err)
	}

	r := openLoopback(t, host)
	trust := Trust{"land.hessen.example/*": {state.Public()}}
	f, err := r.Fetch(ctx, v100, trust)
	if err != nil {
		t.Fatal(err)
	}
	if f.Manifest != string(digest) || f.Signer != state.Public().ID() {
		t.Errorf("fetched %+v", f)
	}
	c, err := r.Prepare(ctx, v100, trust, eltvilleDir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Service.ID != "kita-uebernahme" || len(c.Service.Tests) == 0 {
		t.Errorf("service %s with %d tests", c.Service.ID, len(c.Service.Tests))
	}
	var vendored bool
	for _, f := range c.Service.Files {
		if f.Path == "cue.mod/pkg/land.hessen.example/kita/service.cue" {
			vendored = true
		}
		if strings.HasPrefix(f.Path, "cue.mod/pkg/land.hessen.example/kita/cue.mod") {
			t.Errorf("vendored the module file %s", f.Path)
		}
	}
	if !vendored {
		t.Errorf("the shared module is not among the recorded files: %v", c.Service.Files)
	}

	// Offline once cached: the registry is gone, the cache verifies.
	off, err := Open(Config{CacheDir: r.cache})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := off.Prepare(ctx, v100, trust, eltvilleDir)
	if err != nil {
		t.Fatalf("offline: %v", err)
	}
	if c2.Service.Hash != c.Service.Hash {
		t.Errorf("hash changed offline: %s vs %s", c2.Service.Hash, c.Service.Hash)
	}
	// A key no longer trusted stops the cached version too.
	if _, err := off.Fetch(ctx, v100, Trust{"land.hessen.example/*": {mustSigner(t).Public()}}); !errors.Is(err, ErrUntrusted) {
		t.Errorf("cached version with the key revoked: %v", err)
	}
	// Installed as published: the state's own service with its tests.
	c3, err := off.Prepare(ctx, v100, trust, "")
	if err != nil {
		t.Fatal(err)
	}
	if c3.Service.Hash == c.Service.Hash {
		t.Error("the shared service and the overlay have the same hash")
	}
}

// TestRefusals: install refuses an unsigned version, one signed by an
// untrusted key, a bad signature and content changed by one byte, each
// with its own error.
func TestRefusals(t *testing.T) {
	ctx := context.Background()
	state, other := mustSigner(t), mustSigner(t)
	trust := Trust{"land.hessen.example/*": {state.Public()}}

	t.Run("unsigned", func(t *testing.T) {
		host := registrytest.Serve(t, ocimem.New())
		if _, _, err := openLoopback(t, host).Publish(ctx, kitaDir, "v1.0.0", nil); err != nil {
			t.Fatal(err)
		}
		_, err := openLoopback(t, host).Fetch(ctx, v100, trust)
		wantRefusal(t, err, ErrUnsigned, "land.hessen.example/kita@v1.0.0: the version is not signed: the registry holds no signature for manifest sha256:")
	})
	t.Run("untrusted key", func(t *testing.T) {
		host := registrytest.Serve(t, ocimem.New())
		if _, _, err := openLoopback(t, host).Publish(ctx, kitaDir, "v1.0.0", other); err != nil {
			t.Fatal(err)
		}
		_, err := openLoopback(t, host).Fetch(ctx, v100, trust)
		wantRefusal(t, err, ErrUntrusted, "land.hessen.example/kita@v1.0.0: signed by an untrusted key (signed by "+other.Public().ID()+")")
	})
	t.Run("no publisher trusted for the prefix", func(t *testing.T) {
		host := registrytest.Serve(t, ocimem.New())
		if _, _, err := openLoopback(t, host).Publish(ctx, kitaDir, "v1.0.0", state); err != nil {
			t.Fatal(err)
		}
		_, err := openLoopback(t, host).Fetch(ctx, v100, Trust{"land.bayern.example/*": {state.Public()}})
		wantRefusal(t, err, ErrUntrusted, "the installation trusts no publisher for land.hessen.example/kita")
	})
	t.Run("bad signature", func(t *testing.T) {
		mem := ocimem.New()
		host := registrytest.Serve(t, mem)
		// The attacker signs with their own key but claims the state's key id.
		forged := &Signer{key: other.key, id: state.Public().ID()}
		if _, _, err := openLoopback(t, host).Publish(ctx, kitaDir, "v1.0.0", forged); err != nil {
			t.Fatal(err)
		}
		_, err := openLoopback(t, host).Fetch(ctx, v100, trust)
		wantRefusal(t, err, ErrBadSignature, "the signature does not verify: signature by trusted key "+state.Public().ID()+" is invalid")
	})
	t.Run("one byte changed", func(t *testing.T) {
		mem := ocimem.New()
		if _, _, err := New(mem, t.TempDir()).Publish(ctx, kitaDir, "v1.0.0", state); err != nil {
			t.Fatal(err)
		}
		host := registrytest.Serve(t, &flipByte{Interface: mem})
		_, err := openLoopback(t, host).Fetch(ctx, v100, trust)
		wantRefusal(t, err, ErrTampered, "the content differs from what was signed: the module zip has digest")
		// In-process, without ociclient, the digest is checked here.
		_, err = New(&flipByte{Interface: mem}, t.TempDir()).Fetch(ctx, v100, trust)
		wantRefusal(t, err, ErrTampered, "the content differs from what was signed: the module zip has digest sha256:")
	})
	t.Run("republished with one byte changed, old signature copied", func(t *testing.T) {
		mem := ocimem.New()
		pub := New(mem, t.TempDir())
		_, oldDigest, err := pub.Publish(ctx, kitaDir, "v1.0.0", state)
		if err != nil {
			t.Fatal(err)
		}
		dir := registrytest.CopyTree(t, kitaDir)
		b, _ := os.ReadFile(filepath.Join(dir, "service.cue"))
		b[len(b)-2] = ' ' // one byte
		os.WriteFile(filepath.Join(dir, "service.cue"), b, 0o644)
		_, newDigest, err := pub.Publish(ctx, dir, "v1.0.0", nil)
		if err != nil {
			t.Fatal(err)
		}
		// Copy the old signature artifact onto the new manifest.
		copySignature(t, mem, oldDigest, newDigest)
		_, err = New(mem, t.TempDir()).Fetch(ctx, v100, trust)
		wantRefusal(t, err, ErrTampered, "names another manifest than "+string(newDigest))
	})
	t.Run("cache changed after install", func(t *testing.T) {
		mem := ocimem.New()
		if _, _, err := New(mem, t.TempDir()).Publish(ctx, kitaDir, "v1.0.0", state); err != nil {
			t.Fatal(err)
		}
		r := New(mem, t.TempDir())
		f, err := r.Fetch(ctx, v100, trust)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(f.Dir, "service.cue")
		b, _ := os.ReadFile(p)
		os.Chmod(p, 0o644)
		if err := os.WriteFile(p, append(b, ' '), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = r.Fetch(ctx, v100, trust)
		wantRefusal(t, err, ErrTampered, "differ from the signed zip")
	})
}

func wantRefusal(t *testing.T, err, sentinel error, msg string) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("err = %v, want %v", err, sentinel)
	}
	if !strings.Contains(err.Error(), msg) {
		t.Errorf("err = %q\nwant it to contain %q", err, msg)
	}
	if Refusal(err) == "" {
		t.Errorf("no refusal text for %v", err)
	}
}

// flipByte serves every blob of a registry with its last byte changed.
type flipByte struct{ ociregistry.Interface }

func (f *flipByte) GetBlob(ctx context.Context, repo string, d ociregistry.Digest) (ociregistry.BlobReader, error) {
	r, err := f.Interface.GetBlob(ctx, repo, d)
	if err != nil {
		return nil, err
	}
	b, _ := io.ReadAll(r)
	desc := r.Descriptor()
	r.Close()
	if len(b) > 0 {
		b[len(b)-1] ^= 1
	}
	return ocimem.NewBytesReader(b, desc), nil
}

func copySignature(t *testing.T, mem ociregistry.Interface, from, to ociregistry.Digest) {
	t.Helper()
	ctx := context.Background()
	repo := "land.hessen.example/kita"
	loc := single{mem}
	l, _ := loc.ResolveToRegistry(repo, "v1.0.0")
	for desc, err := range mem.Referrers(ctx, repo, from, EnvelopeMediaType) {
		if err != nil {
			t.Fatal(err)
		}
		env, err := readArtifact(ctx, l, desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		rd, err := mem.GetManifest(ctx, repo, to)
		if err != nil {
			t.Fatal(err)
		}
		subject := rd.Descriptor()
		rd.Close()
		if err := pushReferrer(ctx, l, subject, env); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatal("no signature to copy")
}

func TestParseRef(t *testing.T) {
	for _, tt := range []struct{ in, want, err string }{
		{"land.hessen.example/kita@v1.2.0", "land.hessen.example/kita@v1.2.0", ""},
		{"land.hessen.example/kita@v2.0.0-rc.1", "land.hessen.example/kita@v2.0.0-rc.1", ""},
		{"land.hessen.example/kita", "", "want MODULE@VERSION"},
		{"land.hessen.example/kita@v1", "", "name a full version, e.g. land.hessen.example/kita@v1.0.0"},
		{"Land/kita@v1.0.0", "", "Land/kita"},
	} {
		mv, err := ParseRef(tt.in)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("ParseRef(%q) error %v, want %q", tt.in, err, tt.err)
		case tt.err == "" && (err != nil || mv.String() != tt.want):
			t.Errorf("ParseRef(%q) = %v, %v; want %s", tt.in, mv, err, tt.want)
		}
	}
}
