package httpx

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"
)

// RequestContext gives every request a context with a deadline: Fiber's
// UserContext is never cancelled on its own.
func RequestContext(timeout time.Duration) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		c.SetUserContext(ctx)
		return c.Next()
	}
}

// AccessLog logs method, route, status and duration. Paths are logged as
// route patterns so that tokens and references never reach the log.
func AccessLog(log *slog.Logger) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		err := c.Next()
		status := c.Response().StatusCode()
		if err != nil {
			var fe *fiber.Error
			if errors.As(err, &fe) {
				status = fe.Code
			}
		}
		if ctx := c.Context(); log.Enabled(ctx, slog.LevelInfo) {
			log.LogAttrs(ctx, slog.LevelInfo, "request",
				slog.String("method", c.Method()),
				slog.String("route", c.Route().Path),
				slog.Int("status", status),
				slog.Int64("duration_ms", time.Since(start).Milliseconds()),
				slog.String("request_id", c.GetRespHeader(fiber.HeaderXRequestID)))
		}
		return err
	}
}

// LogPanic is a StackTraceHandler for Fiber's recover middleware: it logs
// the route, not the path, and the kind of panic (PanicKind), not its
// value.
func LogPanic(log *slog.Logger) func(c *fiber.Ctx, e any) {
	return func(c *fiber.Ctx, e any) {
		log.Error("panic", "method", c.Method(), "route", c.Route().Path, "request_id", c.GetRespHeader(fiber.HeaderXRequestID), "kind", PanicKind(e))
	}
}

// SecurityHeaders sets a strict CSP (no inline script or style) and the
// usual hardening headers; Strict-Transport-Security when the site is
// served over https (alwaysHTTPS: its public URL is https) or the request
// came over https (IsHTTPS).
func SecurityHeaders(alwaysHTTPS bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if alwaysHTTPS || IsHTTPS(c) {
			c.Set(fiber.HeaderStrictTransportSecurity, "max-age=31536000")
		}
		return securityHeaders(c)
	}
}

func securityHeaders(c *fiber.Ctx) error {
	c.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("X-Frame-Options", "DENY")
	c.Set("Referrer-Policy", "same-origin")
	c.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	c.Set("Cross-Origin-Opener-Policy", "same-origin")
	return c.Next()
}

// NoStore marks a response as not cacheable (personal data, tokens).
func NoStore(c *fiber.Ctx) {
	c.Set(fiber.HeaderCacheControl, "no-store")
}

// Limit is a rate limit, kept in memory per process.
type Limit struct {
	// Max requests per Per.
	Max int
	Per time.Duration
	// Key says whose requests are counted; nil: ByClient.
	Key func(*fiber.Ctx) string
	// Err is returned beyond the limit, to the error handler; nil:
	// fiber.ErrTooManyRequests.
	Err error
	// SkipFailed leaves requests answered with a status >= 400 uncounted.
	SkipFailed bool
}

// ByClient counts requests per client address: the one ClientAddr
// found (behind a trusted proxy, the address it forwards), else the
// peer's.
func ByClient(c *fiber.Ctx) string {
	if a, ok := c.Locals(clientKey).(string); ok && a != "" {
		return a
	}
	return c.IP()
}

// Handler returns the middleware enforcing l.
func (l Limit) Handler() fiber.Handler {
	key, e := l.Key, l.Err
	if key == nil {
		key = ByClient
	}
	if e == nil {
		e = fiber.ErrTooManyRequests
	}
	return limiter.New(limiter.Config{
		Max:                l.Max,
		Expiration:         l.Per,
		KeyGenerator:       key,
		LimitReached:       func(c *fiber.Ctx) error { return e },
		SkipFailedRequests: l.SkipFailed,
	})
}

// Optional returns h, or for nil a handler that does nothing.
func Optional(h fiber.Handler) fiber.Handler {
	if h == nil {
		return func(c *fiber.Ctx) error { return c.Next() }
	}
	return h
}

// Tenants are the tenants served; the first is the default.
type Tenants []string

// Of returns the tenant named in the URL (parameter "tenant"), or a 404
// for unknown ones.
func (ts Tenants) Of(c *fiber.Ctx) (string, error) {
	t := c.Params("tenant")
	for _, x := range ts {
		if x == t {
			return t, nil
		}
	}
	return "", fiber.ErrNotFound
}
