package httpx

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/catalog"
	"github.com/amtsform/amtsform/engine/intake"
	"github.com/amtsform/amtsform/engine/messages"
	"github.com/amtsform/amtsform/engine/record"
)

// MIMEProblemJSON is the media type of problem documents.
const MIMEProblemJSON = "application/problem+json"

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

// StatusOf maps an error to an HTTP status and a stable problem type.
func StatusOf(err error) (int, string) {
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

// ProblemType turns a short problem type from StatusOf into its URI.
func ProblemType(t string) string {
	if t == "about:blank" {
		return t
	}
	return "https://amtsform.dev/problems/" + t
}

// ProblemErrors renders field errors with messages in lang; check rules
// bring their own texts from svc (nil: the engine's texts only).
func ProblemErrors(svc *engine.Service, lang string, errs []engine.FieldError) []ProblemError {
	out := make([]ProblemError, len(errs))
	for i, e := range errs {
		out[i] = ProblemError{Path: e.Path, Code: e.Code, Message: messages.For(svc, lang, e), Params: e.Params}
	}
	return out
}

// DetailOf returns a client-safe description of a 4xx error.
func DetailOf(err error) string {
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

// TitleOf is the title of a status in lang ("de" or "en"); statuses
// without a title of their own get the one of 400 or 500.
func TitleOf(status int, lang string) string {
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
