package citizen

import (
	"github.com/amtsform/amtsform/engine"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/api/httpx"
	"github.com/amtsform/amtsform/api/render"
)

// pageData is what every citizen template gets.
type pageData struct {
	Lang string
	// TenantName is the municipality whose pages these are.
	TenantName string
	// TenantContact is how to reach it (the directory's contact); nil: not declared.
	TenantContact *engine.Contact
	Title         string // the document title
	Heading       string
	Home          string
	LangURL       string
	LangName      string
	LangCode      string
	Dev           bool
	CSRF          string
	Status        int
	RequestID     string

	ServiceTitle string
	ServiceURL   string

	// services list
	Services []serviceLink
	// start page
	Description string
	Needs       []string
	Duration    string
	Privacy     string
	Action      string
	// form page
	Step, Steps int
	Back        string
	Multipart   bool
	Hint        string
	Errors      []errorItem
	Fields      []*fieldView
	Return      string
	SaveURL     string
	// Shown lists the instance paths of the fields shown, posted back
	// with the page (shownField); Visibility is the URL the page script
	// asks which fields to show; Notice says that questions were added.
	Shown      string
	Visibility string
	Notice     string
	// review
	Sections []reviewSection
	// confirmation
	Ref        string
	Office     string
	Received   string
	ReceiptURL string
	// status page, with casework (Config.Documents): the workflow
	// state's title and the open document requests
	CaseStatus   string
	Handover     string // whether the submission reached the office's systems (confirmation.go)
	OpenRequests []statusRequest
	// saved
	ResumeURL string
	Expires   string
	// message pages and dev problems
	Message  string
	Link     string
	LinkText string
	Problems []string
}

type serviceLink struct {
	Title, Description, URL string
}

type reviewSection struct {
	Title string
	Rows  []reviewRow
}

type reviewRow struct {
	render.Row
	ChangeURL string
}

func (s *server) now() time.Time {
	return s.in.Today()
}

// base fills what every page has.
func (s *server) base(c *fiber.Ctx, tenant, title string) *pageData {
	lang := httpx.Lang(c)
	p := &pageData{Lang: lang, Title: title, Heading: title, Home: "/" + tenant + "/", Dev: s.cfg.Dev, Status: fiber.StatusOK}
	if t, ok := s.cfg.Directory.Tenant(tenant); ok {
		p.TenantName = t.Name.In(lang)
		if t.Contact != nil && (t.Contact.Email != "" || t.Contact.Phone != "" || t.Contact.Web != "") {
			p.TenantContact = t.Contact
		}
	}
	other, name := "en", "English"
	if lang == "en" {
		other, name = "de", "Deutsch"
	}
	q := url.Values{}
	c.Request().URI().QueryArgs().VisitAll(func(k, v []byte) { q.Add(string(k), string(v)) })
	q.Set("lang", other)
	p.LangURL, p.LangName, p.LangCode = c.Path()+"?"+q.Encode(), name, other
	return p
}

func (s *server) render(c *fiber.Ctx, name string, p *pageData) error {
	return httpx.Render(c, s.tmpl, name, p.Status, p)
}

// message renders a short page with a status, a title and a sentence;
// used for refused posts, where a specific explanation helps.
func (s *server) message(c *fiber.Ctx, status int, title, msg, link, linkText string) error {
	tenant := c.Params("tenant")
	p := s.base(c, tenant, title)
	p.Status, p.Message, p.Link, p.LinkText = status, msg, link, linkText
	p.RequestID = c.GetRespHeader(fiber.HeaderXRequestID)
	return s.render(c, "message.html", p)
}

func draftURL(tenant, svc, token, page string) string {
	return "/" + tenant + "/" + svc + "/d/" + token + "/" + page
}

// checkFormPost refuses bodies that are not HTML form posts.
func (s *server) checkFormPost(c *fiber.Ctx) error {
	ct := strings.ToLower(c.Get(fiber.HeaderContentType))
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = strings.TrimSpace(ct[:i])
	}
	switch ct {
	case fiber.MIMEApplicationForm, fiber.MIMEMultipartForm:
		return nil
	}
	return fiber.NewError(fiber.StatusUnsupportedMediaType, "not a form post")
}

// refused renders a 4xx for a refused post; nothing was changed.
func (s *server) refused(c *fiber.Ctx, err error) error {
	status, _ := httpx.StatusOf(err)
	lang := httpx.Lang(c)
	msg := render.Tr(lang, "Bitte gehen Sie zurück und versuchen Sie es erneut. Es wurde nichts gespeichert.", "Please go back and try again. Nothing was saved.")
	switch status {
	case fiber.StatusUnsupportedMediaType:
		msg = render.Tr(lang, "Diese Adresse nimmt nur Formulare an. Es wurde nichts gespeichert.", "This address accepts only form posts. Nothing was saved.")
	case fiber.StatusForbidden:
		msg = render.Tr(lang,
			"Das Formular ist abgelaufen oder wurde nicht von dieser Seite gesendet. Bitte laden Sie die Seite neu und senden Sie sie noch einmal. Cookies müssen erlaubt sein. Es wurde nichts gespeichert.",
			"The form has expired or was not sent from this site. Please reload the page and send it again. Cookies must be enabled. Nothing was saved.")
	}
	return s.message(c, status, httpx.TitleOf(status, lang), msg, "", "")
}

// checkPlainPost checks a form post without fields of the service's own
// (start, submit, mail the link): the content type and the CSRF token.
// When it refuses the post (ok == false), the refusal page has been
// rendered and the caller returns err as it is.
func (s *server) checkPlainPost(c *fiber.Ctx) (ok bool, err error) {
	if err := s.checkFormPost(c); err != nil {
		return false, s.refused(c, err)
	}
	if err := s.csrf.Check(c, c.FormValue(csrfField)); err != nil {
		return false, s.refused(c, err)
	}
	return true, nil
}
