package messages

import (
	"testing"

	"github.com/amtsform/amtsform/engine"
)

// TestTextCodesHaveMessages: the codes for control characters and bad
// encoding have their own sentences, not the generic fallback.
func TestTextCodesHaveMessages(t *testing.T) {
	fallback := map[string]string{"de": "Der Wert ist ungültig.", "en": "The value is not valid."}
	for _, code := range []string{engine.CodeControl, engine.CodeEncoding} {
		for _, lang := range []string{"de", "en"} {
			got := For(nil, lang, engine.FieldError{Path: "name", Code: code})
			if got == "" || got == fallback[lang] {
				t.Errorf("%s in %s: %q", code, lang, got)
			}
		}
	}
	if For(nil, "de", engine.FieldError{Code: engine.CodeControl}) == For(nil, "en", engine.FieldError{Code: engine.CodeControl}) {
		t.Error("German and English messages are the same")
	}
}
