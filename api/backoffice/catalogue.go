package backoffice

import (
	"errors"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/api/httpx"
)

const catalogueURL = "/backoffice/catalogue"

type catalogueView struct {
	// Registry is the configured registry; "" when none is.
	Registry   string
	NewerError string
	// Admin: the forms to review and install newer versions.
	Admin    bool
	Modules  []catalogueModule
	Services []catalogueService
}

type catalogueModule struct {
	Module, Version, Overlay string
	Service, Hash, HashShort string
	Signer, TrustedFor       string
	Installed                string
	Newer                    []string
}

type catalogueService struct {
	ID, Title, Version, Hash, HashShort, Source string
}

type planView struct {
	Module, Version, Overlay      string
	Current                       string
	Service, ServiceVersion, Hash string
	HashShort, Signer             string
	First, Unchanged              bool
	NeedsConfirmation, Confirmed  bool
	Severity                      string
	SeverityErr                   bool
	Changes                       []planChange
	Drafts, Deliveries            planSide
	// Refused is why the version cannot be installed ("" when it can);
	// Detail the engine's message.
	Refused, Detail string
}

type planChange struct {
	Area, Path, What, Drafts, Deliveries string
	Err, Heuristic                       bool
}

type planSide struct {
	Severity        string
	Checked, Broken int
	Examples        []string
}

// catalogueAccess: admins and auditors read the catalogue; only admins
// install.
func (s *server) catalogueAccess(c *fiber.Ctx, install bool) error {
	if s.d.Catalogue == nil {
		return fiber.ErrNotFound
	}
	p := principal(c)
	if hasRole(p, "admin") || (!install && hasRole(p, "auditor")) {
		return nil
	}
	return ErrForbidden
}

