package registry

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"cuelang.org/go/mod/module"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/catalog"
	"github.com/amtsform/amtsform/engine/diff"
)

// ErrChanged reports a confirmation for a version whose content is not
// the one the diff was shown for.
var ErrChanged = errors.New("the version differs from the one whose changes were shown; review the changes again")

// Catalogue is the catalogue of one installation as the back office
// shows it to a tenant's admins: the modules the tenant installed, who
// signed them, the services it offers, the newer versions the registry
// holds, and installing one of them through the Installer (the same
// steps as amtsform install: fetch, verify, compile, test, diff, offer,
// record).
type Catalogue struct {
	Installation *engine.Installation
	// Settings are the installation's registry and trust; nil: none.
	Settings *Settings
	// Installer installs; nil when no registry is configured. Its
	// Catalog must be the server's own, so that the tenant is offered
	// the new version at once.
	Installer *Installer
	// Catalog lists the tenants' current services.
	Catalog *catalog.Catalog
	// OnInstall is told of every version installed, with the staff
	// member who installed it (for the audit trail); nil: nobody.
	OnInstall func(ctx context.Context, by string, in Installed)

	mu sync.Mutex // one install at a time: the record is one file

	// plans keeps recent plans, so that the install after a review does
	// not fetch, compile, test and diff again; a plan is reused only
	// while the tenant runs what it was made against.
	plansMu sync.Mutex
	plans   map[string]cachedPlan
}

type cachedPlan struct {
	plan    *Plan
	current string // the hash the tenant ran when it was made ("" none)
}

// maxPlans bounds the plans kept.
const maxPlans = 16

// Overview is what the catalogue page lists for one tenant.
type Overview struct {
	Tenant string
	// Registry is the configured registry ("" when none is).
	Registry string
	// Modules are the module versions the tenant runs.
	Modules []ModuleEntry
	// Services are the tenant's current services.
	Services []ServiceEntry
	// NewerError says why newer versions could not be listed ("" when
	// they could, or when there is no registry).
	NewerError string
}

// ModuleEntry is one module version a tenant runs.
type ModuleEntry struct {
	Installed
	// TrustedFor are the trust patterns under which the signer's key is
	// trusted today (empty: no longer trusted).
	TrustedFor []string
	// Newer are the versions the registry holds that are newer, oldest
	// first.
	Newer []string
}

// ServiceEntry is one current service of a tenant.
type ServiceEntry struct {
	ID, Version, Hash string
	Title             engine.Text
	// Module and ModuleVersion name the module the service was
	// installed from; "" for a service of the installation directory.
	Module, ModuleVersion string
}

// InstallPlan is what installing a version would do, for people.
type InstallPlan struct {
	Tenant, Module, Version, Overlay string
	// Service, ServiceVersion and Hash identify the compiled candidate.
	Service, ServiceVersion, Hash string
	// Signer is the key id that signed the version.
	Signer string
	// Current is what the tenant runs of the module now (nil: a first
	// install).
	Current *Installed
	// Unchanged: the tenant runs exactly this content already.
	Unchanged bool
	// Diff compares the version the tenant runs with the candidate; nil
	// on a first install.
	Diff *diff.Report
	// NeedsConfirmation: something is graded ERR.
	NeedsConfirmation bool
}

// Overview lists tenant's part of the catalogue. Without a registry the
// overview has no newer versions; a registry that does not answer is
// named in NewerError, and the rest is listed.
func (c *Catalogue) Overview(ctx context.Context, tenant string) (*Overview, error) {
	if c.Installation.Tenant(tenant) == nil {
		return nil, fmt.Errorf("tenant %q is not in the installation", tenant)
	}
	rec, err := ReadRecord(c.Installation.Dir)
	if err != nil {
		return nil, err
	}
	o := &Overview{Tenant: tenant}
	if c.Settings != nil && c.Installer != nil {
		o.Registry = c.Settings.Registry
	}
	mine := &Record{}
	byHash := map[string]Installed{}
	for _, m := range rec.Modules {
		if m.Tenant == tenant {
			mine.Modules = append(mine.Modules, m)
			byHash[m.Hash] = m
		}
	}
	var newer map[string][]string
	if c.Installer != nil && c.Installer.Registry != nil && len(mine.Modules) > 0 {
		newer, err = mine.Newer(ctx, c.Installer.Registry)
		if err != nil {
			o.NewerError = err.Error()
		}
	}
	for _, m := range mine.Modules {
		e := ModuleEntry{Installed: m, Newer: newer[m.Module]}
		if c.Settings != nil {
			e.TrustedFor = c.Settings.trustedFor(m.Module, m.Signer)
		}
		o.Modules = append(o.Modules, e)
	}
	if c.Catalog != nil {
		for _, s := range c.Catalog.List(tenant) {
			e := ServiceEntry{ID: s.ID, Version: s.Version, Hash: s.Hash}
			if s.Form != nil {
				e.Title = s.Form.Title
			}
			if m, ok := byHash[s.Hash]; ok {
				e.Module, e.ModuleVersion = m.Module, m.Version
			}
			o.Services = append(o.Services, e)
		}
	}
	return o, nil
}

