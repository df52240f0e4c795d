package registry

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/load"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/record"
)

// Settings are the module settings of an installation directory, its
// field "modules":
//
//	modules: {
//		registry: "land.hessen.example=registry.hessen.example/cue"
//		trust: "land.hessen.example/*": ["ed25519:…"]
//	}
type Settings struct {
	// Registry is the registry configuration (CUE_REGISTRY syntax).
	Registry string
	// Trust are the trusted publishers per module prefix.
	Trust Trust
}

const settingsSchema = `
modules?: {
	registry?: string
	trust?: [=~"^[a-z0-9.-]+(/[A-Za-z0-9._-]+)*(/\\*)?$"]: [...=~"^ed25519:"]
}
`

// ReadSettings reads the "modules" field of the installation in dir.
// An installation without one has no registry and trusts nobody.
func ReadSettings(dir string) (*Settings, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	insts := load.Instances([]string{"."}, &load.Config{Dir: abs, ModuleRoot: abs, Overlay: map[string]load.Source{
		filepath.Join(abs, "cue.mod", "module.cue"):          load.FromString("module: \"amtsform.local/installation\"\nlanguage: version: \"v0.17.0\"\n"),
		filepath.Join(abs, "zz_modules_schema_amtsform.cue"): load.FromString("package installation\n" + settingsSchema),
	}})
	if len(insts) != 1 || insts[0].Err != nil {
		if len(insts) == 1 {
			return nil, problems(insts[0].Err)
		}
		return nil, fmt.Errorf("%s: expected one CUE package", dir)
	}
	v := cuecontext.New().BuildInstance(insts[0])
	if err := v.Err(); err != nil {
		return nil, problems(err)
	}
	m := v.LookupPath(cue.ParsePath("modules"))
	s := &Settings{Trust: Trust{}}
	if !m.Exists() {
		return s, nil
	}
	var raw struct {
		Registry string              `json:"registry"`
		Trust    map[string][]string `json:"trust"`
	}
	if err := m.Decode(&raw); err != nil {
		return nil, problems(err)
	}
	s.Registry = raw.Registry
	for pat, keys := range raw.Trust {
		for _, k := range keys {
			pk, err := ParsePublicKey(k)
			if err != nil {
				return nil, fmt.Errorf("%s: modules.trust[%q]: %w", dir, pat, err)
			}
			s.Trust[pat] = append(s.Trust[pat], pk)
		}
	}
	return s, nil
}

// RecordFile is the file in an installation directory that records
// which module versions each tenant runs.
const RecordFile = "installed-modules.json"

// Installed is one module version a tenant runs.
type Installed struct {
	Tenant string `json:"tenant"`
	// Module is the module path with its major version.
	Module  string `json:"module"`
	Version string `json:"version"`
	// Overlay is the tenant's local overlay directory, relative to the
	// installation; "" when the tenant runs the module's service as
	// published.
	Overlay string `json:"overlay,omitempty"`
	// Service, ServiceVersion and Hash identify the compiled version the
	// catalogue offers.
	Service        string `json:"service"`
	ServiceVersion string `json:"serviceVersion"`
	Hash           string `json:"hash"`
	// Manifest and Signer are what was verified.
	Manifest  string    `json:"manifest"`
	Signer    string    `json:"signer"`
	Installed time.Time `json:"installed"`
}

// Record is the installed-modules record of an installation.
type Record struct {
	Modules []Installed `json:"modules"`
}

// ReadRecord reads the record in the installation directory dir; a
// missing file is an empty record.
func ReadRecord(dir string) (*Record, error) {
	b, err := os.ReadFile(filepath.Join(dir, RecordFile))
	if errors.Is(err, os.ErrNotExist) {
		return &Record{}, nil
	}
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, RecordFile), err)
	}
	return &r, nil
}

// Current returns what tenant runs of module (with overlay), or nil.
func (r *Record) Current(tenant, module, overlay string) *Installed {
	for i := range r.Modules {
		m := &r.Modules[i]
		if m.Tenant == tenant && m.Module == module && m.Overlay == overlay {
			return m
		}
	}
	return nil
}

// Set records in, replacing what the tenant ran of the same module and
// overlay.
func (r *Record) Set(in Installed) {
	if cur := r.Current(in.Tenant, in.Module, in.Overlay); cur != nil {
		*cur = in
		return
	}
	r.Modules = append(r.Modules, in)
	sort.Slice(r.Modules, func(i, j int) bool {
		a, b := r.Modules[i], r.Modules[j]
		if a.Tenant != b.Tenant {
			return a.Tenant < b.Tenant
		}
		return a.Module+a.Overlay < b.Module+b.Overlay
	})
}

// Write writes the record into the installation directory dir.
func (r *Record) Write(dir string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, RecordFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, RecordFile))
}

// Offers returns, per tenant, the services the record says the tenant
// runs, looked up by hash with pinned (catalog.Catalog.Pinned after
// Restore): a server offers exactly the versions installed, compiled
// from the sources stored at install time, with no registry and no
// module cache.
func (r *Record) Offers(pinned func(record.ServiceRef) (*engine.Service, error)) (map[string][]*engine.Service, error) {
	out := map[string][]*engine.Service{}
	var errs []error
	for _, m := range r.Modules {
		s, err := pinned(record.ServiceRef{ID: m.Service, Version: m.ServiceVersion, Hash: m.Hash})
		if err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %s %s: %w", m.Tenant, m.Module, m.Version, err))
			continue
		}
		out[m.Tenant] = append(out[m.Tenant], s)
	}
	return out, errors.Join(errs...)
}

// Newer returns the versions of each installed module (by module path)
// the registry holds that are newer than the newest any tenant runs.
func (r *Record) Newer(ctx context.Context, reg *Registry) (map[string][]string, error) {
	newest := map[string]string{}
	for _, m := range r.Modules {
		if compareVersions(m.Version, newest[m.Module]) > 0 {
			newest[m.Module] = m.Version
		}
	}
	out := map[string][]string{}
	var errs []error
	for mod, have := range newest {
		vs, err := reg.Versions(ctx, mod)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", mod, err))
			continue
		}
		for _, v := range vs {
			if compareVersions(v, have) > 0 {
				out[mod] = append(out[mod], v)
			}
		}
		sort.Slice(out[mod], func(i, j int) bool { return compareVersions(out[mod][i], out[mod][j]) < 0 })
	}
	return out, errors.Join(errs...)
}

// compareVersions compares two semantic versions "vX.Y.Z[-pre]"; ""
// is lower than any. A pre-release is lower than its release.
func compareVersions(a, b string) int {
	if a == b {
		return 0
	}
	if a == "" || b == "" {
		return cmp.Compare(len(a), len(b))
	}
	pa, prea, _ := strings.Cut(strings.TrimPrefix(a, "v"), "-")
	pb, preb, _ := strings.Cut(strings.TrimPrefix(b, "v"), "-")
	xa, xb := strings.Split(pa, "."), strings.Split(pb, ".")
	for i := 0; i < 3; i++ {
		var na, nb int
		if i < len(xa) {
			na, _ = strconv.Atoi(xa[i])
		}
		if i < len(xb) {
			nb, _ = strconv.Atoi(xb[i])
		}
		if c := cmp.Compare(na, nb); c != 0 {
			return c
		}
	}
	switch {
	case prea == preb:
		return 0
	case prea == "":
		return 1
	case preb == "":
		return -1
	}
	return strings.Compare(prea, preb)
}
