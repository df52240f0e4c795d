package citizen

import (
	"context"
	"errors"
	netmail "net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/api/httpx"
	"github.com/amtsform/amtsform/api/render"
)

// The resume link by email: when a Mailer is configured, the "saved"
// page has a small form that sends the link of the draft to an address
// the citizen types in.
//
//	POST /{tenant}/{service}/d/{token}/saved   send the link, then back to the page
//
// The address is used for this one mail and neither stored nor logged;
// neither is the link. Mails sent are rate-limited per client and per
// draft, so that the form cannot be used to send mail to strangers in
// bulk; refused posts (a typo in the address) and failed sends do not
// count.

// Mailer sends one plain-text mail (mail.Mailer is the SMTP one).
// Errors may be logged when they implement LogReason() string (text
// free of addresses and content); other error texts are never logged.
type Mailer interface {
	Send(ctx context.Context, to, subject, textBody string) error
}

const emailField = "email"

// registerResumeMail registers the mail form's POST route; it must come
// before the generic page route, which would take "saved" for a page id.
func (s *server) registerResumeMail(app *fiber.App, h func(...fiber.Handler) []fiber.Handler) {
	if s.cfg.Mail == nil {
		return
	}
	perClient := httpx.Limit{
		Max: max(1, s.cfg.SubmitRate/4), // 5 with the default submit rate
		Per: 10 * time.Minute, SkipFailed: true,
		// behind a trusted proxy the client it forwards, not the proxy
		Key: func(c *fiber.Ctx) string { return "mail:" + httpx.ByClient(c) },
	}.Handler()
	perDraft := httpx.Limit{
		Max: 3, Per: time.Hour, SkipFailed: true,
		Key: func(c *fiber.Ctx) string { return "mail-draft:" + c.Params("token") },
	}.Handler()
	app.Post("/:tenant/:service/d/:token/saved", h(perClient, perDraft, s.czMailResume)...)
}

// publicBase is the base URL for links that leave the site.
func (s *server) publicBase(c *fiber.Ctx) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/")
	}
	return c.BaseURL()
}

// addMailForm adds the mail form to the saved page p; value and errMsg
// are what the citizen typed and what is wrong with it.
func (s *server) addMailForm(c *fiber.Ctx, p *pageData, value, errMsg string) {
	lang := p.Lang
	p.Action = c.Path()
	if from := c.Query("from"); from != "" {
		p.Action += "?from=" + url.QueryEscape(from)
	}
	p.CSRF = s.csrf.Token(c)
	f := &fieldView{
		Lang: lang, Kind: "email", ID: "f-email", Name: emailField,
		Label:        render.Tr(lang, "E-Mail-Adresse", "Email address"),
		Hint:         render.Tr(lang, "Wir senden den Link nur an diese Adresse und speichern sie nicht.", "We send the link to this address only and do not store it."),
		HintID:       "f-email-hint",
		Value:        value,
		Autocomplete: "email",
		Error:        errMsg,
	}
	f.Describedby = f.HintID
	if errMsg != "" {
		f.ErrorID = f.ID + "-error"
		f.Describedby += " " + f.ErrorID
		p.Errors = append(p.Errors, errorItem{Href: "#" + f.ID, Message: f.Label + ": " + errMsg})
		p.Title = render.Tr(lang, "Fehler: ", "Error: ") + p.Title
		p.Status = fiber.StatusUnprocessableEntity
	}
	p.Fields = []*fieldView{f}
	if c.Method() == fiber.MethodGet && c.Query("sent") == "1" {
		p.Message = render.Tr(lang,
			"Wir haben Ihnen den Link per E-Mail gesendet. Wenn die E-Mail nicht ankommt, sehen Sie bitte auch im Spam-Ordner nach.",
			"We have sent you the link by email. If it does not arrive, please also check your spam folder.")
	}
}

