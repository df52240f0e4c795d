// Package citizen serves the citizen forms: pages server-rendered from
// the compiled form model, working without JavaScript, under
// /{tenant}/…, with the resume link by email (mail.go) and, in dev mode,
// the designer preview (dev.go).
//
//	GET  /{tenant}/                              services
//	GET  /{tenant}/{service}/                    start page
//	POST /{tenant}/{service}/                    start: create a draft
//	GET  /{tenant}/{service}/d/{token}           resume link → current page
//	GET  /{tenant}/{service}/d/{token}/{page}    a form page
//	POST /{tenant}/{service}/d/{token}/{page}    save the page
//	POST /{tenant}/{service}/d/{token}/{page}/visibility
//	                                             which fields to show (visibility.go)
//	GET  /{tenant}/{service}/d/{token}/saved     "save and continue later"
//	POST /{tenant}/{service}/d/{token}/saved     send the resume link by email
//	GET  /{tenant}/{service}/d/{token}/review    check your answers
//	POST /{tenant}/{service}/d/{token}/review    submit
//	GET  /{tenant}/{service}/r/{ref}?s=          confirmation
//	GET  /{tenant}/{service}/r/{ref}/receipt.pdf?s=
//
// The page ids "review" and "saved" are therefore reserved.
//
// Files: citizen.go registers the routes; page.go has what every page
// shares (page data, rendering, refused posts); start.go the service list
// and start page; form.go shows a form page; save.go saves one (with
// decode.go turning form posts into values and view.go turning fields
// into template data, visibility.go same-page conditions); review.go "save and continue later", "check your
// answers" and submit; confirmation.go the confirmation and the receipt.
package citizen

import (
	"html/template"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/api/httpx"
	"github.com/amtsform/amtsform/engine/directory"
	"github.com/amtsform/amtsform/engine/intake"
)

// Config configures the citizen pages.
type Config struct {
	Intake *intake.Intake
	// Tenants are the tenants served; the first is the default that "/"
	// leads to.
	Tenants httpx.Tenants
	// Templates are the parsed ui templates.
	Templates *template.Template
	// Logger receives what the pages log (never citizen data).
	Logger *slog.Logger
	// Cookies sets the cookies (language, CSRF).
	Cookies httpx.Cookies
	// SubmitRate is the number of submits allowed per client and minute.
	SubmitRate int
	// DraftLimit guards starting a draft, SaveLimit page saves (rate
	// limits per client, shared with the JSON API); nil: none.
	DraftLimit, SaveLimit fiber.Handler
	// Dev enables the designer preview; DevState reports the current
	// compile problems (nil if none) and a channel closed on the next
	// change.
	Dev      bool
	DevState func() (problems error, changed <-chan struct{})
	// Mail, when set, lets citizens have the resume link of a saved
	// draft sent to them by email (mail.go); nil: no mail.
	Mail Mailer
	// PublicURL is the site's external base URL for links in mails;
	// empty: taken from the request.
	PublicURL string
	// Directory names the tenant in the page header; nil: none.
	Directory *directory.Directory
	// Documents serves the document request page (documents.go),
	// usually the *casework.Work; nil: no such page.
	Documents DocumentRequests
	// Handover says on the status page whether the submission was
	// handed to the office's systems (confirmation.go), usually the
	// *casework.Work; nil: nothing is said.
	Handover Handover
}

// server holds what the handlers share.
type server struct {
	cfg  Config
	in   *intake.Intake
	log  *slog.Logger
	tmpl *template.Template

	tenants httpx.Tenants
	cookies httpx.Cookies
	csrf    httpx.CSRF
}

// Register registers the citizen pages on app: "/" (to the first
// tenant), the dev wait endpoint in dev mode, and everything under
// /{tenant}/. It must come after routes with fixed first segments (such
// as /api), which the tenant routes would otherwise take.
func Register(app *fiber.App, cfg Config) {
	s := &server{cfg: cfg, in: cfg.Intake, log: cfg.Logger, tmpl: cfg.Templates,
		tenants: cfg.Tenants, cookies: cfg.Cookies,
		csrf: httpx.CSRF{Secret: cfg.Intake.Secret, Cookies: cfg.Cookies, Origin: httpx.OriginOf(cfg.PublicURL)}}
	app.Get("/", func(c *fiber.Ctx) error {
		return c.Redirect("/"+s.cfg.Tenants[0]+"/", fiber.StatusFound)
	})
	if s.cfg.Dev {
		app.Get("/_dev/wait", s.devWait)
	}
	submitLimit := httpx.Limit{Max: s.cfg.SubmitRate, Per: time.Minute}.Handler()
	startLimit, saveLimit := httpx.Optional(cfg.DraftLimit), httpx.Optional(cfg.SaveLimit)
	pre := []fiber.Handler{httpx.RememberLang(s.cookies), s.devProblems}
	h := func(hs ...fiber.Handler) []fiber.Handler { return append(append([]fiber.Handler{}, pre...), hs...) }
	app.Get("/:tenant", h(s.czServices)...)
	app.Get("/:tenant/:service", h(s.czStart)...)
	app.Post("/:tenant/:service", h(startLimit, s.czCreate)...)
	app.Get("/:tenant/:service/d/:token", h(s.czResume)...)
	app.Get("/:tenant/:service/d/:token/review", h(s.czReview)...)
	app.Post("/:tenant/:service/d/:token/review", h(submitLimit, s.czSubmit)...)
	app.Get("/:tenant/:service/d/:token/saved", h(s.czSaved)...)
	s.registerResumeMail(app, h) // POST …/saved, when a mailer is configured
	app.Get("/:tenant/:service/d/:token/:page", h(s.czPage)...)
	app.Post("/:tenant/:service/d/:token/:page", h(saveLimit, s.czSavePage)...)
	app.Post("/:tenant/:service/d/:token/:page/visibility", h(saveLimit, s.czVisibility)...)
	app.Get("/:tenant/:service/r/:ref", h(s.czConfirmation)...)
	app.Get("/:tenant/:service/r/:ref/receipt.pdf", h(s.czReceipt)...)
	if cfg.Documents != nil {
		s.registerDocuments(app, h) // documents.go
	}
}
