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

// TestSpecialMessages: counts of one are singular, a consent not given
// and the shipped groups have sentences of their own, files name what
// the field takes.
func TestSpecialMessages(t *testing.T) {
	tests := []struct {
		e      engine.FieldError
		de, en string
	}{
		{engine.FieldError{Code: engine.CodeMinLength, Params: map[string]any{"min": 1}}, "Bitte füllen Sie dieses Feld aus.", "Please fill in this field."},
		{engine.FieldError{Code: engine.CodeMinLength, Params: map[string]any{"min": 3}}, "Bitte geben Sie mindestens 3 Zeichen ein.", "Please enter at least 3 characters."},
		{engine.FieldError{Code: engine.CodeMinItems, Params: map[string]any{"min": 1}}, "Bitte machen Sie mindestens eine Angabe.", "Please add at least 1 entry."},
		{engine.FieldError{Code: engine.CodeEnum, Params: map[string]any{"values": []any{true}}}, "Bitte bestätigen Sie dies, um fortzufahren.", "Please confirm this to continue."},
		{engine.FieldError{Code: engine.CodeEnum, Params: map[string]any{"values": []any{"a", "b"}}}, "Bitte wählen Sie eine der angebotenen Möglichkeiten.", "Please choose one of the options."},
		{engine.FieldError{Code: engine.CodePattern, Params: map[string]any{"name": "postalCode"}}, "Bitte geben Sie eine fünfstellige Postleitzahl ein, zum Beispiel 65719.", "Please enter a five-digit postal code, for example 65719."},
		{engine.FieldError{Code: engine.CodePattern, Params: map[string]any{"name": "unknown"}}, "Das Format ist ungültig.", "The format is not valid."},
		{engine.FieldError{Code: engine.CodeDate}, "Bitte geben Sie ein gültiges Datum ein (TT.MM.JJJJ), zum Beispiel 27.03.2019.", "Please enter a real date (DD.MM.YYYY), for example 27.03.2019."},
		{engine.FieldError{Code: engine.CodeAttachmentType, Params: map[string]any{"accept": []any{"application/pdf", "image/png", "image/jpeg"}}}, "Bitte laden Sie eine Datei im Format PDF, PNG oder JPEG hoch.", "Please upload a file in the format PDF, PNG or JPEG."},
		{engine.FieldError{Code: engine.CodeAttachmentSize, Params: map[string]any{"maxBytes": int64(5_000_000)}}, "Die Datei ist zu groß: Sie darf höchstens 5 MB groß sein.", "The file is too large: it must be at most 5 MB."},
	}
	for _, tt := range tests {
		if got := For(nil, "de", tt.e); got != tt.de {
			t.Errorf("%s %v (de): %q, want %q", tt.e.Code, tt.e.Params, got, tt.de)
		}
		if got := For(nil, "en", tt.e); got != tt.en {
			t.Errorf("%s %v (en): %q, want %q", tt.e.Code, tt.e.Params, got, tt.en)
		}
	}
	f := &engine.Field{Accept: []string{"image/jpeg"}, MaxBytes: 1_500_000}
	if got := FileHint(f, "de"); got != "JPEG, höchstens 1,5 MB" {
		t.Errorf("FileHint de: %q", got)
	}
	if got := FileHint(f, "en"); got != "JPEG, at most 1.5 MB" {
		t.Errorf("FileHint en: %q", got)
	}
}

func TestSize(t *testing.T) {
	for _, tc := range []struct {
		n      int64
		de, en string
	}{
		{0, "0 B", "0 B"},
		{40, "40 B", "40 B"},
		{999, "999 B", "999 B"},
		{1000, "1 kB", "1 kB"},
		{1049, "1 kB", "1 kB"},
		{1050, "1,1 kB", "1.1 kB"},
		{200_000, "200 kB", "200 kB"},
		{999_949, "999,9 kB", "999.9 kB"},
		{999_950, "1 MB", "1 MB"},
		{1_500_000, "1,5 MB", "1.5 MB"},
		{5_000_000, "5 MB", "5 MB"},
		{20_971_520, "21 MB", "21 MB"},
	} {
		if got := Size(tc.n, "de"); got != tc.de {
			t.Errorf("Size(%d, de) = %q, want %q", tc.n, got, tc.de)
		}
		if got := Size(tc.n, "en"); got != tc.en {
			t.Errorf("Size(%d, en) = %q, want %q", tc.n, got, tc.en)
		}
	}
}
