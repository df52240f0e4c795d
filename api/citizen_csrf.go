package api

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"
)

// CSRF protection for the citizen forms is a signed double-submit token,
// stateless so that any instance can check it: a random value in an
// HttpOnly, SameSite=Lax cookie, and in every form a hidden input holding
// an HMAC of that value under the engine's secret. A cross-site page can
// neither read the cookie nor compute the HMAC. Posts from another origin
// are refused as well when the browser says so (Origin header).

const (
	csrfCookie = "af_csrf"
	langCookie = "lang"
)

// csrfToken returns the form token for this browser, setting the cookie
// when there is none yet.
func (s *Server) csrfToken(c *fiber.Ctx) string {
	v := c.Cookies(csrfCookie)
	if len(v) < 32 || len(v) > 64 {
		var b [32]byte
		_, _ = rand.Read(b[:])
		v = base64.RawURLEncoding.EncodeToString(b[:])
		s.setCookie(c, csrfCookie, v, 0)
	}
	return s.csrfSign(v)
}

func (s *Server) csrfSign(v string) string {
	m := hmac.New(sha256.New, s.in.Secret)
	m.Write([]byte("csrf\x00" + v))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF verifies the token of a form post. It must run before the
// body is used for anything.
func (s *Server) checkCSRF(c *fiber.Ctx, posted string) error {
	if o := c.Get(fiber.HeaderOrigin); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host != c.Hostname() {
			return fiber.NewError(fiber.StatusForbidden, "cross-origin form post")
		}
	}
	v := c.Cookies(csrfCookie)
	if v == "" || posted == "" || !hmac.Equal([]byte(posted), []byte(s.csrfSign(v))) {
		return fiber.NewError(fiber.StatusForbidden, "missing or wrong CSRF token")
	}
	return nil
}

// setCookie sets an HttpOnly, SameSite=Lax cookie for the whole site,
// Secure when the server runs behind TLS. maxAge 0 makes a session cookie.
func (s *Server) setCookie(c *fiber.Ctx, name, value string, maxAge time.Duration) {
	ck := &fiber.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		HTTPOnly: true,
		Secure:   s.cfg.Secure,
		SameSite: fiber.CookieSameSiteLaxMode,
	}
	if maxAge > 0 {
		ck.MaxAge = int(maxAge / time.Second)
	}
	c.Cookie(ck)
}
