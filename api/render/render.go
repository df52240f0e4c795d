// Package render writes documents for people: a document's answers page
// by page, with labels and formatted values, as the "check your answers"
// page and the PDF receipt show them, and the formatting rules these
// share with the citizen pages: dates, money, numbers, yes/no, office
// names, German or English texts, the HTML ids of fields. It knows
// neither HTTP nor templates.
package render

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // times are German local time on any host

	"github.com/amtsform/amtsform/engine"
)

// Section is one page of answers, as the "check your answers" page
// and the PDF receipt show them.
type Section struct {
	PageID string
	Title  string
	Rows   []Row
}

// Row is one answer, or a heading (a group or an entry of a
// repeating group) when Heading is set.
type Row struct {
	Label   string
	Value   string
	Depth   int
	Heading bool
	// Anchor is the id of the field's input on its page (for change links).
	Anchor string
	// Computed values are shown, never changed.
	Computed bool
}

// Answers walks the form model against data and lists every answer with
// its label, page by page. Absent optional answers (and hidden fields,
// which the server dropped) are left out; computed values are included.
// files maps attachment ids to file names.
func Answers(svc *engine.Service, data map[string]any, computed map[string]any, files map[string]string, lang string) []Section {
	var out []Section
	for _, p := range svc.Form.Pages {
		sec := Section{PageID: p.ID, Title: p.Title.In(lang)}
		for _, f := range p.Fields {
			v, ok := Lookup(data, f.Path)
			if !ok && f.Computed {
				v, ok = computed[f.Path]
			}
			if !ok {
				continue
			}
			sec.Rows = appendAnswer(sec.Rows, f, v, f.Path, 0, files, lang)
		}
		if len(sec.Rows) > 0 {
			out = append(out, sec)
		}
	}
	return out
}

// DropRepeatedHeading leaves out a section's first group heading when it
// says what the section title says (a page "Halterin oder Halter" whose
// first field is the group "Halterin oder Halter"); the group's rows move
// up one level. The citizen's review page and the back office's case
// page show sections so; the PDF receipt keeps every heading.
func DropRepeatedHeading(title string, rows []Row) []Row {
	if len(rows) == 0 || !rows[0].Heading || rows[0].Depth != 0 || !strings.EqualFold(strings.TrimSpace(rows[0].Label), strings.TrimSpace(title)) {
		return rows
	}
	out := make([]Row, 0, len(rows)-1)
	i := 1
	for ; i < len(rows) && rows[i].Depth > 0; i++ {
		r := rows[i]
		r.Depth--
		out = append(out, r)
	}
	return append(out, rows[i:]...)
}

func appendAnswer(rows []Row, f *engine.Field, v any, path string, depth int, files map[string]string, lang string) []Row {
	switch f.Widget {
	case "group":
		m, _ := v.(map[string]any)
		rows = append(rows, Row{Label: f.Label.In(lang), Depth: depth, Heading: true, Anchor: FieldID(path)})
		for _, c := range f.Fields {
			if x, ok := m[c.Name]; ok {
				rows = appendAnswer(rows, c, x, path+"."+c.Name, depth+1, files, lang)
			}
		}
		return rows
	case "repeat":
		l, _ := v.([]any)
		rows = append(rows, Row{Label: f.Label.In(lang), Depth: depth, Heading: true, Anchor: FieldID(path)})
		item := f.Label.In(lang)
		if f.Repeat != nil {
			item = f.Repeat.Item.In(lang)
		}
		for i, e := range l {
			ip := fmt.Sprintf("%s[%d]", path, i)
			rows = append(rows, Row{Label: fmt.Sprintf("%s %d", item, i+1), Depth: depth + 1, Heading: true, Anchor: FieldID(ip)})
			if m, ok := e.(map[string]any); ok {
				for _, c := range f.Fields {
					if x, ok := m[c.Name]; ok {
						rows = appendAnswer(rows, c, x, ip+"."+c.Name, depth+2, files, lang)
					}
				}
			} else if len(f.Fields) == 1 {
				rows = appendAnswer(rows, f.Fields[0], e, ip, depth+2, files, lang)
			}
		}
		return rows
	}
	return append(rows, Row{Label: f.Label.In(lang), Value: FormatValue(f, v, files, lang), Depth: depth, Anchor: FieldID(path), Computed: f.Computed})
}