// czMailResume sends the resume link of the draft to the address posted.
func (s *server) czMailResume(c *fiber.Ctx) error {
	if ok, err := s.checkPlainPost(c); !ok {
		return err
	}
	tenant, d, svc, err := s.draft(c)
	if err != nil {
		return err
	}
	httpx.NoStore(c)
	lang := httpx.Lang(c)
	addr, problem := checkEmail(c.FormValue(emailField), lang)
	p := s.savedPage(c, tenant, d, svc)
	if problem != "" {
		s.addMailForm(c, p, addr, problem)
		return s.render(c, "saved.html", p)
	}
	subject, body := resumeMail(lang, p.ServiceTitle, p.ResumeURL, p.Expires)
	rid := c.GetRespHeader(fiber.HeaderXRequestID)
	if err := s.cfg.Mail.Send(c.UserContext(), addr, subject, body); err != nil {
		s.log.Warn("resume link mail failed", "service", svc.ID, "reason", mailReason(err), "request_id", rid)
		s.addMailForm(c, p, addr, "")
		p.Errors = []errorItem{{Href: "#f-email", Message: render.Tr(lang,
			"Die E-Mail konnte gerade nicht gesendet werden. Ihre Angaben bleiben gespeichert. Bitte versuchen Sie es später noch einmal oder notieren Sie sich den Link.",
			"The email could not be sent just now. Your answers are still saved. Please try again later or note down the link.")}}
		p.Title = render.Tr(lang, "Fehler: ", "Error: ") + p.Title
		p.Status = fiber.StatusServiceUnavailable
		return s.render(c, "saved.html", p)
	}
	s.log.Info("resume link mailed", "service", svc.ID, "request_id", rid)
	q := url.Values{"sent": {"1"}}
	if from := c.Query("from"); svc.Form.Page(from) != nil {
		q.Set("from", from)
	}
	return c.Redirect(draftURL(tenant, svc.ID, d.ID, "saved")+"?"+q.Encode(), fiber.StatusSeeOther)
}

// checkEmail returns the trimmed address and, if it is not a plain
// address (name@example.org: no display name, no IP literal, a dotted
// domain), the message to show.
func checkEmail(v, lang string) (string, string) {
	v = strings.TrimSpace(v)
	if v == "" {
		return v, render.Tr(lang, "Geben Sie Ihre E-Mail-Adresse ein.", "Enter your email address.")
	}
	bad := render.Tr(lang, "Geben Sie eine E-Mail-Adresse im richtigen Format ein, zum Beispiel name@beispiel.de.",
		"Enter an email address in the correct format, like name@example.com.")
	if len(v) > 254 || strings.ContainsAny(v, " \t\r\n<>,;\"()[]\\") {
		return v, bad
	}
	a, err := netmail.ParseAddress(v)
	if err != nil || a.Name != "" || a.Address != v {
		return v, bad
	}
	i := strings.LastIndexByte(v, '@')
	local, domain := v[:i], v[i+1:]
	if local == "" || len(local) > 64 || !strings.Contains(domain, ".") ||
		strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return v, bad
	}
	return v, ""
}

// resumeMail is the subject and text of the mail with the resume link.
func resumeMail(lang, service, link, expires string) (string, string) {
	if lang == "en" {
		return "Your application: " + service + " – link to continue",
			"Hello,\n\n" +
				"you have saved your application \"" + service + "\". You can continue it with this link until " + expires + ":\n\n" +
				link + "\n\n" +
				"Keep the link safe. Anyone who has the link can see and change your answers.\n\n" +
				"If you did not ask for this email, you can ignore it.\n\n" +
				"This email was sent automatically; please do not reply to it.\n"
	}
	return "Ihr Antrag: " + service + " – Link zum Fortsetzen",
		"Guten Tag,\n\n" +
			"Sie haben Ihren Antrag „" + service + "“ gespeichert. Mit diesem Link können Sie ihn bis zum " + expires + " fortsetzen:\n\n" +
			link + "\n\n" +
			"Bewahren Sie den Link sicher auf. Wer den Link kennt, kann Ihre Angaben sehen und ändern.\n\n" +
			"Wenn Sie diese E-Mail nicht angefordert haben, können Sie sie ignorieren.\n\n" +
			"Diese E-Mail wurde automatisch versendet. Bitte antworten Sie nicht darauf.\n"
}

// mailReason is what may be logged about a failed mail.
func mailReason(err error) string {
	var r interface{ LogReason() string }
	switch {
	case errors.As(err, &r):
		return r.LogReason()
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "unknown (not logged: the error may name the address)"
}
