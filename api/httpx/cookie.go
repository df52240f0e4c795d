package httpx

import (
	"time"

	"github.com/gofiber/fiber/v2"
)

// Cookies sets the site's cookies.
type Cookies struct {
	// Secure marks cookies Secure: set it when served behind TLS.
	Secure bool
}

// Set sets an HttpOnly, SameSite=Lax cookie for the whole site, Secure
// when the server runs behind TLS. maxAge 0 makes a session cookie.
func (k Cookies) Set(c *fiber.Ctx, name, value string, maxAge time.Duration) {
	ck := &fiber.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		HTTPOnly: true,
		Secure:   k.Secure,
		SameSite: fiber.CookieSameSiteLaxMode,
	}
	if maxAge > 0 {
		ck.MaxAge = int(maxAge / time.Second)
	}
	c.Cookie(ck)
}
