package httpx

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

// LangCookie remembers a language chosen with ?lang=.
const LangCookie = "lang"

// Lang picks the language of a response, pages and JSON API alike
// (field messages, problem titles, error pages), in one order:
//
//  1. ?lang=de or ?lang=en;
//  2. for pages (paths outside /api/) the lang cookie that a ?lang= on
//     an earlier page set (RememberLang); the API ignores it, so that
//     its answers depend on the request alone;
//  3. Accept-Language: of de and en the one with the highest q-value
//     (a missing q is 1, q=0 means "not this one"; on equal q the one
//     listed first; "*" stands for German);
//  4. German.
func Lang(c *fiber.Ctx) string {
	if l := c.Query("lang"); l == "de" || l == "en" {
		return l
	}
	if !strings.HasPrefix(c.Path(), "/api/") {
		if l := c.Cookies(LangCookie); l == "de" || l == "en" {
			return l
		}
	}
	return acceptLanguage(c.Get(fiber.HeaderAcceptLanguage))
}

// acceptLanguage is step 3 and 4 of Lang.
func acceptLanguage(header string) string {
	best, bestQ := "de", 0.0
	for _, part := range strings.Split(header, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		tag, _, _ = strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		switch tag {
		case "*":
			tag = "de"
		case "de", "en":
		default:
			continue
		}
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(p), "q="); ok {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil || f < 0 || f > 1 {
					f = 0
				}
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
