// Package messages turns the engine's stable error codes into sentences
// for people, in German and English. The engine itself carries no text.
package messages

import (
	"fmt"
	"strings"

	"github.com/amtsform/amtsform/engine"
)

// catalogue maps a code to its message in each language. Placeholders
// {min}, {max}, {values}… are taken from the error's params.
var catalogue = map[string][2]string{
	engine.CodeRequired:     {"Bitte füllen Sie dieses Feld aus.", "Please fill in this field."},
	engine.CodeType:         {"Bitte geben Sie einen gültigen Wert ein.", "Please enter a valid value."},
	engine.CodeMin:          {"Der Wert muss mindestens {min} sein.", "The value must be at least {min}."},
	engine.CodeMax:          {"Der Wert darf höchstens {max} sein.", "The value must be at most {max}."},
	engine.CodeMinLength:    {"Bitte geben Sie mindestens {min} Zeichen ein.", "Please enter at least {min} characters."},
	engine.CodeMaxLength:    {"Bitte geben Sie höchstens {max} Zeichen ein.", "Please enter at most {max} characters."},
	engine.CodePattern:      {"Das Format ist ungültig.", "The format is not valid."},
	engine.CodeEnum:         {"Bitte wählen Sie eine der angebotenen Möglichkeiten.", "Please choose one of the options."},
	engine.CodeMinItems:     {"Bitte machen Sie mindestens {min} Angaben.", "Please add at least {min} entries."},
	engine.CodeMaxItems:     {"Bitte machen Sie höchstens {max} Angaben.", "Please add at most {max} entries."},
	engine.CodeUnknownField: {"Dieses Feld gehört nicht zum Antrag.", "This field is not part of the application."},
	engine.CodeIBAN:         {"Die IBAN ist ungültig. Bitte prüfen Sie Ihre Eingabe.", "The IBAN is not valid. Please check it."},
	engine.CodeDate:         {"Bitte geben Sie ein gültiges Datum ein (JJJJ-MM-TT).", "Please enter a valid date (YYYY-MM-DD)."},
	engine.CodeNotEqual:     {"Dieser Wert ist nicht zulässig.", "This value is not allowed."},
	engine.CodeAttachment:   {"Bitte laden Sie die Datei für diesen Antrag hoch.", "Please upload the file for this application."},
	engine.CodeControl:      {"Der Text enthält unzulässige Steuerzeichen. Bitte geben Sie ihn erneut ein.", "The text contains control characters that are not allowed. Please enter it again."},
	engine.CodeEncoding:     {"Der Text enthält ungültige Zeichen. Bitte geben Sie ihn erneut ein.", "The text contains characters that are not valid. Please enter it again."},
}

// For returns the message for e in lang ("de" or "en"; anything else is
// German). Check rules bring their own messages from the service.
func For(s *engine.Service, lang string, e engine.FieldError) string {
	if s != nil {
		if t, ok := s.CheckMessage(e.Code); ok {
			return t.In(lang)
		}
	}
	m, ok := catalogue[e.Code]
	if !ok {
		if lang == "en" {
			return "The value is not valid."
		}
		return "Der Wert ist ungültig."
	}
	msg := m[0]
	if lang == "en" {
		msg = m[1]
	}
	for k, v := range e.Params {
		msg = strings.ReplaceAll(msg, "{"+k+"}", format(v))
	}
	return msg
}

func format(v any) string {
	switch v := v.(type) {
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = format(x)
		}
		return strings.Join(parts, ", ")
	}
	return fmt.Sprint(v)
}

// Codes lists every code the catalogue knows; for tests.
func Codes() []string {
	out := make([]string, 0, len(catalogue))
	for k := range catalogue {
		out = append(out, k)
	}
	return out
}
