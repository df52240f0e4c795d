package citizen

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/api/httpx"
	"github.com/amtsform/amtsform/api/receipt"
	"github.com/amtsform/amtsform/api/render"
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/casework"
	"github.com/amtsform/amtsform/engine/record"
)

func confirmationURL(tenant, svc, ref, secret string) string {
	return "/" + tenant + "/" + svc + "/r/" + ref + "?s=" + url.QueryEscape(secret)
}

// submission loads the submission of the URL after checking its secret.
func (s *server) submission(c *fiber.Ctx) (string, *record.Submission, *engine.Service, error) {
	tenant, err := s.tenants.Of(c)
	if err != nil {
		return "", nil, nil, err
	}
	ref := c.Params("ref")
	sub, svc, err := s.in.Submission(c.UserContext(), tenant, ref, c.Query("s"))
	if err != nil {
		return "", nil, nil, err
	}
	if svc.ID != c.Params("service") {
		// as for a draft of another service (draft): the same answer as
		// an unknown reference
		return "", nil, nil, fmt.Errorf("submission of another service: %w", record.ErrNotFound)
	}
	return tenant, sub, svc, nil
}

// czConfirmation shows the reference number and the receipt link.
func (s *server) czConfirmation(c *fiber.Ctx) error {
	tenant, sub, svc, err := s.submission(c)
	if err != nil {
		return err
	}
	httpx.NoStore(c)
	lang := httpx.Lang(c)
	p := s.base(c, tenant, render.Tr(lang, "Antrag eingegangen", "Application received"))
	p.ServiceTitle, p.ServiceURL = svc.Form.Title.In(lang), "/"+tenant+"/"+svc.ID+"/"
	name, lines := render.Office(s.in.Office(tenant, sub.Office), sub.Office, lang)
	p.Ref, p.Office = sub.Ref, strings.Join(append([]string{name}, lines...), ", ")
	t := sub.Created.In(s.in.Zone())
	p.Received = t.Format("02.01.2006, 15:04 Uhr")
	if lang == "en" {
		p.Received = t.Format("2 January 2006, 15:04")
	}
	p.ReceiptURL = "/" + tenant + "/" + svc.ID + "/r/" + sub.Ref + "/receipt.pdf?s=" + url.QueryEscape(c.Query("s"))
	s.handover(c, p, tenant, sub.Ref)
	if s.cfg.Documents != nil {
		if err := s.caseStatus(c, p, tenant, sub, svc); err != nil {
			return err
		}
	}
	return s.render(c, "confirmation.html", p)
}

// Handover tells whether a submission was handed to every destination
// of its service (*casework.Work).
type Handover interface {
	CitizenHandover(ctx context.Context, tenant, ref string) (casework.Handover, error)
}

// handover says on the status page what is true of the delivery: handed
// to the responsible office only when every destination took it, else
// underway, never "failed" (a job still retried, or waiting for an
// admin, is on its way). A failure to read the state says nothing.
func (s *server) handover(c *fiber.Ctx, p *pageData, tenant, ref string) {
	if s.cfg.Handover == nil {
		return
	}
	h, err := s.cfg.Handover.CitizenHandover(c.UserContext(), tenant, ref)
	if err != nil {
		s.log.Warn("status page: delivery state not read", "err", err)
		return
	}
	lang := httpx.Lang(c)
	switch h {
	case casework.HandoverDone:
		p.Handover = render.Tr(lang, "an die zuständige Stelle übermittelt", "handed to the responsible office")
	case casework.HandoverUnderway:
		p.Handover = render.Tr(lang, "wird an die zuständige Stelle übermittelt", "being handed to the responsible office")
	}
}

// statusRequest is an open document request on the status page.
type statusRequest struct {
	Documents []string // the requested fields' labels
	Message   string   // the office's message
	Deadline  string
}

// caseStatus adds what the back office made of the case to the status
// page: the public status (the title of the workflow state the case is
// in) and the document requests still open. The upload link itself is
// only in the mail: the store keeps the hash of its token, not the token.
func (s *server) caseStatus(c *fiber.Ctx, p *pageData, tenant string, sub *record.Submission, svc *engine.Service) error {
	lang := httpx.Lang(c)
	if wf := svc.Workflow; wf != nil {
		if st, ok := wf.States[sub.Status]; ok {
			p.CaseStatus = st.Title.In(lang)
		}
	}
	reqs, err := s.cfg.Documents.CitizenRequests(c.UserContext(), tenant, sub.Ref)
	if err != nil {
		return err
	}
	now := time.Now()
	if s.in.Now != nil {
		now = s.in.Now()
	}
	for _, r := range reqs {
		if !r.Fulfilled.IsZero() || !now.Before(r.Deadline) {
			continue
		}
		sr := statusRequest{Message: r.Message, Deadline: render.FormatDate(r.Deadline.In(s.in.Zone()).Format("2006-01-02"), lang)}
		for _, f := range r.Fields {
			label := f
			if ff, ok := svc.FormField(f); ok {
				label = ff.Label.In(lang)
			}
			sr.Documents = append(sr.Documents, label)
		}
		p.OpenRequests = append(p.OpenRequests, sr)
	}
	return nil
}

// czReceipt sends the PDF receipt.
func (s *server) czReceipt(c *fiber.Ctx) error {
	tenant, sub, svc, err := s.submission(c)
	if err != nil {
		return err
	}
	pdf, err := receipt.PDF(svc, sub, receipt.Details{Lang: httpx.Lang(c), Office: s.in.Office(tenant, sub.Office), Zone: s.in.Zone()})
	if err != nil {
		return err
	}
	httpx.NoStore(c)
	c.Set(fiber.HeaderContentType, "application/pdf")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+render.Tr(httpx.Lang(c), "Eingangsbestaetigung-", "Receipt-")+sub.Ref+`.pdf"`)
	return c.Send(pdf)
}
