package api

import "github.com/gofiber/fiber/v2"

// registerCitizen registers the server-rendered citizen forms.
func (s *Server) registerCitizen(app *fiber.App) {
	app.Get("/", func(c *fiber.Ctx) error {
		return c.Redirect("/" + s.cfg.Tenants[0] + "/")
	})
}