// FormatValue renders one answer for people: option labels for
// enumerations, euros for money, dates in the language's order, yes/no.
func FormatValue(f *engine.Field, v any, files map[string]string, lang string) string {
	if v == nil {
		return ""
	}
	if l, ok := v.([]any); ok && f.Widget == "checkboxes" {
		// A multiple choice: the chosen options' labels, in the order
		// the service lists them.
		chosen := map[string]bool{}
		for _, x := range l {
			chosen[fmt.Sprint(x)] = true
		}
		var labels []string
		for _, o := range f.Options {
			if chosen[fmt.Sprint(o.Value)] {
				labels = append(labels, o.Label.In(lang))
			}
		}
		return strings.Join(labels, ", ")
	}
	for _, o := range f.Options {
		if fmt.Sprint(o.Value) == fmt.Sprint(v) {
			return o.Label.In(lang)
		}
	}
	switch {
	case isMoney(f):
		if c, ok := Int64(v); ok {
			return FormatMoney(c, lang)
		}
	case f.Widget == "file":
		if s, ok := v.(string); ok {
			if n := files[s]; n != "" {
				return n
			}
		}
	}
	switch x := v.(type) {
	case bool:
		if x {
			return Tr(lang, "Ja", "Yes")
		}
		return Tr(lang, "Nein", "No")
	case string:
		if f.Format == "date" {
			return FormatDate(x, lang)
		}
		return x
	case float64:
		s := strconv.FormatFloat(x, 'f', -1, 64)
		if lang != "en" {
			s = strings.Replace(s, ".", ",", 1)
		}
		return s + unitSuffix(f)
	case int64, int, int32:
		return fmt.Sprint(x) + unitSuffix(f)
	}
	return fmt.Sprint(v)
}

// isMoney reports whether a field holds cents shown as euros.
func isMoney(f *engine.Field) bool {
	return f.Widget == "money"
}

func unitSuffix(f *engine.Field) string {
	if f.Unit != "" && !isMoney(f) {
		return " " + f.Unit
	}
	return ""
}

// Int64 reads a whole number from a document value (int64, int, int32
// or an integral float64).
func Int64(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x), true
		}
	}
	return 0, false
}

// FormatMoney renders cents as euros: "1.234,50 €" (de), "€1,234.50" (en).
func FormatMoney(cents int64, lang string) string {
	neg := cents < 0
	if neg {
		cents = -cents
	}
	euros, rest := cents/100, cents%100
	digits := strconv.FormatInt(euros, 10)
	sep, dec := ".", ","
	if lang == "en" {
		sep, dec = ",", "."
	}
	var b strings.Builder
	for i, r := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(r)
	}
	s := fmt.Sprintf("%s%s%02d", b.String(), dec, rest)
	if neg {
		s = "-" + s
	}
	if lang == "en" {
		return "€" + s
	}
	return s + " €"
}

// MoneyInput renders cents the way the money input shows them: "12,50"
// (de) or "12.50" (en), no thousands separators.
func MoneyInput(cents int64, lang string) string {
	neg := ""
	if cents < 0 {
		neg, cents = "-", -cents
	}
	dec := ","
	if lang == "en" {
		dec = "."
	}
	return fmt.Sprintf("%s%d%s%02d", neg, cents/100, dec, cents%100)
}

// FormatDate renders an ISO date as 01.03.2026 (de) or 1 March 2026 (en).
func FormatDate(s, lang string) string {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return s
	}
	if lang == "en" {
		return t.Format("2 January 2006")
	}
	return t.Format("02.01.2006")
}

// Tr returns de, or en when lang is "en".
func Tr(lang, de, en string) string {
	if lang == "en" {
		return en
	}
	return de
}

// FieldID turns a data path into an HTML id: children[1].name →
// f-children-1-name.
func FieldID(path string) string {
	var b strings.Builder
	b.WriteString("f-")
	for _, r := range path {
		switch {
		case r == '.' || r == '[':
			b.WriteByte('-')
		case r == ']':
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Lookup finds a dotted path (no indexes) in a document.
func Lookup(data map[string]any, path string) (any, bool) {
	m := data
	for {
		i := strings.IndexByte(path, '.')
		if i < 0 {
			v, ok := m[path]
			return v, ok
		}
		next, ok := m[path[:i]].(map[string]any)
		if !ok {
			return nil, false
		}
		m, path = next, path[i+1:]
	}
}

// Berlin is the time zone in which times are shown to people.
var Berlin = func() *time.Location {
	l, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		return time.UTC
	}
	return l
}()

// Office renders what citizens see of an office: its name from the
// directory and its address and contact lines; without a directory entry
// the id in a readable form ("jugendamt-frankfurt" → "Jugendamt
// Frankfurt") and no lines.
func Office(o *engine.Office, id, lang string) (name string, lines []string) {
	if o == nil {
		return OfficeName(id), nil
	}
	name = o.Name.In(lang)
	if a := o.Address; a != nil {
		lines = append(lines, strings.TrimSpace(a.Street+" "+a.HouseNumber), strings.TrimSpace(a.PostalCode+" "+a.City))
	}
	if o.Email != "" {
		lines = append(lines, Tr(lang, "E-Mail: ", "Email: ")+o.Email)
	}
	if o.Phone != "" {
		lines = append(lines, Tr(lang, "Telefon: ", "Phone: ")+o.Phone)
	}
	if o.Hours != nil {
		lines = append(lines, Tr(lang, "Öffnungszeiten: ", "Opening hours: ")+o.Hours.In(lang))
	}
	return name, lines
}

// OfficeName renders an office id for people when the directory does not
// know it: "jugendamt-frankfurt" → "Jugendamt Frankfurt".
func OfficeName(id string) string {
	if id == "" {
		return "—"
	}
	parts := strings.Split(id, "-")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, " ")
}
