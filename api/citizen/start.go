package citizen

import (
	"sort"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/api/httpx"
	"github.com/amtsform/amtsform/api/render"
)

// czServices lists the services of a tenant.
func (s *server) czServices(c *fiber.Ctx) error {
	tenant, err := s.tenants.Of(c)
	if err != nil {
		return err
	}
	lang := httpx.Lang(c)
	p := s.base(c, tenant, render.Tr(lang, "Online-Anträge", "Online applications"))
	for _, svc := range s.in.Catalog.List(tenant) {
		l := serviceLink{Title: svc.Form.Title.In(lang), URL: "/" + tenant + "/" + svc.ID + "/"}
		if svc.Form.Description != nil {
			l.Description = svc.Form.Description.In(lang)
		}
		p.Services = append(p.Services, l)
	}
	sort.SliceStable(p.Services, func(i, j int) bool { return p.Services[i].Title < p.Services[j].Title })
	return s.render(c, "services.html", p)
}

// czStart shows what a service needs, how long it takes and how data is
// used, with a button that starts an application.
func (s *server) czStart(c *fiber.Ctx) error {
	tenant, err := s.tenants.Of(c)
	if err != nil {
		return err
	}
	svc, err := s.in.Catalog.Get(tenant, c.Params("service"))
	if err != nil {
		return err
	}
	lang := httpx.Lang(c)
	p := s.base(c, tenant, svc.Form.Title.In(lang))
	p.ServiceTitle, p.ServiceURL = p.Title, "/"+tenant+"/"+svc.ID+"/"
	if svc.Form.Description != nil {
		p.Description = svc.Form.Description.In(lang)
	}
	if st := svc.Form.Start; st != nil {
		for _, n := range st.Needs {
			p.Needs = append(p.Needs, n.In(lang))
		}
		if st.Duration != nil {
			p.Duration = st.Duration.In(lang)
		}
		if st.Privacy != nil {
			p.Privacy = st.Privacy.In(lang)
		}
	}
	p.Action = p.ServiceURL
	p.CSRF = s.csrf.Token(c)
	return s.render(c, "start.html", p)
}

// czCreate starts a draft and goes to its first page.
func (s *server) czCreate(c *fiber.Ctx) error {
	tenant, err := s.tenants.Of(c)
	if err != nil {
		return err
	}
	if ok, err := s.checkPlainPost(c); !ok {
		return err
	}
	d, svc, err := s.in.NewDraft(c.UserContext(), tenant, c.Params("service"))
	if err != nil {
		return err
	}
	return c.Redirect(draftURL(tenant, svc.ID, d.ID, svc.Form.Pages[0].ID), fiber.StatusSeeOther)
}
