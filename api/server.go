// Package api assembles Amtsform's HTTP server: Config, and New, which
// builds the Fiber app with its middleware (request id, recover, request
// deadline, access log, security headers), the one error handler
// (httpx.ErrorHandler), health checks, the static assets, and each
// audience: the JSON API (apiv1) and the citizen pages (citizen).
//
// The handlers live in those packages; shared plumbing in httpx.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"

	"github.com/amtsform/amtsform/api/apiv1"
	"github.com/amtsform/amtsform/api/backoffice"
	"github.com/amtsform/amtsform/api/citizen"
	"github.com/amtsform/amtsform/api/httpx"
	"github.com/amtsform/amtsform/api/staffapi"
	"github.com/amtsform/amtsform/engine/audit"
	"github.com/amtsform/amtsform/engine/casework"
	"github.com/amtsform/amtsform/engine/delivery"
	"github.com/amtsform/amtsform/engine/directory"
	"github.com/amtsform/amtsform/engine/intake"
	"github.com/amtsform/amtsform/engine/staff"
	"github.com/amtsform/amtsform/ui"
)

// Config configures the server. Zero values get sensible defaults.
type Config struct {
	Intake *intake.Intake
	// Tenants are the tenants served; the first is the default that "/"
	// leads to. Tenant ids appear in every URL and stored document.
	Tenants []string
	// Logger receives request logs (never citizen data); nil: slog.Default().
	Logger *slog.Logger
	// BodyLimit bounds request bodies, uploads included (default 25 MiB).
	BodyLimit int
	// ReadTimeout, WriteTimeout and IdleTimeout bound connections;
	// RequestTimeout bounds the work of one request (default 15 s).
	ReadTimeout, WriteTimeout, IdleTimeout, RequestTimeout time.Duration
	// Secure marks every cookie Secure. Without it cookies are Secure
	// when the request came over https (TLS, or X-Forwarded-Proto from a
	// trusted proxy) or PublicURL is https.
	Secure bool
	// TrustedProxies are the addresses and CIDR ranges of the reverse
	// proxies in front of the server. Only from them are X-Forwarded-For
	// (the client address rate limits count by), X-Forwarded-Proto and
	// X-Forwarded-Host believed; empty: from nobody.
	TrustedProxies []string
	// Dev enables the designer preview: compile errors are shown as a
	// page and open previews reload when specs change.
	Dev bool
	// Reload, in Dev mode, reports the current compile problems (nil if
	// none) and a channel closed on the next change.
	DevState func() (problems error, changed <-chan struct{})
	// SubmitRate is the number of submits allowed per client and minute
	// (default 20).
	SubmitRate int
	// DraftRate is the number of drafts a client may start per minute,
	// on the citizen pages and the JSON API together (default 60).
	DraftRate int
	// SaveRate is the number of page saves and uploads a client may send
	// per minute, on the citizen pages and the JSON API together
	// (default 300).
	SaveRate int
	// Ready reports whether the server can take traffic (store reachable).
	Ready func(ctx context.Context) error
	// Mail, when set, lets citizens have the resume link of a saved
	// draft sent to them by email (see citizen/mail.go); nil: no mail.
	Mail Mailer
	// PublicURL is the site's external base URL (https://formulare.stadt.example)
	// for links in mails, the origin form posts must come from (CSRF),
	// and, when https, Secure cookies and HSTS on every response; empty:
	// taken from the request (Host, or X-Forwarded-Host and
	// X-Forwarded-Proto from a trusted proxy; set it whenever Mail is set).
	PublicURL string
	// Directory names the tenants on their pages (the installation's
	// tenant names); nil: pages show no tenant name.
	Directory *directory.Directory
	// Work is the casework of the back office: it serves the staff API
	// and the citizens' document request pages; nil: neither.
	Work *casework.Work
	// Staff signs staff in and checks the staff API's tokens; needed
	// with Work.
	Staff *staff.Staff
	// Audit is the audit trail the staff API's auditors read; nil: none.
	Audit *audit.Log
	// Feed serves the feed destinations' pull interface
	// (/api/v1/{tenant}/feed); nil: none.
	Feed *delivery.Feed
	// Metrics are served at /metrics and time every request; its Ready
	// joins the readiness check (a stuck outbox); nil: no metrics.
	Metrics *httpx.Metrics
	// Secret signs the back office's sign-in form and OpenID state.
	Secret []byte
	// Now is the clock of the back office and the staff API (deputy
	// periods, dates in forms); nil: time.Now. Casework and staff sign-in
	// have their own (casework.Options.Now, staff.Options.Now).
	Now func() time.Time
	// Catalogue serves the back office's catalogue page; nil: none (404).
	Catalogue backoffice.Catalogue
}

