// Package messages turns the engine's stable error codes into sentences
// for people, in German and English. The engine itself carries no text.
package messages

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/amtsform/amtsform/engine"
)

// catalogue maps a code to its message in each language. Placeholders
// {min}, {max}, {values}… are taken from the error's params.
var catalogue = map[string][2]string{
	engine.CodeRequired:       {"Bitte füllen Sie dieses Feld aus.", "Please fill in this field."},
	engine.CodeType:           {"Bitte geben Sie einen gültigen Wert ein.", "Please enter a valid value."},
	engine.CodeMin:            {"Der Wert muss mindestens {min} sein.", "The value must be at least {min}."},
	engine.CodeMax:            {"Der Wert darf höchstens {max} sein.", "The value must be at most {max}."},
	engine.CodeMinLength:      {"Bitte geben Sie mindestens {min} Zeichen ein.", "Please enter at least {min} characters."},
	engine.CodeMaxLength:      {"Bitte geben Sie höchstens {max} Zeichen ein.", "Please enter at most {max} characters."},
	engine.CodePattern:        {"Das Format ist ungültig.", "The format is not valid."},
	engine.CodeEnum:           {"Bitte wählen Sie eine der angebotenen Möglichkeiten.", "Please choose one of the options."},
	engine.CodeMinItems:       {"Bitte machen Sie mindestens {min} Angaben.", "Please add at least {min} entries."},
	engine.CodeMaxItems:       {"Bitte machen Sie höchstens {max} Angaben.", "Please add at most {max} entries."},
	engine.CodeUnknownField:   {"Dieses Feld gehört nicht zum Antrag.", "This field is not part of the application."},
	engine.CodeIBAN:           {"Die IBAN ist ungültig. Bitte prüfen Sie Ihre Eingabe.", "The IBAN is not valid. Please check it."},
	engine.CodeDate:           {"Bitte geben Sie ein gültiges Datum ein (TT.MM.JJJJ), zum Beispiel 27.03.2019.", "Please enter a real date (DD.MM.YYYY), for example 27.03.2019."},
	engine.CodeNotEqual:       {"Dieser Wert ist nicht zulässig.", "This value is not allowed."},
	engine.CodeAttachment:     {"Bitte laden Sie die Datei für diesen Antrag hoch.", "Please upload the file for this application."},
	engine.CodeControl:        {"Der Text enthält unzulässige oder unsichtbare Steuerzeichen, etwa aus kopiertem Text. Bitte geben Sie ihn erneut ein.", "The text contains control or invisible formatting characters that are not allowed, for example from copied text. Please type it again."},
	engine.CodeUniqueItems:    {"Bitte wählen Sie jede Möglichkeit nur einmal.", "Please choose each option only once."},
	engine.CodeAttachmentType: {"Bitte laden Sie eine Datei im Format {accept} hoch.", "Please upload a file in the format {accept}."},
	engine.CodeAttachmentSize: {"Die Datei ist zu groß: Sie darf höchstens {maxBytes} groß sein.", "The file is too large: it must be at most {maxBytes}."},
	engine.CodeEncoding:       {"Der Text enthält ungültige Zeichen. Bitte geben Sie ihn erneut ein.", "The text contains characters that are not valid. Please enter it again."},
}

// special are messages for particular cases of a code, chosen by
// variant: the singular of a count of 1, a consent not given, a shipped
// group's own sentence (by the name its errors carry).
var special = map[string][2]string{
	engine.CodeMinLength + ".1":  {"Bitte füllen Sie dieses Feld aus.", "Please fill in this field."},
	engine.CodeMaxLength + ".1":  {"Bitte geben Sie höchstens ein Zeichen ein.", "Please enter at most 1 character."},
	engine.CodeMinItems + ".1":   {"Bitte machen Sie mindestens eine Angabe.", "Please add at least 1 entry."},
	engine.CodeMaxItems + ".1":   {"Bitte machen Sie höchstens eine Angabe.", "Please add at most 1 entry."},
	engine.CodeEnum + ".consent": {"Bitte bestätigen Sie dies, um fortzufahren.", "Please confirm this to continue."},
	"pattern.postalCode":         {"Bitte geben Sie eine fünfstellige Postleitzahl ein, zum Beispiel 65719.", "Please enter a five-digit postal code, for example 65719."},
	"pattern.email":              {"Bitte geben Sie eine E-Mail-Adresse in der Form name@beispiel.de ein.", "Please enter an email address like name@example.com."},
	"maxLength.email":            {"Eine E-Mail-Adresse hat höchstens {max} Zeichen.", "An email address has at most {max} characters."},
	"pattern.phone":              {"Bitte geben Sie eine Telefonnummer ein, zum Beispiel 06192 201-0 oder +49 6192 2010.", "Please enter a telephone number, for example +49 6192 2010."},
	"pattern.iban":               {"Bitte geben Sie die IBAN ohne Leerzeichen ein, zum Beispiel DE89370400440532013000.", "Please enter the IBAN without spaces, for example DE89370400440532013000."},
}

