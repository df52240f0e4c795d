package api

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/catalog"
	"github.com/amtsform/amtsform/engine/intake"
	"github.com/amtsform/amtsform/engine/messages"
	"github.com/amtsform/amtsform/engine/record"
)

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type     string         `json:"type"`
	Title    string         `json:"title"`
	Status   int            `json:"status"`
	Detail   string         `json:"detail,omitempty"`
	Instance string         `json:"instance,omitempty"`
	Errors   []ProblemError `json:"errors,omitempty"`
	// RequestID lets operators find the request in the logs.
	RequestID string `json:"requestId,omitempty"`
}

// ProblemError is one invalid field.
type ProblemError struct {
	Path    string         `json:"path"`
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Params  map[string]any `json:"params,omitempty"`
}

// statusOf maps an error to an HTTP status and a stable problem type.
func statusOf(err error) (int, string) {
	var fe *fiber.Error
	var ve *engine.ValidationError
	var de *engine.DocumentError
	switch {
	case errors.As(err, &fe):
		return fe.Code, "about:blank"
	case errors.Is(err, engine.ErrTooLarge), errors.Is(err, record.ErrTooLarge):
		return fiber.StatusRequestEntityTooLarge, "too-large"
	case errors.As(err, &de):
		return fiber.StatusBadRequest, "malformed-document"
	case errors.As(err, &ve), errors.Is(err, intake.ErrInvalid):
		return fiber.StatusUnprocessableEntity, "validation"
	case errors.Is(err, record.ErrIdempotencyMismatch):
		return fiber.StatusUnprocessableEntity, "idempotency-mismatch"
	case errors.Is(err, record.ErrUnsupportedType):
		return fiber.StatusUnsupportedMediaType, "unsupported-type"
	case errors.Is(err, record.ErrNotFound):
		return fiber.StatusNotFound, "not-found"
	case errors.Is(err, record.ErrExpired):
		return fiber.StatusGone, "expired"
	case errors.Is(err, record.ErrConflict):
		return fiber.StatusConflict, "conflict"
	case errors.Is(err, intake.ErrPageNotReached):
		return fiber.StatusConflict, "page-not-reached"
	case errors.Is(err, catalog.ErrUnavailable):
		return fiber.StatusGone, "version-unavailable"
	}
	return fiber.StatusInternalServerError, "internal"
}

// errorHandler is the one place errors become responses: problem+json
// under /api, a friendly page elsewhere. Internal errors are logged with
// the request id and never echoed.
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	status, typ := statusOf(err)
	rid := c.GetRespHeader(fiber.HeaderXRequestID)
	if status >= 500 {
		s.log.Error("request failed", "route", c.Route().Path, "status", status, "request_id", rid, "err", err)
	}
	lang := langOf(c)
	if strings.HasPrefix(c.Path(), "/api/") {
		p := Problem{Type: problemType(typ), Title: titleOf(status, "en"), Status: status, RequestID: rid}
		if status < 500 {
			p.Detail = detailOf(err)
		}
		var ve *engine.ValidationError
		if errors.As(err, &ve) {
			p.Errors = problemErrors(nil, lang, ve.Errors)
		}
		c.Set(fiber.HeaderContentType, "application/problem+json")
		return c.Status(status).JSON(p, "application/problem+json")
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Status(status)
	return s.tmpl.ExecuteTemplate(c, "error.html", map[string]any{
		"Lang":      lang,
		"Status":    status,
		"Title":     titleOf(status, lang),
		"Type":      typ,
		"RequestID": rid,
	})
}

func problemType(t string) string {
	if t == "about:blank" {
		return t
	}
	return "https://amtsform.dev/problems/" + t
}

// problemErrors renders field errors with messages in lang.
func problemErrors(svc *engine.Service, lang string, errs []engine.FieldError) []ProblemError {
	out := make([]ProblemError, len(errs))
	for i, e := range errs {
		out[i] = ProblemError{Path: e.Path, Code: e.Code, Message: messages.For(svc, lang, e), Params: e.Params}
	}
	return out
}

// detailOf returns a client-safe description of a 4xx error.
func detailOf(err error) string {
	var fe *fiber.Error
	if errors.As(err, &fe) {
		return fe.Message
	}
	var de *engine.DocumentError
	if errors.As(err, &de) {
		return de.Error()
	}
	switch {
	case errors.Is(err, record.ErrIdempotencyMismatch):
		return "the Idempotency-Key was used before with a different request"
	case errors.Is(err, intake.ErrInvalid):
		return "the document is invalid"
	}
	return ""
}

var titles = map[int][2]string{
	400: {"Die Anfrage ist fehlerhaft", "Bad request"},
	403: {"Zugriff verweigert", "Forbidden"},
	404: {"Seite nicht gefunden", "Not found"},
	405: {"Methode nicht erlaubt", "Method not allowed"},
	409: {"Konflikt", "Conflict"},
	410: {"Nicht mehr verfügbar", "Gone"},
	413: {"Zu groß", "Too large"},
	415: {"Dateityp nicht erlaubt", "Unsupported media type"},
	422: {"Angaben unvollständig oder fehlerhaft", "Unprocessable content"},
	429: {"Zu viele Anfragen", "Too many requests"},
	500: {"Ein Fehler ist aufgetreten", "Internal error"},
	503: {"Vorübergehend nicht verfügbar", "Service unavailable"},
}

func titleOf(status int, lang string) string {
	t, ok := titles[status]
	if !ok {
		t = titles[500]
		if status < 500 {
			t = titles[400]
		}
	}
	if lang == "en" {
		return t[1]
	}
	return t[0]
}

// langOf picks the language: ?lang=, then the lang cookie, then the
// Accept-Language header, then German.
func langOf(c *fiber.Ctx) string {
	for _, l := range []string{c.Query("lang"), c.Cookies("lang")} {
		if l == "de" || l == "en" {
			return l
		}
	}
	if l := c.AcceptsLanguages("de", "en"); l != "" {
		return l
	}
	return "de"
}
