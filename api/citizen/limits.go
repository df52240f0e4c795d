package citizen

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/api/httpx"
	"github.com/amtsform/amtsform/api/render"
	"github.com/amtsform/amtsform/engine"
)

// Form posts are held to the limits of the JSON API's documents
// (engine.DefaultLimits, read by engine.ParseDocument): the same text
// length, members, list length and total size, whichever way a page is
// saved. A post beyond them is refused with a 413 page naming the field,
// before anything is decoded or stored.

// limitError is a posted value beyond the document limits.
type limitError struct {
	path string // the posted name or document path; "" for the post as a whole
	text bool   // a text too long (else: too many or too large values)
}

func (e *limitError) Error() string {
	return "form post beyond the document limits"
}

func (e *limitError) Unwrap() error { return engine.ErrTooLarge }

// checkPosted applies the limits to the raw post: the length of every
// value, the number of values under one name and the total size.
func checkPosted(form *postedForm, lim engine.Limits) error {
	var total int64
	for name, vs := range form.values {
		if len(vs) > lim.MaxItems {
			return &limitError{path: name}
		}
		for _, v := range vs {
			if len(v) > lim.MaxString {
				return &limitError{path: name, text: true}
			}
			total += int64(len(name) + len(v))
		}
	}
	if total > lim.MaxBytes {
		return &limitError{}
	}
	return nil
}

// checkDocument applies the limits to the decoded page exactly as the
// JSON API does: the values are read back by engine.ParseDocument.
func checkDocument(values map[string]any, lim engine.Limits) error {
	data, err := json.Marshal(values)
	if err != nil {
		return err
	}
	_, err = engine.ParseDocument(bytes.NewReader(data), lim)
	var de *engine.DocumentError
	if errors.As(err, &de) && errors.Is(err, engine.ErrTooLarge) {
		return &limitError{path: de.Path, text: strings.HasPrefix(de.Reason, "text ")}
	}
	return err
}

// MarshalJSON stands in for an upload not stored yet in checkDocument.
func (p *pendingFile) MarshalJSON() ([]byte, error) { return []byte(`"upload"`), nil }

// tooLarge renders the 413 page for a post beyond the limits.
func (s *server) tooLarge(c *fiber.Ctx, page *engine.Page, back string, le *limitError) error {
	lang := httpx.Lang(c)
	msg := render.Tr(lang, "Das Formular enthielt zu viele oder zu lange Angaben.", "The form contained too many or too long values.")
	if label := labelOf(page, le.path, lang); label != "" {
		if le.text {
			msg = render.Tr(lang, "Die Angabe „"+label+"“ ist zu lang. Bitte kürzen Sie sie.", "The answer to “"+label+"” is too long. Please shorten it.")
		} else {
			msg = render.Tr(lang, "Die Angaben zu „"+label+"“ sind zu umfangreich.", "The answers to “"+label+"” are too many or too large.")
		}
	}
	msg += render.Tr(lang, " Es wurde nichts gespeichert.", " Nothing was saved.")
	return s.message(c, fiber.StatusRequestEntityTooLarge, httpx.TitleOf(fiber.StatusRequestEntityTooLarge, lang),
		msg, back, render.Tr(lang, "Zurück zur Seite", "Back to the page"))
}

var indexRE = regexp.MustCompile(`\[\d+\]`)

// labelOf finds the label of the field at an instance path (children[0].name)
// among the fields of page; "" if there is none.
func labelOf(page *engine.Page, path, lang string) string {
	if page == nil || path == "" {
		return ""
	}
	segs := strings.Split(indexRE.ReplaceAllString(path, ""), ".")
	fields := page.Fields
	var label string
	for i, seg := range segs {
		var found *engine.Field
		for _, f := range fields {
			name := f.Name
			if i == 0 {
				name = f.Path
			}
			if name == seg {
				found = f
				break
			}
		}
		if found == nil {
			break
		}
		if l := found.Label.In(lang); l != "" {
			label = l
		}
		fields = found.Fields
	}
	return label
}
