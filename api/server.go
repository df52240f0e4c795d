// Package api serves Amtsform over HTTP with Fiber: the citizen forms
// (server-rendered, working without JavaScript), the JSON API under
// /api/v1, health checks, and one error handler that turns errors into
// status codes, problem+json documents and friendly pages.
package api

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"

	"github.com/amtsform/amtsform/api/apiv1"
	"github.com/amtsform/amtsform/api/httpx"
	"github.com/amtsform/amtsform/engine/intake"
	"github.com/amtsform/amtsform/ui"
)

// Config configures a Server. Zero values get sensible defaults.
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
	// Secure marks cookies Secure: set it when served behind TLS.
	Secure bool
	// Dev enables the designer preview: compile errors are shown as a
	// page and open previews reload when specs change.
	Dev bool
	// Reload, in Dev mode, reports the current compile problems (nil if
	// none) and a channel closed on the next change.
	DevState func() (problems error, changed <-chan struct{})
	// SubmitRate is the number of submits allowed per client and minute
	// (default 20).
	SubmitRate int
	// Ready reports whether the server can take traffic (store reachable).
	Ready func(ctx context.Context) error
	// Mail, when set, lets citizens have the resume link of a saved
	// draft sent to them by email (see citizen_mail.go); nil: no mail.
	Mail Mailer
	// PublicURL is the site's external base URL (https://formulare.stadt.example)
	// for links in mails; empty: taken from the request (Host and
	// X-Forwarded-* headers, which a client can set, so set it whenever
	// Mail is set).
	PublicURL string
}

// Server holds what the handlers share.
type Server struct {
	cfg   Config
	in    *intake.Intake
	log   *slog.Logger
	tmpl  *template.Template
	ready func(ctx context.Context) error

	tenants httpx.Tenants
	cookies httpx.Cookies
	csrf    httpx.CSRF
}

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
	tmpl, err := ui.Templates()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, in: cfg.Intake, log: cfg.Logger, tmpl: tmpl, ready: cfg.Ready,
		tenants: cfg.Tenants, cookies: httpx.Cookies{Secure: cfg.Secure}}
	s.csrf = httpx.CSRF{Secret: cfg.Intake.Secret, Cookies: s.cookies}
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
	})
	app.Use(requestid.New())
	app.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: httpx.LogPanic(s.log)}))
	app.Use(httpx.RequestContext(cfg.RequestTimeout))
	app.Use(httpx.AccessLog(s.log))
	app.Use(httpx.SecurityHeaders)

	app.Get("/healthz", func(c *fiber.Ctx) error { return c.SendString("ok") })
	app.Get("/readyz", s.readyz)
	apiv1.Register(app, apiv1.Config{Intake: cfg.Intake, Tenants: cfg.Tenants, SubmitRate: cfg.SubmitRate})
	s.registerCitizen(app)
	app.Use(func(c *fiber.Ctx) error { return fiber.ErrNotFound })
	return app, nil
}

func (s *Server) readyz(c *fiber.Ctx) error {
	if s.ready != nil {
		if err := s.ready(c.UserContext()); err != nil {
			s.log.Warn("not ready", "err", err)
			return c.Status(fiber.StatusServiceUnavailable).SendString("not ready")
		}
	}
	return c.SendString("ready")
}
