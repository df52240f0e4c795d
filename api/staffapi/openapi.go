package staffapi

import (
	_ "embed"

	"github.com/gofiber/fiber/v2"
)

// openAPIDoc describes the staff API (OpenAPI 3.1). It is checked against
// real requests and responses in openapi_test.go.
//
//go:embed openapi.json
var openAPIDoc []byte

func (s *server) openAPI(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(openAPIDoc)
}

// OpenAPIDocument returns the OpenAPI document served at
// /api/v1/staff/openapi.json. The caller must not change it.
func OpenAPIDocument() []byte { return openAPIDoc }
