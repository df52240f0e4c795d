package httpx

import (
	"errors"
	"html/template"
	"log/slog"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/engine"
)

// ErrorPage is what a friendly error page shows.
type ErrorPage struct {
	Status    int
	Type      string // the short problem type (StatusOf)
	Title     string // in Lang
	Lang      string
	RequestID string
}

// PageRenderer renders the HTML error page outside /api; the status is
// set already.
type PageRenderer func(c *fiber.Ctx, e ErrorPage) error

// ErrorHandler is the one place errors become responses: problem+json
// under /api, a page rendered by page elsewhere. Internal errors are
// logged with the request id, the route and the kind of error
// (ErrorKind), never with the error's text, and never echoed.
func ErrorHandler(log *slog.Logger, page PageRenderer) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		status, typ := StatusOf(err)
		rid := c.GetRespHeader(fiber.HeaderXRequestID)
		if status >= 500 {
			// Never err.Error(): it can carry what the citizen sent.
			log.Error("request failed", "method", c.Method(), "route", c.Route().Path, "status", status, "request_id", rid, "kind", ErrorKind(err))
		}
		lang := Lang(c)
		if strings.HasPrefix(c.Path(), "/api/") {
			p := Problem{Type: ProblemType(typ), Title: TitleOf(status, lang), Status: status, RequestID: rid}
			if status < 500 {
				p.Detail = DetailOf(err)
			}
			var ve *engine.ValidationError
			if errors.As(err, &ve) {
				p.Errors = ProblemErrors(nil, lang, ve.Errors)
			}
			c.Set(fiber.HeaderContentType, MIMEProblemJSON)
			c.Set(fiber.HeaderContentLanguage, lang)
			return c.Status(status).JSON(p, MIMEProblemJSON)
		}
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		c.Status(status)
		return page(c, ErrorPage{Status: status, Type: typ, Title: TitleOf(status, lang), Lang: lang, RequestID: rid})
	}
}

// TemplatePage renders the error page with the template name of tmpl,
// which gets Lang, Status, Title, Type and RequestID.
func TemplatePage(tmpl *template.Template, name string) PageRenderer {
	return func(c *fiber.Ctx, e ErrorPage) error {
		return tmpl.ExecuteTemplate(c, name, map[string]any{
			"Lang":      e.Lang,
			"Status":    e.Status,
			"Title":     e.Title,
			"Type":      e.Type,
			"RequestID": e.RequestID,
		})
	}
}

// Render writes the HTML template name of tmpl with data, with status
// unless it is 0.
func Render(c *fiber.Ctx, tmpl *template.Template, name string, status int, data any) error {
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	if status != 0 {
		c.Status(status)
	}
	return tmpl.ExecuteTemplate(c, name, data)
}
