package api

import (
	_ "embed"

	"github.com/gofiber/fiber/v2"
)

// openAPIDoc describes the JSON API (OpenAPI 3.1). It is checked against
// real requests and responses in openapi_test.go.
//
//go:embed openapi.json
var openAPIDoc []byte

func (s *Server) apiOpenAPI(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(openAPIDoc)
}
