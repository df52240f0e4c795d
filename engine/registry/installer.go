package registry

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"cuelang.org/go/mod/module"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/catalog"
	"github.com/amtsform/amtsform/engine/diff"
)

// ErrConfirm reports an upgrade whose diff grades something ERR: it is
// installed only when confirmed.
var ErrConfirm = errors.New("the upgrade has changes graded ERR; confirm to install")

// Installer installs module versions for the tenants of one
// installation: amtsform install uses it, and so can the back office.
type Installer struct {
	Registry     *Registry
	Installation *engine.Installation
	// Settings are the installation's registry and trust (ReadSettings).
	Settings *Settings
	// Catalog offers and persists what is installed. A server passes
	// its own, so that the tenant is offered the new version at once;
	// the command line passes a new one over the store.
	Catalog *catalog.Catalog
	// Versions are the stored versions, for the version a tenant runs.
	Versions catalog.Versions
	// Now is the install time; nil means time.Now.
	Now func() time.Time
}

// Plan is what an install would do, before it does it.
type Plan struct {
	Tenant string
	Module module.Version
	// Overlay is the tenant's overlay directory relative to the
	// installation, or "".
	Overlay   string
	Candidate *Candidate
	// Current is what the tenant runs of the module now, nil on a first
	// install; Old is that version compiled from the store, by hash.
	Current *Installed
	Old     *diff.Version
	// Diff compares Old with the candidate; nil on a first install.
	Diff *diff.Report
	// Unchanged is set when the tenant runs exactly the candidate.
	Unchanged bool
}

// NeedsConfirmation reports whether the diff grades something ERR.
func (p *Plan) NeedsConfirmation() bool { return p.Diff != nil && p.Diff.Severity == diff.Err }

// Plan fetches, verifies, compiles and tests mv for tenant (with the
// overlay directory overlay, relative to the installation, or none),
// checks its routes against the tenant's offices and compares it with
// the version the tenant runs.
func (in *Installer) Plan(ctx context.Context, tenant string, mv module.Version, overlay string) (*Plan, error) {
	t := in.Installation.Tenant(tenant)
	if t == nil {
		return nil, fmt.Errorf("tenant %q is not in %s", tenant, in.Installation.Dir)
	}
	p := &Plan{Tenant: tenant, Module: mv, Overlay: filepath.ToSlash(overlay)}
	var abs string
	if overlay != "" {
		abs = filepath.Join(in.Installation.Dir, filepath.FromSlash(overlay))
	}
	c, err := in.Registry.Prepare(ctx, mv, in.Settings.Trust, abs)
	if err != nil {
		return nil, err
	}
	p.Candidate = c
	if err := checkOffices(t, c.Service); err != nil {
		return nil, err
	}
	rec, err := ReadRecord(in.Installation.Dir)
	if err != nil {
		return nil, err
	}
	p.Current = rec.Current(tenant, mv.Path(), p.Overlay)
	if p.Current == nil {
		return p, nil
	}
	if p.Current.Hash == c.Service.Hash {
		p.Unchanged = true
		return p, nil
	}
	// The version the tenant runs is the one stored by hash, as the
	// server serves it, whatever its overlay's files say today.
	p.Old, err = storedVersion(ctx, in.Versions, p.Current.Hash)
	if err != nil {
		return nil, fmt.Errorf("the version %s runs now (%s, hash %.12s): %w", tenant, p.Current.Version, p.Current.Hash, err)
	}
	p.Diff = diff.Compare(p.Old, &diff.Version{Service: c.Service, Value: c.Source.Value}, diff.Options{})
	return p, nil
}

// Apply installs a plan: the version is offered to the tenant in place
// of its earlier version of the same service (which stays reachable by
// hash for the drafts pinned to it) and persisted by hash, and the
// installation's record is updated. A plan that NeedsConfirmation is
// applied only when confirmed; otherwise Apply returns ErrConfirm.
func (in *Installer) Apply(ctx context.Context, p *Plan, confirmed bool) (*Installed, error) {
	if p.NeedsConfirmation() && !confirmed {
		return nil, ErrConfirm
	}
	svc := p.Candidate.Service
	if !p.Unchanged {
		set := []*engine.Service{svc}
		for _, s := range in.Catalog.List(p.Tenant) {
			if s.ID != svc.ID {
				set = append(set, s)
			}
		}
		if err := in.Catalog.Offer(ctx, p.Tenant, set); err != nil {
			return nil, err
		}
	}
	rec, err := ReadRecord(in.Installation.Dir)
	if err != nil {
		return nil, err
	}
	now := time.Now
	if in.Now != nil {
		now = in.Now
	}
	done := Installed{
		Tenant: p.Tenant, Module: p.Module.Path(), Version: p.Module.Version(), Overlay: p.Overlay,
		Service: svc.ID, ServiceVersion: svc.Version, Hash: svc.Hash,
		Manifest: p.Candidate.Fetched.Manifest, Signer: p.Candidate.Fetched.Signer,
		Installed: now().UTC().Truncate(time.Second),
	}
	if p.Unchanged && p.Current != nil {
		done.Installed = p.Current.Installed
	}
	rec.Set(done)
	if err := rec.Write(in.Installation.Dir); err != nil {
		return nil, err
	}
	return &done, nil
}

// storedVersion compiles the version stored under hash.
func storedVersion(ctx context.Context, st catalog.Versions, hash string) (*diff.Version, error) {
	if st == nil {
		return nil, errors.New("no version store")
	}
	vs, err := st.ServiceVersions(ctx)
	if err != nil {
		return nil, err
	}
	for _, v := range vs {
		if v.Hash != hash {
			continue
		}
		src, err := catalog.LoadStored(v)
		if err != nil {
			return nil, err
		}
		s, err := engine.Compile(src)
		if err != nil {
			return nil, err
		}
		return &diff.Version{Service: s, Value: src.Value}, nil
	}
	return nil, errors.New("not in the store (installed into another store?)")
}

// checkOffices reports routes to offices the tenant does not have.
func checkOffices(t *engine.TenantConfig, s *engine.Service) error {
	if t.Offices == nil {
		return nil
	}
	in := &engine.Installation{Tenants: []engine.TenantConfig{{ID: t.ID, Offices: t.Offices, Services: []string{"candidate"}}}}
	ps := in.Check(map[string]*engine.Service{"candidate": s})["candidate"]
	if len(ps) == 0 {
		return nil
	}
	var msgs []string
	for _, p := range ps {
		msgs = append(msgs, p.Message)
	}
	return errors.New(strings.Join(msgs, "\n"))
}