// Mailer sends one plain-text mail; see citizen.Mailer.
type Mailer = citizen.Mailer

// New returns the Fiber app serving cfg.
func New(cfg Config) (*fiber.App, error) {
	if cfg.Intake == nil {
		return nil, errors.New("api: no intake")
	}
	if len(cfg.Tenants) == 0 {
		cfg.Tenants = []string{"musterstadt"}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BodyLimit == 0 {
		cfg.BodyLimit = 25 << 20
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = 30 * time.Second
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 60 * time.Second
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 120 * time.Second
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 15 * time.Second
	}
	if cfg.SubmitRate == 0 {
		cfg.SubmitRate = 20
	}
	if cfg.DraftRate == 0 {
		cfg.DraftRate = 60
	}
	if cfg.SaveRate == 0 {
		cfg.SaveRate = 300
	}
	proxies, err := httpx.ParseProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	publicHTTPS := false
	if cfg.PublicURL != "" {
		o := httpx.OriginOf(cfg.PublicURL)
		if o == "" {
			return nil, fmt.Errorf("api: public URL %q is not an http(s) URL", cfg.PublicURL)
		}
		publicHTTPS = strings.HasPrefix(o, "https://")
	}
	tmpl, err := ui.Templates()
	if err != nil {
		return nil, err
	}
	app := fiber.New(fiber.Config{
		AppName:               "amtsform",
		BodyLimit:             cfg.BodyLimit,
		ReadTimeout:           cfg.ReadTimeout,
		WriteTimeout:          cfg.WriteTimeout,
		IdleTimeout:           cfg.IdleTimeout,
		ErrorHandler:          httpx.ErrorHandler(cfg.Logger, httpx.TemplatePage(tmpl, "error.html")),
		DisableStartupMessage: true,
		// Multipart bodies are parsed by the handlers, so that a broken
		// one fails inside the router, where the error handler knows the
		// path (problem+json under /api). Bodies are not streamed:
		// fasthttp enforces BodyLimit only on buffered bodies.
		DisablePreParseMultipartForm: true,
		// Values from the context are kept beyond the handler in places
		// (drafts, logs); copying everything is the safe default.
		Immutable: true,
		// X-Forwarded-Proto and X-Forwarded-Host count only from the
		// trusted proxies (c.Protocol, c.Hostname); the client address
		// is found by httpx.Proxies.
		EnableTrustedProxyCheck: true,
		TrustedProxies:          cfg.TrustedProxies,
	})
	if cfg.Metrics != nil {
		app.Use(cfg.Metrics.Middleware())
	}
	app.Use(requestid.New())
	app.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: httpx.LogPanic(cfg.Logger)}))
	app.Use(httpx.OneContentLength)
	app.Use(proxies.ClientAddr())
	app.Use(httpx.RequestContext(cfg.RequestTimeout))
	app.Use(httpx.AccessLog(cfg.Logger))
	app.Use(httpx.SecurityHeaders(publicHTTPS))

	app.Get("/healthz", func(c *fiber.Ctx) error { return c.SendString("ok") })
	ready := cfg.Ready
	if cfg.Metrics != nil {
		ready = func(ctx context.Context) error {
			if cfg.Ready != nil {
				if err := cfg.Ready(ctx); err != nil {
					return err
				}
			}
			return cfg.Metrics.Ready(ctx)
		}
		app.Get("/metrics", cfg.Metrics.Handler())
	}
	app.Get("/readyz", readyz(cfg.Logger, ready))
	app.Use("/static", filesystem.New(filesystem.Config{
		Root:   http.FS(ui.Static()),
		MaxAge: 365 * 24 * 3600, // links carry ?v=<content hash>
	}))
	// One count per client for starts and one for saves, whichever
	// audience they come through.
	draftLimit := httpx.Limit{Max: cfg.DraftRate, Per: time.Minute,
		Err: fiber.NewError(fiber.StatusTooManyRequests, "too many drafts started from this client; try again in a minute")}.Handler()
	saveLimit := httpx.Limit{Max: cfg.SaveRate, Per: time.Minute,
		Err: fiber.NewError(fiber.StatusTooManyRequests, "too many saves from this client; try again in a minute")}.Handler()
	if cfg.Work != nil {
		if cfg.Staff == nil {
			return nil, errors.New("api: casework without staff sign-in")
		}
		// Before apiv1: its /api/v1/{tenant} group would take "staff"
		// for a tenant.
		deps := staffapi.Deps{Cases: cfg.Work, Tokens: cfg.Staff, Tenants: cfg.Tenants, Now: cfg.Now}
		if cfg.Audit != nil {
			deps.Audit = cfg.Audit
		}
		staffapi.Register(app, deps)
		bo := backoffice.Deps{Cases: cfg.Work, Deliveries: cfg.Work, Staff: cfg.Staff, Catalog: cfg.Intake.Catalog, Directory: cfg.Directory,
			Users: cfg.Staff.List, Tenants: cfg.Tenants, Secret: cfg.Secret, PublicURL: cfg.PublicURL, Logger: cfg.Logger, Now: cfg.Now,
			Cookies: httpx.Cookies{Secure: cfg.Secure || publicHTTPS},
			OIDC: func(t string) (backoffice.OIDC, bool) {
				o, ok := cfg.Staff.OIDC(t)
				if !ok {
					return nil, false
				}
				return o, true
			}}
		if cfg.Audit != nil {
			bo.Audit = cfg.Audit // never a typed nil
		}
		bo.Catalogue = cfg.Catalogue
		if err := backoffice.Register(app, bo); err != nil {
			return nil, fmt.Errorf("api: %w", err)
		}
	}
	// The published JSON Schema of every version offered, at a stable
	// URL (the receivers' contract); the feed before apiv1's routes.
	apiv1.VersionSchema(app, cfg.Intake.Catalog, cfg.Tenants)
	if cfg.Feed != nil {
		apiv1.Feed(app, apiv1.FeedConfig{Feed: cfg.Feed, Tenants: cfg.Tenants})
	}
	apiv1.Register(app, apiv1.Config{Intake: cfg.Intake, Tenants: cfg.Tenants, SubmitRate: cfg.SubmitRate,
		DraftLimit: draftLimit, SaveLimit: saveLimit})
	// The citizen pages come last: their /{tenant} routes would take
	// every other first path segment.
	citizen.Register(app, citizen.Config{
		Intake:     cfg.Intake,
		Tenants:    cfg.Tenants,
		Templates:  tmpl,
		Logger:     cfg.Logger,
		Cookies:    httpx.Cookies{Secure: cfg.Secure || publicHTTPS},
		SubmitRate: cfg.SubmitRate,
		DraftLimit: draftLimit,
		SaveLimit:  saveLimit,
		Dev:        cfg.Dev,
		DevState:   cfg.DevState,
		Mail:       cfg.Mail,
		PublicURL:  cfg.PublicURL,
		Directory:  cfg.Directory,
		Documents:  documents(cfg.Work),
		Handover:   handover(cfg.Work),
	})
	app.Use(func(c *fiber.Ctx) error { return fiber.ErrNotFound })
	return app, nil
}

// documents returns the document request pages' casework, or nil.
func documents(w *casework.Work) citizen.DocumentRequests {
	if w == nil {
		return nil
	}
	return w
}

// handover returns the status page's delivery state, or nil.
func handover(w *casework.Work) citizen.Handover {
	if w == nil {
		return nil
	}
	return w
}

// readyz answers 200 when ready reports no error (or is nil), else 503.
func readyz(log *slog.Logger, ready func(ctx context.Context) error) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if ready != nil {
			if err := ready(c.UserContext()); err != nil {
				log.Warn("not ready", "err", err)
				return c.Status(fiber.StatusServiceUnavailable).SendString("not ready")
			}
		}
		return c.SendString("ready")
	}
}
