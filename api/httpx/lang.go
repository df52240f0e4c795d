package httpx

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

// LangCookie remembers a language chosen with ?lang=.
const LangCookie = "lang"

// Lang picks the language of pages (and of the error handler): ?lang=,
// then the lang cookie, then the Accept-Language header, then German.
func Lang(c *fiber.Ctx) string {
	for _, l := range []string{c.Query("lang"), c.Cookies(LangCookie)} {
		if l == "de" || l == "en" {
			return l
		}
	}
	if l := c.AcceptsLanguages("de", "en"); l != "" {
		return l
	}
	return "de"
}

// APILang picks the language of JSON API messages: ?lang=, then the best
// of de and en in Accept-Language by q-value, then German. Unlike Lang
// it ignores the cookie.
func APILang(c *fiber.Ctx) string {
	if l := c.Query("lang"); l == "de" || l == "en" {
		return l
	}
	best, bestQ := "de", -1.0
	for _, part := range strings.Split(c.Get(fiber.HeaderAcceptLanguage), ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		tag, _, _ = strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		if tag != "de" && tag != "en" {
			continue
		}
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				q = f
			}
		}
		if q > bestQ {
			best, bestQ = tag, q
		}
	}
	return best
}

// RememberLang is middleware that keeps a language chosen with ?lang= in
// the lang cookie for a year.
func RememberLang(k Cookies) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if l := c.Query("lang"); (l == "de" || l == "en") && c.Cookies(LangCookie) != l {
			k.Set(c, LangCookie, l, 365*24*time.Hour)
		}
		return c.Next()
	}
}
