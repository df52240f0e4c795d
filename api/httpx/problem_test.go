package httpx

import (
	"fmt"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/engine/catalog"
	"github.com/amtsform/amtsform/engine/intake"
	"github.com/amtsform/amtsform/engine/record"
)

// TestStatusOf: wrapped sentinel errors keep their status and type.
func TestStatusOf(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		typ    string
	}{
		{fiber.ErrTooManyRequests, 429, "about:blank"},
		{fmt.Errorf("x: %w", record.ErrNotFound), 404, "not-found"},
		{record.ErrExpired, 410, "expired"},
		{record.ErrTooLarge, 413, "too-large"},
		{intake.ErrInvalid, 422, "validation"},
		{intake.ErrPageNotReached, 409, "page-not-reached"},
		{catalog.ErrUnavailable, 410, "version-unavailable"},
		{fmt.Errorf("disk on fire"), 500, "internal"},
	} {
		status, typ := StatusOf(tc.err)
		if status != tc.status || typ != tc.typ {
			t.Errorf("%v: %d %s, want %d %s", tc.err, status, typ, tc.status, tc.typ)
		}
	}
	if got := ProblemType("not-found"); got != "https://amtsform.dev/problems/not-found" {
		t.Errorf("problem type %q", got)
	}
	if got := TitleOf(418, "en"); got != "Bad request" {
		t.Errorf("title of 418: %q", got)
	}
}
