package backoffice_test

// An in-memory fake of the catalogue (*registry.Catalogue): Musterstadt
// runs the state's Kita module v1.0.0 from a registry that holds
// v1.0.1 (texts only) and v1.1.0 (graded ERR); Kelkheim has nothing
// installed; the registry can be switched off.

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	bo "github.com/amtsform/amtsform/api/backoffice"
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/diff"
	"github.com/amtsform/amtsform/engine/registry"
)

const (
	kitaModule = "land.hessen.example/kita@v1"
	stateKey   = "ed25519:3f9a0c1d2e4b5a67"
)

type fakeCatalogue struct {
	mu       sync.Mutex
	now      func() time.Time
	registry string
	// noRegistry are tenants the fake shows as without a registry (the
	// demo server's empty state; a real installation has one or none).
	noRegistry map[string]bool
	modules    map[string][]bo.ModuleEntry  // tenant → modules
	services   map[string][]bo.ServiceEntry // tenant → services
	plans      map[string]*bo.InstallPlan   // module@version → plan
	applied    []string                     // "by module@version"
}

func newFakeCatalogue(now func() time.Time) *fakeCatalogue {
	installed := now().Add(-40 * 24 * time.Hour).Truncate(time.Second)
	cur := bo.Installed{Tenant: "musterstadt", Module: kitaModule, Version: "v1.0.0", Overlay: "musterstadt/kita",
		Service: "kita-uebernahme", ServiceVersion: "1.0.0", Hash: "sha256:1111aaaa2222bbbb3333cccc4444dddd",
		Manifest: "sha256:9999", Signer: stateKey, Installed: installed}
	f := &fakeCatalogue{now: now, registry: "land.hessen.example=registry.hessen.example/cue",
		modules: map[string][]bo.ModuleEntry{"musterstadt": {{Installed: cur, TrustedFor: []string{"land.hessen.example/*"}, Newer: []string{"v1.0.1", "v1.1.0"}}}},
		services: map[string][]bo.ServiceEntry{
			"musterstadt": {
				{ID: "kita-gebuehren", Version: "1.0.0", Hash: "sha256:5555eeee6666ffff", Title: engine.Text{De: "Kita-Gebühren", En: "Childcare fees"}},
				{ID: "kita-uebernahme", Version: "1.0.0", Hash: cur.Hash, Title: engine.Text{De: "Übernahme der Kita-Gebühren", En: "Childcare fee waiver"}, Module: kitaModule, ModuleVersion: "v1.0.0"},
			},
			"kelkheim": {{ID: "hundesteuer", Version: "1.0.0", Hash: "sha256:7777abab8888cdcd", Title: engine.Text{De: "Hundesteuer", En: "Dog tax"}}},
		},
		plans: map[string]*bo.InstallPlan{}}
	plan := func(v, sv, hash string, r *diff.Report) *bo.InstallPlan {
		return &bo.InstallPlan{Tenant: "musterstadt", Module: kitaModule, Version: v, Overlay: cur.Overlay,
			Service: "kita-uebernahme", ServiceVersion: sv, Hash: hash, Signer: stateKey, Current: &cur,
			Diff: r, NeedsConfirmation: r.Severity == diff.Err}
	}
	f.plans[kitaModule+"@v1.0.1"] = plan("v1.0.1", "1.0.1", "sha256:abab0101", &diff.Report{
		Severity: diff.Info,
		Changes:  []diff.Change{{Area: "texts", Path: "ui.income.help", What: "text changed", Drafts: diff.Info}},
		Drafts:   diff.Side{Severity: diff.None, Checked: 12}, Deliveries: diff.Side{Severity: diff.None, Checked: 12}})
	f.plans[kitaModule+"@v1.1.0"] = plan("v1.1.0", "1.1.0", "sha256:abab1100", &diff.Report{
		Severity: diff.Err,
		Changes: []diff.Change{
			{Area: "data", Path: "children[].monthlyFee", What: "maximum narrowed: 200000 → 180000", Drafts: diff.Err},
			{Area: "data", Path: "siblings", What: "added (optional)", Drafts: diff.None, Deliveries: diff.Warn},
			{Area: "texts", Path: "ui.income.label", What: "text changed", Drafts: diff.Info},
		},
		Drafts: diff.Side{Severity: diff.Err, Checked: 14, Broken: 1, Counterexamples: []diff.Counterexample{
			{Origin: "spec test \"two children\", monthlyFee at its maximum", Path: "children[0].monthlyFee", Code: "maximum", Severity: diff.Err}}},
		Deliveries: diff.Side{Severity: diff.Warn, Checked: 14}})
	return f
}

func (f *fakeCatalogue) registryOf(tenant string) string {
	if f.noRegistry[tenant] {
		return ""
	}
	return f.registry
}

func (f *fakeCatalogue) Overview(ctx context.Context, tenant string) (*bo.CatalogueOverview, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := &bo.CatalogueOverview{Tenant: tenant, Registry: f.registryOf(tenant),
		Modules: slices.Clone(f.modules[tenant]), Services: slices.Clone(f.services[tenant])}
	if o.Registry == "" {
		for i := range o.Modules {
			o.Modules[i].Newer = nil
		}
	}
	return o, nil
}

func (f *fakeCatalogue) Plan(ctx context.Context, tenant, module, version string) (*bo.InstallPlan, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.registryOf(tenant) == "" {
		return nil, fmt.Errorf("no registry configured")
	}
	p, ok := f.plans[module+"@"+version]
	if !ok || p.Tenant != tenant {
		return nil, fmt.Errorf("%w: the registry holds no signature for manifest sha256:0000", registry.ErrUnsigned)
	}
	cp := *p
	return &cp, nil
}

func (f *fakeCatalogue) Apply(ctx context.Context, tenant, by, module, version, hash string, confirmed bool) (*bo.Installed, error) {
	p, err := f.Plan(ctx, tenant, module, version)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if p.Hash != hash {
		return nil, bo.ErrChanged
	}
	if p.NeedsConfirmation && !confirmed {
		return nil, bo.ErrConfirm
	}
	ms := f.modules[tenant]
	for i := range ms {
		if ms[i].Module != module {
			continue
		}
		ms[i].Version, ms[i].ServiceVersion, ms[i].Hash, ms[i].Installed.Installed = version, p.ServiceVersion, p.Hash, f.now().UTC().Truncate(time.Second)
		ms[i].Newer = slices.DeleteFunc(slices.Clone(ms[i].Newer), func(v string) bool { return v <= version })
		for j := range f.services[tenant] {
			if s := &f.services[tenant][j]; s.Module == module {
				s.Version, s.Hash, s.ModuleVersion = p.ServiceVersion, p.Hash, version
			}
		}
		f.applied = append(f.applied, by+" "+module+"@"+version)
		in := ms[i].Installed
		return &in, nil
	}
	return nil, fmt.Errorf("%s does not run %s", tenant, module)
}
