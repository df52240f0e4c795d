// Package backoffice serves the back office: server-rendered pages for
// staff under /backoffice/, working without JavaScript, in German and
// English, with the accessibility patterns of the citizen pages.
//
//	GET  /backoffice/login                       sign-in form (and OIDC buttons)
//	POST /backoffice/login                       sign in with username and password
//	GET  /backoffice/oidc/{tenant}/start         to the tenant's OpenID provider
//	GET  /backoffice/oidc/{tenant}/callback      back from it
//	POST /backoffice/logout                      sign out
//	GET  /backoffice/                            my cases
//	GET  /backoffice/office/{office}             an office's inbox
//	GET  /backoffice/cases/{ref}                 the case view
//	GET  /backoffice/cases/{ref}/attachments/{id} an attachment (download)
//	GET  /backoffice/cases/{ref}/receipt.pdf     the receipt
//	POST /backoffice/cases/{ref}/claim           "Mir zuweisen"
//	POST /backoffice/cases/{ref}/assign          assign to a colleague
//	POST /backoffice/cases/{ref}/transition      a workflow action
//	POST /backoffice/cases/{ref}/note            an internal note
//	POST /backoffice/cases/{ref}/schedule        due date, follow-up, priority
//	POST /backoffice/cases/{ref}/documents       request documents from the citizen
//	POST /backoffice/cases/{ref}/retry           retry a dead-lettered delivery (admins)
//	GET  /backoffice/audit                       the audit trail (auditors)
//	GET  /backoffice/audit/export?format=csv     … as CSV or NDJSON
//	GET  /backoffice/catalogue                   installed modules, services, newer versions (admins, auditors)
//	POST /backoffice/catalogue/plan              the semantic diff of installing a version (admins)
//	POST /backoffice/catalogue/install           install it, confirmed where something is ERR (admins)
//
// The package calls casework, staff and audit through the small
// interfaces below (Cases, Deliveries, Staff, OIDC, Audit, Catalog, Catalogue), holding just the methods
// it uses; contract.go has the types it shares with them.
//
// Files: backoffice.go registers the routes; session.go signs in and
// out, keeps the session cookie and guards pages and posts; inbox.go
// the inbox; casepage.go the case view and downloads; actions.go the
// case actions; deliveries.go the case's deliveries and their retry;
// audit.go the audit view; catalogue.go the catalogue;
// pages.go what every page shares
// (page data, rendering, error pages).
package backoffice

import (
	"context"
	"errors"
	"html/template"
	"io"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/api/httpx"
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/directory"
	"github.com/amtsform/amtsform/engine/record"
	"github.com/amtsform/amtsform/ui"
)

// Cases is what the back office calls of casework (*casework.Work).
type Cases interface {
	Inbox(ctx context.Context, a Actor, q Query) (*Page, error)
	Case(ctx context.Context, a Actor, ref string) (*Case, error)
	Attachment(ctx context.Context, a Actor, ref, id string) (record.Attachment, io.ReadCloser, error)
	Claim(ctx context.Context, a Actor, ref string, version int64) (*Submission, error)
	Assign(ctx context.Context, a Actor, ref string, version int64, to string) (*Submission, error)
	Transition(ctx context.Context, a Actor, ref string, version int64, transition, comment string) (*Submission, error)
	Note(ctx context.Context, a Actor, ref, text string) error
	Schedule(ctx context.Context, a Actor, ref string, version int64, due, followUp *time.Time, priority *int) (*Submission, error)
	RequestDocuments(ctx context.Context, a Actor, ref string, version int64, fields []string, message string, deadline time.Time) (*DocumentRequest, error)
}

// Deliveries is what the case view calls of the outbox
// (*casework.Work): each destination's state, and an admin's retry of a
// dead-lettered job (audited).
type Deliveries interface {
	Deliveries(ctx context.Context, a Actor, ref string) ([]Delivery, error)
	RetryDelivery(ctx context.Context, a Actor, ref, destination string) (*record.DeliveryJob, error)
}

// Staff is what the back office calls of staff accounts (*staff.Staff).
type Staff interface {
	Login(ctx context.Context, username, password, addr string) (*Principal, error)
	// Session returns the principal of a live session; an error (expired,
	// revoked, user disabled) signs the browser out at once.
	Session(ctx context.Context, id string) (*Principal, error)
	Logout(ctx context.Context, id string) error
}

// OIDC is one tenant's OpenID Connect relying party (*staff.OIDC).
type OIDC interface {
	AuthURL(state, nonce, pkceVerifier string) string
	Finish(ctx context.Context, code, verifier, nonce, addr string) (*Principal, error)
}

// Audit is what the audit view calls (*audit.Log).
type Audit interface {
	List(ctx context.Context, tenant string, after int64, limit int) ([]AuditEntry, error)
	Export(ctx context.Context, tenant, format string, w io.Writer) error
}

// Catalog names services and their workflow states (*catalog.Catalog).
type Catalog interface {
	Pinned(ref record.ServiceRef) (*engine.Service, error)
	List(tenant string) []*engine.Service
}

