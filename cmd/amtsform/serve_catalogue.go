package main

import (
	"context"
	"log/slog"

	"github.com/amtsform/amtsform/api/backoffice"
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/audit"
	"github.com/amtsform/amtsform/engine/catalog"
	"github.com/amtsform/amtsform/engine/record"
	"github.com/amtsform/amtsform/engine/registry"
)

// serveCatalogue is the back office's catalogue for an installation
// directory: its record, its registry (modules.registry; without one
// the page lists what is installed and says that no registry is
// configured) and its trust, installing through the server's own
// catalogue and store; every install is in the audit trail. nil for
// serve --specs, which has no installation directory.
func serveCatalogue(inst *engine.Installation, cat *catalog.Catalog, versions catalog.Versions, auditLog *audit.Log, log *slog.Logger) backoffice.Catalogue {
	if inst.Dir == "" {
		return nil
	}
	set, err := registry.ReadSettings(inst.Dir)
	if err != nil {
		log.Error("catalogue: the installation's module settings", "err", err)
		return nil
	}
	c := &registry.Catalogue{Installation: inst, Settings: set, Catalog: cat,
		OnInstall: func(ctx context.Context, by string, m registry.Installed) {
			if err := auditLog.Record(ctx, record.AuditEntry{Tenant: m.Tenant, Actor: by, Action: "module.installed",
				Object: m.Module + "@" + m.Version, Detail: map[string]string{"service": m.Service + " " + m.ServiceVersion, "hash": m.Hash, "signer": m.Signer}}); err != nil {
				log.Error("audit", "action", "module.installed", "err", err)
			}
		}}
	if set.Registry != "" {
		reg, err := registry.Open(registry.Config{CUERegistry: set.Registry, CacheDir: moduleCache()})
		if err != nil {
			log.Error("catalogue: registry", "err", err)
		} else {
			c.Installer = &registry.Installer{Registry: reg, Installation: inst, Settings: set, Catalog: cat, Versions: versions}
		}
	}
	return c
}