// variant names the special message for e, or "".
func variant(e engine.FieldError) string {
	if name, ok := e.Params["name"].(string); ok {
		if _, ok := special[e.Code+"."+name]; ok {
			return e.Code + "." + name
		}
	}
	switch e.Code {
	case engine.CodeMinLength, engine.CodeMinItems:
		if fmt.Sprint(e.Params["min"]) == "1" {
			return e.Code + ".1"
		}
	case engine.CodeMaxLength, engine.CodeMaxItems:
		if fmt.Sprint(e.Params["max"]) == "1" {
			return e.Code + ".1"
		}
	case engine.CodeEnum:
		if vals, ok := e.Params["values"].([]any); ok && len(vals) == 1 && vals[0] == true {
			return e.Code + ".consent"
		}
	}
	return ""
}

// For returns the message for e in lang ("de" or "en"; anything else is
// German). Check rules bring their own messages from the service, and a
// field's own messages (ui messages) come before the catalogue's.
func For(s *engine.Service, lang string, e engine.FieldError) string {
	if s != nil {
		if t, ok := s.CheckMessage(e.Code); ok {
			return t.In(lang)
		}
		if t, ok := s.FieldMessage(e.Path, e.Code); ok {
			return fill(t.In(lang), lang, e.Params)
		}
	}
	m, ok := special[variant(e)]
	if !ok {
		m, ok = catalogue[e.Code]
	}
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
	return fill(msg, lang, e.Params)
}

// fill replaces the placeholders of msg by the error's params.
func fill(msg, lang string, params map[string]any) string {
	for k, v := range params {
		ph := "{" + k + "}"
		if !strings.Contains(msg, ph) {
			continue
		}
		var text string
		switch k {
		case "accept":
			text = typeNames(v, lang)
		case "maxBytes":
			n, _ := v.(int64)
			text = Size(n, lang)
		default:
			text = format(v)
		}
		msg = strings.ReplaceAll(msg, ph, text)
	}
	return msg
}

// fileTypes name the content types people know by name.
var fileTypes = map[string]string{"application/pdf": "PDF", "image/png": "PNG", "image/jpeg": "JPEG"}

// typeNames names content types ("PDF oder JPEG").
func typeNames(v any, lang string) string {
	var names []string
	switch x := v.(type) {
	case []any:
		for _, t := range x {
			names = append(names, typeName(fmt.Sprint(t)))
		}
	case []string:
		for _, t := range x {
			names = append(names, typeName(t))
		}
	}
	or := " oder "
	if lang == "en" {
		or = " or "
	}
	if len(names) <= 1 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + or + names[len(names)-1]
}

func typeName(t string) string {
	if n, ok := fileTypes[t]; ok {
		return n
	}
	return t
}

// Size renders a number of bytes for people, in the units the limits of
// forms use (1 MB = 1,000,000 bytes), to one decimal in the language's
// notation: "5 MB", "1,5 MB", "200 kB", "40 B".
func Size(n int64, lang string) string {
	if n < 1000 {
		return strconv.FormatInt(n, 10) + " B"
	}
	unit, div := "kB", 1000.0
	if n >= 999_950 { // would round to "1000 kB"
		unit, div = "MB", 1_000_000
	}
	s := strconv.FormatFloat(float64(n)/div, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	if lang != "en" {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s + " " + unit
}

// FileHint describes what an attachment field takes, for its hint:
// "JPEG, höchstens 5 MB". It is "" for a field without rules of its own.
func FileHint(f *engine.Field, lang string) string {
	if len(f.Accept) == 0 && f.MaxBytes == 0 {
		return ""
	}
	var parts []string
	if len(f.Accept) > 0 {
		parts = append(parts, typeNames(f.Accept, lang))
	}
	if f.MaxBytes > 0 {
		if lang == "en" {
			parts = append(parts, "at most "+Size(f.MaxBytes, lang))
		} else {
			parts = append(parts, "höchstens "+Size(f.MaxBytes, lang))
		}
	}
	return strings.Join(parts, ", ")
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
