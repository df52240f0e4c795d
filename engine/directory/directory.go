// Package directory answers who is who in an installation: its tenants
// (municipalities) and their offices, as the installation directory
// declares them (engine.LoadInstallation). Citizens see an office's name
// and address, never its id; the back office will add staff here.
package directory

import (
	"github.com/amtsform/amtsform/engine"
)

// Directory is immutable and safe for concurrent use.
type Directory struct {
	tenants map[string]*engine.TenantConfig
}

// New returns the directory of an installation.
func New(in *engine.Installation) *Directory {
	d := &Directory{tenants: map[string]*engine.TenantConfig{}}
	for i := range in.Tenants {
		t := in.Tenants[i]
		d.tenants[t.ID] = &t
	}
	return d
}

// Tenant returns a tenant's entry.
func (d *Directory) Tenant(id string) (*engine.TenantConfig, bool) {
	if d == nil {
		return nil, false
	}
	t, ok := d.tenants[id]
	return t, ok
}

// Office returns an office of a tenant.
func (d *Directory) Office(tenant, id string) (*engine.Office, bool) {
	t, ok := d.Tenant(tenant)
	if !ok {
		return nil, false
	}
	o, ok := t.Offices[id]
	return o, ok
}
