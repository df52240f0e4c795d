package httpx

import (
	"time"

	"github.com/gofiber/fiber/v2"
)

// Cookies sets the site's cookies.
type Cookies struct {
	// Secure marks every cookie Secure (--secure-cookies, or an https
	// public URL); without it a cookie is Secure when its request came
	// over https (IsHTTPS: TLS, or a trusted proxy's X-Forwarded-Proto).
	Secure bool
}

// Set sets an HttpOnly, SameSite=Lax cookie for the whole site, Secure
// as described at Cookies. maxAge 0 makes a session cookie.
func (k Cookies) Set(c *fiber.Ctx, name, value string, maxAge time.Duration) {
	ck := &fiber.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		HTTPOnly: true,
		Secure:   k.Secure || IsHTTPS(c),
		SameSite: fiber.CookieSameSiteLaxMode,
	}
	if maxAge > 0 {
		ck.MaxAge = int(maxAge / time.Second)
	}
	c.Cookie(ck)
}
