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
	s := &Server{cfg: cfg, in: cfg.Intake, log: cfg.Logger, tmpl: tmpl, ready: cfg.Ready}
	app := fiber.New(fiber.Config{
		AppName:               "amtsform",
		BodyLimit:             cfg.BodyLimit,
		ReadTimeout:           cfg.ReadTimeout,
		WriteTimeout:          cfg.WriteTimeout,
		IdleTimeout:           cfg.IdleTimeout,
		ErrorHandler:          s.errorHandler,
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
	app.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: s.logPanic}))
	app.Use(s.requestContext)
	app.Use(s.accessLog)
	app.Use(securityHeaders)

	app.Get("/healthz", func(c *fiber.Ctx) error { return c.SendString("ok") })
	app.Get("/readyz", s.readyz)
	s.registerAPI(app)
	s.registerCitizen(app)
	app.Use(func(c *fiber.Ctx) error { return fiber.ErrNotFound })
	return app, nil
}

// requestContext gives every request a context with a deadline: Fiber's
// UserContext is never cancelled on its own.
func (s *Server) requestContext(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	c.SetUserContext(ctx)
	return c.Next()
}

// accessLog logs method, route, status and duration. Paths are logged as
// route patterns so that tokens and references never reach the log.
func (s *Server) accessLog(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	status := c.Response().StatusCode()
	if err != nil {
		var fe *fiber.Error
		if errors.As(err, &fe) {
			status = fe.Code
		}
	}
	s.log.Info("request",
		"method", c.Method(),
		"route", c.Route().Path,
		"status", status,
		"duration_ms", time.Since(start).Milliseconds(),
		"request_id", c.GetRespHeader(fiber.HeaderXRequestID))
	return err
}

func (s *Server) logPanic(c *fiber.Ctx, e any) {
	s.log.Error("panic", "route", c.Route().Path, "request_id", c.GetRespHeader(fiber.HeaderXRequestID), "panic", e)
}

// securityHeaders sets a strict CSP (no inline script or style) and the
// usual hardening headers.
func securityHeaders(c *fiber.Ctx) error {
	c.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("X-Frame-Options", "DENY")
	c.Set("Referrer-Policy", "same-origin")
	c.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	c.Set("Cross-Origin-Opener-Policy", "same-origin")
	return c.Next()
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

// tenant returns the tenant named in the URL, or a 404 for unknown ones.
func (s *Server) tenant(c *fiber.Ctx) (string, error) {
	t := c.Params("tenant")
	for _, x := range s.cfg.Tenants {
		if x == t {
			return t, nil
		}
	}
	return "", fiber.ErrNotFound
}
