package api

import "github.com/gofiber/fiber/v2"

// registerAPI registers the JSON API under /api/v1.
func (s *Server) registerAPI(app *fiber.App) {
	_ = app.Group("/api/v1")
}
