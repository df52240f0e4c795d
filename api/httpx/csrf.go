package httpx

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// CSRF protects form posts with a signed double-submit token, stateless
// so that any instance can check it: a random value in an HttpOnly,
// SameSite=Lax cookie, and in every form a hidden input holding an HMAC
// of that value under Secret. A cross-site page can neither read the
// cookie nor compute the HMAC. Posts from another origin are refused as
// well when the browser says so (Origin header).
type CSRF struct {
	Secret  []byte
	Cookies Cookies
	// Origin, when set, is the only origin form posts may come from
	// (OriginOf the public URL); else the Origin header must name the
	// request's host (Host, or a trusted proxy's X-Forwarded-Host).
	Origin string
}

// CSRFCookie holds the random value the form tokens sign.
const CSRFCookie = "af_csrf"

// Token returns the form token for this browser, setting the cookie
// when there is none yet.
func (x CSRF) Token(c *fiber.Ctx) string {
	v := c.Cookies(CSRFCookie)
	if len(v) < 32 || len(v) > 64 {
		var b [32]byte
		_, _ = rand.Read(b[:])
		v = base64.RawURLEncoding.EncodeToString(b[:])
		x.Cookies.Set(c, CSRFCookie, v, 0)
	}
	return x.sign(v)
}

func (x CSRF) sign(v string) string {
	m := hmac.New(sha256.New, x.Secret)
	m.Write([]byte("csrf\x00" + v))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Check verifies the token of a form post (403 if wrong or missing, or
// when the post comes from another origin). It must run before the body
// is used for anything.
func (x CSRF) Check(c *fiber.Ctx, posted string) error {
	if o := c.Get(fiber.HeaderOrigin); o != "" && o != "null" {
		if x.Origin != "" {
			if OriginOf(o) != x.Origin {
				return fiber.NewError(fiber.StatusForbidden, "cross-origin form post")
			}
		} else if u, err := url.Parse(o); err != nil || !strings.EqualFold(u.Host, c.Hostname()) {
			return fiber.NewError(fiber.StatusForbidden, "cross-origin form post")
		}
	}
	v := c.Cookies(CSRFCookie)
	if v == "" || posted == "" || !hmac.Equal([]byte(posted), []byte(x.sign(v))) {
		return fiber.NewError(fiber.StatusForbidden, "missing or wrong CSRF token")
	}
	return nil
}