// Catalogue is the installation's catalogue of shared modules
// (*registry.Catalogue): what a tenant installed and runs, and
// installing a newer version with its semantic diff shown first.
type Catalogue interface {
	Overview(ctx context.Context, tenant string) (*CatalogueOverview, error)
	// Plan fetches, verifies, compiles and tests module@version and
	// compares it with what the tenant runs; nothing is installed.
	Plan(ctx context.Context, tenant, module, version string) (*InstallPlan, error)
	// Apply installs it if its content still has hash; a version with
	// changes graded ERR only when confirmed (else ErrConfirm).
	Apply(ctx context.Context, tenant, by, module, version, hash string, confirmed bool) (*Installed, error)
}

// Deps are what the back office needs.
type Deps struct {
	Cases Cases
	Staff Staff
	// Deliveries shows the case's destinations; nil: none shown.
	Deliveries Deliveries
	// Audit serves the audit view; nil: none (404).
	Audit Audit
	// OIDC returns a tenant's relying party when it has one; nil: no
	// tenant has OIDC.
	OIDC func(tenant string) (OIDC, bool)
	// Catalog names services and statuses; nil: ids are shown.
	Catalog Catalog
	// Catalogue serves the catalogue page; nil: none (404).
	Catalogue Catalogue
	// Directory names offices; nil: ids in a readable form.
	Directory *directory.Directory
	// Users lists a tenant's staff, for the assign form and for names
	// in lists; nil: no assign form and ids instead of names.
	Users func(ctx context.Context, tenant string) ([]*User, error)
	// Tenants are the tenants served (for the OIDC buttons).
	Tenants []string
	// Secret signs the login form's CSRF token and the OIDC state cookie.
	Secret []byte
	// Cookies says whether cookies are Secure (see httpx.Cookies).
	Cookies httpx.Cookies
	// PublicURL is the site's external base URL: the only origin posts
	// may come from, and the base of the OIDC redirect; empty: the
	// request's host.
	PublicURL string
	Logger    *slog.Logger
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// Zone is the time zone dates are shown in; nil: Europe/Berlin.
	Zone *time.Location
	// LoginRate is the number of sign-in attempts per client and minute
	// (default 10).
	LoginRate int
	// Templates are the parsed back office templates; nil: ui.BackofficeTemplates().
	Templates *template.Template
}

// server holds what the handlers share.
type server struct {
	d    Deps
	tmpl *template.Template
	log  *slog.Logger
	csrf httpx.CSRF
	zone *time.Location
}

// Register mounts the back office under /backoffice/ on r. It must come
// before the citizen pages, whose /{tenant} routes would take the path.
func Register(r fiber.Router, d Deps) error {
	switch {
	case d.Cases == nil:
		return errors.New("backoffice: no Cases")
	case d.Staff == nil:
		return errors.New("backoffice: no Staff")
	case len(d.Secret) < 16:
		return errors.New("backoffice: the secret is shorter than 16 bytes")
	}
	s := &server{d: d, tmpl: d.Templates, log: d.Logger, zone: d.Zone}
	if s.tmpl == nil {
		t, err := ui.BackofficeTemplates()
		if err != nil {
			return err
		}
		s.tmpl = t
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.zone == nil {
		s.zone = berlin
	}
	if s.d.Now == nil {
		s.d.Now = time.Now
	}
	if s.d.LoginRate == 0 {
		s.d.LoginRate = 10
	}
	s.csrf = httpx.CSRF{Secret: d.Secret, Cookies: d.Cookies, Origin: httpx.OriginOf(d.PublicURL)}

	g := r.Group("/backoffice", httpx.RememberLang(d.Cookies), s.loadSession)
	loginLimit := httpx.Limit{Max: s.d.LoginRate, Per: time.Minute, Err: errTooManyLogins}.Handler()

	g.Get("/login", s.loginPage)
	g.Post("/login", loginLimit, s.login)
	g.Get("/oidc/:tenant/start", loginLimit, s.oidcStart)
	g.Get("/oidc/:tenant/callback", s.oidcCallback)
	g.Post("/logout", s.post(s.logout, false))

	g.Get("/", s.page(s.inboxMine))
	g.Get("/office/:office", s.page(s.inboxOffice))
	g.Get("/cases/:ref", s.page(s.casePage))
	g.Get("/cases/:ref/attachments/:id", s.page(s.attachment))
	g.Get("/cases/:ref/receipt.pdf", s.page(s.receipt))
	g.Post("/cases/:ref/claim", s.post(s.claim, true))
	g.Post("/cases/:ref/assign", s.post(s.assign, true))
	g.Post("/cases/:ref/transition", s.post(s.transition, true))
	g.Post("/cases/:ref/note", s.post(s.note, true))
	g.Post("/cases/:ref/schedule", s.post(s.schedule, true))
	g.Post("/cases/:ref/documents", s.post(s.requestDocuments, true))
	g.Post("/cases/:ref/retry", s.post(s.retryDelivery, true))
	g.Get("/audit", s.page(s.auditPage))
	g.Get("/audit/export", s.page(s.auditExport))
	g.Get("/catalogue", s.page(s.cataloguePage))
	g.Post("/catalogue/plan", s.post(s.cataloguePlan, false))
	g.Post("/catalogue/install", s.post(s.catalogueInstall, false))
	// Anything else under /backoffice: the back office's own 404 page.
	g.Use(func(c *fiber.Ctx) error { return s.fail(c, fiber.ErrNotFound) })
	return nil
}
