package citizen

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/api/httpx"
	"github.com/amtsform/amtsform/api/render"
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/intake"
	"github.com/amtsform/amtsform/engine/record"
)

// czSaved shows the resume link after "save and continue later", and,
// when a mailer is configured, a form to have it sent by email
// (mail.go).
func (s *server) czSaved(c *fiber.Ctx) error {
	tenant, d, svc, err := s.draft(c)
	if err != nil {
		return err
	}
	httpx.NoStore(c)
	p := s.savedPage(c, tenant, d, svc)
	if s.cfg.Mail != nil {
		s.addMailForm(c, p, "", "")
	}
	return s.render(c, "saved.html", p)
}

// savedPage is the saved page without the mail form.
func (s *server) savedPage(c *fiber.Ctx, tenant string, d *record.Draft, svc *engine.Service) *pageData {
	lang := httpx.Lang(c)
	p := s.base(c, tenant, render.Tr(lang, "Ihre Angaben sind gespeichert", "Your answers are saved"))
	p.ServiceTitle, p.ServiceURL = svc.Form.Title.In(lang), "/"+tenant+"/"+svc.ID+"/"
	p.ResumeURL = s.publicBase(c) + "/" + tenant + "/" + svc.ID + "/d/" + d.ID
	p.Expires = render.FormatDate(d.Expires.In(s.in.Zone()).Format("2006-01-02"), lang)
	back := d.Page
	if from := c.Query("from"); svc.Form.Page(from) != nil {
		back = from
	}
	p.Back = draftURL(tenant, svc.ID, d.ID, back)
	return p
}

// czReview shows all answers with change links and the submit button.
func (s *server) czReview(c *fiber.Ctx) error {
	tenant, d, svc, err := s.draft(c)
	if err != nil {
		return err
	}
	httpx.NoStore(c)
	lang := httpx.Lang(c)
	res := svc.Evaluate(d.Data, engine.Options{Today: s.now()})
	if first := res.FirstIncompletePage(svc); first != "" {
		return c.Redirect(draftURL(tenant, svc.ID, d.ID, first), fiber.StatusSeeOther)
	}
	p := s.base(c, tenant, render.Tr(lang, "Angaben prüfen", "Check your answers"))
	p.ServiceTitle, p.ServiceURL = svc.Form.Title.In(lang), "/"+tenant+"/"+svc.ID+"/"
	files := s.in.DraftFileNames(c.UserContext(), d, svc, res.Data)
	for _, sec := range render.Answers(svc, res.Data, res.Computed, files, lang) {
		rs := reviewSection{Title: sec.Title}
		for _, r := range render.DropRepeatedHeading(sec.Title, sec.Rows) {
			row := reviewRow{Row: r}
			if !r.Heading && !r.Computed {
				row.ChangeURL = draftURL(tenant, svc.ID, d.ID, sec.PageID) + "?return=review#" + r.Anchor
			}
			rs.Rows = append(rs.Rows, row)
		}
		p.Sections = append(p.Sections, rs)
	}
	if len(res.Pages) > 0 {
		p.Back = draftURL(tenant, svc.ID, d.ID, res.Pages[len(res.Pages)-1])
	}
	p.Action = draftURL(tenant, svc.ID, d.ID, "review")
	p.SaveURL = draftURL(tenant, svc.ID, d.ID, "saved")
	p.CSRF = s.csrf.Token(c)
	return s.render(c, "review.html", p)
}

// czSubmit hands the draft in and goes to the confirmation.
func (s *server) czSubmit(c *fiber.Ctx) error {
	if ok, err := s.checkPlainPost(c); !ok {
		return err
	}
	tenant, d, svc, err := s.draft(c)
	if err != nil {
		return err
	}
	httpx.NoStore(c)
	sub, _, err := s.in.SubmitDraft(c.UserContext(), tenant, d.ID)
	if errors.Is(err, intake.ErrInvalid) {
		res := svc.Evaluate(d.Data, engine.Options{Today: s.now()})
		to := res.FirstIncompletePage(svc)
		if to == "" {
			to = svc.Form.Pages[0].ID
		}
		return c.Redirect(draftURL(tenant, svc.ID, d.ID, to), fiber.StatusSeeOther)
	}
	if err != nil {
		return err
	}
	return c.Redirect(confirmationURL(tenant, svc.ID, sub.Ref, s.in.StatusSecret(tenant, sub.Ref)), fiber.StatusSeeOther)
}
