// Package registrytest holds fixtures that the tests of engine/registry
// and of the packages that use it share: an OCI registry on a loopback
// port, a copy of a module's source tree to change before publishing,
// and the catalogue's versions in memory. It serves tests only; no
// program imports it.
package registrytest

import (
	"context"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"cuelabs.dev/go/oci/ociregistry"
	"cuelabs.dev/go/oci/ociregistry/ociserver"

	"github.com/amtsform/amtsform/engine/catalog"
	"github.com/amtsform/amtsform/engine/record"
)

// Serve starts an OCI registry that serves reg (ociserver) on a
// loopback port and stops it when the test ends. It returns the
// CUE_REGISTRY value that takes the modules of land.hessen.example, the
// examples' state, from that registry over plain HTTP.
func Serve(t testing.TB, reg ociregistry.Interface) string {
	t.Helper()
	srv := httptest.NewServer(ociserver.New(reg, nil))
	t.Cleanup(srv.Close)
	return "land.hessen.example=" + strings.TrimPrefix(srv.URL, "http://") + "+insecure"
}

// CopyTree copies the directory tree at src into a new temporary
// directory of the test and returns that directory.
func CopyTree(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// ReplaceIn replaces the first old in file with new. The test fails if
// the file does not contain old.
func ReplaceIn(t testing.TB, file, old, new string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s: no %q", file, old)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// ERRUpgrade copies the Kita module whose source is at kita
// (examples/packages/kita) and returns the copy, changed into version
// 1.1.0 with a narrower bound on the monthly fee: an upgrade that
// diff grades ERR for drafts in flight.
func ERRUpgrade(t testing.TB, kita string) string {
	t.Helper()
	dir := CopyTree(t, kita)
	service := filepath.Join(dir, "service.cue")
	ReplaceIn(t, service, `version:       "1.0.0"`, `version:       "1.1.0"`)
	ReplaceIn(t, service, "monthlyFee: spec.#Cents & <=200000", "monthlyFee: spec.#Cents & <=180000")
	return dir
}

// Versions is a catalog.Versions in memory. The zero value is empty and
// ready to use; a Versions is safe for concurrent use.
type Versions struct {
	mu sync.Mutex
	vs []*record.ServiceVersion
}

var _ catalog.Versions = (*Versions)(nil)

// PutVersion stores v unless a version with its hash is stored already.
func (m *Versions) PutVersion(_ context.Context, v *record.ServiceVersion) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, x := range m.vs {
		if x.Hash == v.Hash {
			return nil
		}
	}
	m.vs = append(m.vs, v)
	return nil
}

// ServiceVersions returns the stored versions in the order they were
// stored.
func (m *Versions) ServiceVersions(context.Context) ([]*record.ServiceVersion, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*record.ServiceVersion(nil), m.vs...), nil
}
