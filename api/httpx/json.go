package httpx

import (
	"mime"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// RequireJSON answers 415 unless the request's content type is
// application/json or a type ending in +json, with or without
// parameters. A request without a content type is refused too. Every
// endpoint that reads a JSON body calls it first, so that a form post,
// a multipart upload or plain text never reaches the JSON decoder.
func RequireJSON(c *fiber.Ctx) error {
	// The usual header needs no parsing (mime.ParseMediaType builds a
	// map of parameters on every request).
	if ct := c.Get(fiber.HeaderContentType); ct != fiber.MIMEApplicationJSON {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !(mt == fiber.MIMEApplicationJSON || strings.HasSuffix(mt, "+json")) {
			return fiber.NewError(fiber.StatusUnsupportedMediaType, "expected a JSON body (Content-Type: application/json)")
		}
	}
	return nil
}