// trustedFor returns the trust patterns under which key id signer is
// trusted for the module path (with or without major version).
func (s *Settings) trustedFor(mod, signer string) []string {
	base := mod
	if p, _, ok := module.SplitPathVersion(mod); ok {
		base = p
	}
	var out []string
	for pat, keys := range s.Trust {
		if (Trust{pat: keys}).Keys(base) == nil {
			continue
		}
		for _, k := range keys {
			if k.ID() == signer {
				out = append(out, pat)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

// plan prepares installing mod@version for tenant with the overlay the
// tenant runs the module with.
func (c *Catalogue) plan(ctx context.Context, tenant, mod, version string) (*Plan, error) {
	if c.Installer == nil {
		return nil, errors.New("no registry configured")
	}
	mv, err := module.NewVersion(mod, version)
	if err != nil {
		return nil, err
	}
	rec, err := ReadRecord(c.Installation.Dir)
	if err != nil {
		return nil, err
	}
	overlay, current := "", ""
	for _, m := range rec.Modules {
		if m.Tenant == tenant && m.Module == mod {
			overlay, current = m.Overlay, m.Hash
			break
		}
	}
	key := tenant + "\x00" + mod + "@" + version
	c.plansMu.Lock()
	cp, ok := c.plans[key]
	c.plansMu.Unlock()
	if ok && cp.current == current {
		return cp.plan, nil
	}
	p, err := c.Installer.Plan(ctx, tenant, mv, overlay)
	if err != nil {
		return nil, err
	}
	c.plansMu.Lock()
	if c.plans == nil || len(c.plans) >= maxPlans {
		c.plans = map[string]cachedPlan{}
	}
	c.plans[key] = cachedPlan{plan: p, current: current}
	c.plansMu.Unlock()
	return p, nil
}

// Plan fetches, verifies, compiles and tests mod@version for tenant and
// compares it with what the tenant runs, without installing anything.
func (c *Catalogue) Plan(ctx context.Context, tenant, mod, version string) (*InstallPlan, error) {
	p, err := c.plan(ctx, tenant, mod, version)
	if err != nil {
		return nil, err
	}
	s := p.Candidate.Service
	return &InstallPlan{Tenant: tenant, Module: mod, Version: version, Overlay: p.Overlay,
		Service: s.ID, ServiceVersion: s.Version, Hash: s.Hash, Signer: p.Candidate.Fetched.Signer,
		Current: p.Current, Unchanged: p.Unchanged, Diff: p.Diff, NeedsConfirmation: p.NeedsConfirmation()}, nil
}

// Apply installs mod@version for tenant, by staff member by, when its
// content still has the hash the plan was shown for. A version with
// changes graded ERR is installed only when confirmed (else ErrConfirm).
func (c *Catalogue) Apply(ctx context.Context, tenant, by, mod, version, hash string, confirmed bool) (*Installed, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, err := c.plan(ctx, tenant, mod, version)
	if err != nil {
		return nil, err
	}
	if p.Candidate.Service.Hash != hash {
		return nil, ErrChanged
	}
	done, err := c.Installer.Apply(ctx, p, confirmed)
	if err != nil {
		return nil, err
	}
	if c.OnInstall != nil {
		c.OnInstall(ctx, by, *done)
	}
	return done, nil
}
