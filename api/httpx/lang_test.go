package httpx

import (
	"io"
	"net/http/httptest"
	"testing"

	"github.com/gofiber/fiber/v2"
)

// TestLang: one order for pages and the API: ?lang, the cookie (pages
// only), Accept-Language by q-value, German.
func TestLang(t *testing.T) {
	app := fiber.New()
	app.Use(func(c *fiber.Ctx) error { return c.SendString(Lang(c)) })
	for _, tc := range []struct {
		path, cookie, accept, want string
	}{
		{"/t/s/", "", "", "de"},
		{"/t/s/", "", "fr-CH, fr;q=0.9, it;q=0.8", "de"}, // no supported language: German
		{"/t/s/", "", "pl", "de"},
		{"/t/s/", "", "en-GB,en;q=0.9", "en"},
		{"/t/s/", "", "fr, en;q=0.2, de;q=0.8", "de"},
		{"/t/s/", "", "fr, de;q=0.2, en;q=0.8", "en"},
		{"/t/s/", "", "en;q=0, fr", "de"}, // q=0: not English
		{"/t/s/", "", "en, de", "en"},     // equal q: the first listed
		{"/t/s/", "", "*", "de"},
		{"/t/s/", "", "en;q=0.4, *;q=0.8", "de"},
		{"/t/s/", "", "en;q=abc", "de"},
		{"/t/s/", "en", "de", "en"},
		{"/t/s/", "fr", "en", "en"},
		{"/t/s/?lang=de", "en", "en", "de"},
		{"/t/s/?lang=fr", "", "en", "en"},
		{"/api/v1/t/services", "en", "", "de"}, // the API ignores the cookie
		{"/api/v1/t/services", "en", "de;q=0.1, en;q=0.9", "en"},
		{"/api/v1/t/services?lang=en", "", "de", "en"},
	} {
		req := httptest.NewRequest("GET", tc.path, nil)
		if tc.cookie != "" {
			req.Header.Set("Cookie", LangCookie+"="+tc.cookie)
		}
		if tc.accept != "" {
			req.Header.Set("Accept-Language", tc.accept)
		}
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		if string(got) != tc.want {
			t.Errorf("%s cookie %q Accept-Language %q: %s, want %s", tc.path, tc.cookie, tc.accept, got, tc.want)
		}
	}
}