func short(hash string) string {
	h := strings.TrimPrefix(hash, "sha256:")
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// cataloguePage lists what the signed-in user's tenant runs: its module
// versions with their signers, its services, and newer versions.
func (s *server) cataloguePage(c *fiber.Ctx) error {
	if err := s.catalogueAccess(c, false); err != nil {
		return err
	}
	l := lang(c)
	pr := principal(c)
	o, err := s.d.Catalogue.Overview(c.UserContext(), pr.User.Tenant)
	if err != nil {
		return err
	}
	p := s.base(c, tr(l, "Katalog", "Catalogue"))
	v := &catalogueView{Registry: o.Registry, NewerError: o.NewerError, Admin: hasRole(pr, "admin")}
	p.Catalogue = v
	done := c.Query("installed")
	for _, m := range o.Modules {
		row := catalogueModule{Module: m.Module, Version: m.Version, Overlay: m.Overlay, Service: m.Service + " " + m.ServiceVersion,
			Hash: m.Hash, HashShort: short(m.Hash), Signer: m.Signer, TrustedFor: strings.Join(m.TrustedFor, ", "),
			Installed: s.dateTime(m.Installed.Installed, l), Newer: m.Newer}
		v.Modules = append(v.Modules, row)
		if done != "" && done == m.Module+"@"+m.Version {
			p.Notice = tr(l, m.Module+" "+m.Version+" ist installiert. Neue Anträge beginnen mit dieser Version; angefangene Anträge behalten ihre.",
				m.Module+" "+m.Version+" is installed. New applications start on this version; applications already started keep theirs.")
		}
	}
	for _, sv := range o.Services {
		row := catalogueService{ID: sv.ID, Title: sv.Title.In(l), Version: sv.Version, Hash: sv.Hash, HashShort: short(sv.Hash),
			Source: tr(l, "Installationsverzeichnis", "installation directory")}
		if sv.Module != "" {
			row.Source = sv.Module + " " + sv.ModuleVersion
		}
		v.Services = append(v.Services, row)
	}
	return s.render(c, "catalogue.html", p)
}

// cataloguePlan shows what installing a version would change, before
// anything is installed.
func (s *server) cataloguePlan(c *fiber.Ctx) error {
	if err := s.catalogueAccess(c, true); err != nil {
		return err
	}
	mod, ver := strings.Clone(c.FormValue("module")), strings.Clone(c.FormValue("version"))
	if mod == "" || ver == "" {
		return fiber.NewError(fiber.StatusUnprocessableEntity, "module and version are required")
	}
	return s.renderPlan(c, mod, ver, nil)
}

// catalogueInstall installs a reviewed version: confirmed where its
// changes are graded ERR, and only the content whose changes were shown.
func (s *server) catalogueInstall(c *fiber.Ctx) error {
	if err := s.catalogueAccess(c, true); err != nil {
		return err
	}
	l := lang(c)
	pr := principal(c)
	mod, ver, hash := strings.Clone(c.FormValue("module")), strings.Clone(c.FormValue("version")), strings.Clone(c.FormValue("hash"))
	if mod == "" || ver == "" || hash == "" {
		return fiber.NewError(fiber.StatusUnprocessableEntity, "module, version and hash are required")
	}
	confirmed := c.FormValue("confirm") == "1"
	_, err := s.d.Catalogue.Apply(c.UserContext(), pr.User.Tenant, pr.User.ID, mod, ver, hash, confirmed)
	switch {
	case err == nil:
		return c.Redirect(catalogueURL+"?installed="+url.QueryEscape(mod+"@"+ver), fiber.StatusSeeOther)
	case errors.Is(err, ErrConfirm):
		return s.renderPlan(c, mod, ver, func(p *pageData) {
			msg := tr(l, "Bestätigen Sie, dass Sie die als ERR bewerteten Änderungen geprüft haben.", "Confirm that you have reviewed the changes graded ERR.")
			p.Status = fiber.StatusUnprocessableEntity
			p.Errors = []errorItem{{Field: "confirm", Href: "#confirm", Message: msg}}
			p.FieldErrors = map[string]string{"confirm": msg}
		})
	case errors.Is(err, ErrChanged):
		return s.renderPlan(c, mod, ver, func(p *pageData) {
			p.Status = fiber.StatusConflict
			p.Notice = tr(l, "Die Version hat inzwischen einen anderen Inhalt. Es wurde nichts installiert. Bitte prüfen Sie die Änderungen erneut.",
				"The version's content has changed in the meantime. Nothing was installed. Please review the changes again.")
		})
	}
	return s.planRefused(c, mod, ver, err)
}

// renderPlan renders the plan page for module@version; adjust changes
// the page (error state) before rendering.
func (s *server) renderPlan(c *fiber.Ctx, mod, ver string, adjust func(*pageData)) error {
	l := lang(c)
	ip, err := s.d.Catalogue.Plan(c.UserContext(), principal(c).User.Tenant, mod, ver)
	if err != nil {
		return s.planRefused(c, mod, ver, err)
	}
	p := s.base(c, tr(l, "Änderungen prüfen: ", "Review the changes: ")+mod+" "+ver)
	v := &planView{Module: mod, Version: ver, Overlay: ip.Overlay, Service: ip.Service, ServiceVersion: ip.ServiceVersion,
		Hash: ip.Hash, HashShort: short(ip.Hash), Signer: ip.Signer, First: ip.Current == nil, Unchanged: ip.Unchanged,
		NeedsConfirmation: ip.NeedsConfirmation, Confirmed: c.FormValue("confirm") == "1"}
	if ip.Current != nil {
		v.Current = ip.Current.Version
	}
	if d := ip.Diff; d != nil {
		v.Severity, v.SeverityErr = d.Severity.String(), d.Severity == diffErr
		for _, ch := range d.Changes {
			v.Changes = append(v.Changes, planChange{Area: ch.Area, Path: ch.Path, What: ch.What, Heuristic: ch.Heuristic,
				Drafts: grade(ch.Drafts.String()), Deliveries: grade(ch.Deliveries.String()), Err: ch.Severity() == diffErr})
		}
		v.Drafts, v.Deliveries = side(d.Drafts), side(d.Deliveries)
	}
	p.Plan = v
	if adjust != nil {
		adjust(p)
	}
	return s.render(c, "catalogue-plan.html", p)
}

func grade(s string) string {
	if s == "OK" {
		return "—"
	}
	return s
}

func side(sd DiffSide) planSide {
	out := planSide{Severity: sd.Severity.String(), Checked: sd.Checked, Broken: sd.Broken}
	for _, ce := range sd.Counterexamples {
		ex := ce.Path + ": " + ce.Code
		if ce.Message != "" {
			ex += " (" + ce.Message + ")"
		}
		if ce.Origin != "" {
			ex += " — " + ce.Origin
		}
		out.Examples = append(out.Examples, ex)
	}
	return out
}

// planRefused renders why a version cannot be installed (not signed,
// untrusted, tampered, tests failing, a route to an unknown office …):
// 422, with the engine's message for the admin.
func (s *server) planRefused(c *fiber.Ctx, mod, ver string, err error) error {
	l := lang(c)
	p := s.base(c, tr(l, "Nicht installierbar: ", "Cannot be installed: ")+mod+" "+ver)
	p.Status = fiber.StatusUnprocessableEntity
	v := &planView{Module: mod, Version: ver, Refused: refusal(err), Detail: err.Error()}
	if v.Refused == "" {
		v.Refused = tr(l, "Die Version lässt sich nicht installieren.", "The version cannot be installed.")
	}
	p.Plan = v
	s.log.Warn("catalogue: version refused", "module", mod, "version", ver, "kind", httpx.ErrorKind(err))
	return s.render(c, "catalogue-plan.html", p)
}
