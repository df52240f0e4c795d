package citizen

import (
	"fmt"
	"mime/multipart"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/amtsform/amtsform/api/render"
	"github.com/amtsform/amtsform/engine"
)

// Control fields of the citizen forms. Data paths start with a letter and
// never contain ':', so none of these can be a field of a service, except
// "action", which is therefore reserved.
const (
	csrfField   = "_csrf"
	actionField = "action"
	returnField = "_return"
	countPrefix = "_n:" // _n:children = number of entries rendered
)

// maxEntries bounds the entries of a repeating group a post may create.
const maxEntries = 200

// postedForm is a decoded form body: text values and uploaded files by name.
type postedForm struct {
	values map[string][]string
	files  map[string][]*multipart.FileHeader
}

func (p *postedForm) get(name string) (string, bool) {
	v, ok := p.values[name]
	if !ok || len(v) == 0 {
		return "", ok
	}
	return v[0], true
}

// pendingFile stands for an upload until it is stored.
type pendingFile struct {
	path   string
	header *multipart.FileHeader
	old    any
}

// formAction is what the citizen asked for with the pressed button.
type formAction struct {
	kind  string // "continue", "save", "add", "remove", "clear"
	path  string // instance path of the repeating group or file field
	index int
}

func parseAction(s string) (formAction, error) {
	switch {
	case s == "" || s == "continue":
		return formAction{kind: "continue"}, nil
	case s == "save":
		return formAction{kind: "save"}, nil
	case strings.HasPrefix(s, "add:"):
		return formAction{kind: "add", path: s[4:]}, nil
	case strings.HasPrefix(s, "clear:"):
		return formAction{kind: "clear", path: s[6:]}, nil
	case strings.HasPrefix(s, "remove:"):
		rest := s[7:]
		i := strings.LastIndexByte(rest, ':')
		if i < 0 {
			break
		}
		n, err := strconv.Atoi(rest[i+1:])
		if err != nil || n < 0 {
			break
		}
		return formAction{kind: "remove", path: rest[:i], index: n}, nil
	}
	return formAction{}, fmt.Errorf("unknown action %q", s)
}

// formDecoder turns a posted page into the values SavePage takes.
// HTML form values are strings; each is converted by the field's kind and
// widget. A value that cannot be converted is kept as typed (a string),
// so the engine reports a type error and nothing typed is lost.
type formDecoder struct {
	form   *postedForm
	hidden map[string]bool // instance paths hidden when the page was rendered
	action formAction
	used   map[string]bool
	// rejected lists posted names that are not inputs of the page as it
	// was rendered: hidden, computed, unknown or another page's fields.
	rejected []string
	pending  []*pendingFile
	actOK    bool // the action named an existing group or field
}

func newFormDecoder(form *postedForm, hidden map[string]bool, act formAction) *formDecoder {
	return &formDecoder{form: form, hidden: hidden, action: act, used: map[string]bool{}}
}

// page decodes the fields of p. old is the draft's data.
func (d *formDecoder) page(p *engine.Page, old map[string]any) map[string]any {
	values := map[string]any{}
	for _, f := range p.Fields {
		if d.hidden[f.Path] {
			continue
		}
		ov, _ := render.Lookup(old, f.Path)
		if v, ok := d.field(f, f.Path, ov); ok {
			values[f.Path] = v
		}
	}
	// Everything posted must have been an input of the page.
	for name := range d.form.values {
		if d.used[name] || name == csrfField || name == actionField || name == returnField {
			continue
		}
		if strings.HasPrefix(name, countPrefix) && d.used[name] {
			continue
		}
		d.rejected = append(d.rejected, name)
	}
	for name := range d.form.files {
		if !d.used[name] {
			d.rejected = append(d.rejected, name)
		}
	}
	if d.action.kind != "continue" && d.action.kind != "save" && !d.actOK {
		d.rejected = append(d.rejected, actionField)
	}
	return values
}

func (d *formDecoder) field(f *engine.Field, name string, old any) (any, bool) {
	if f.Computed {
		return nil, false // never an input; a posted value is rejected as unknown
	}
	switch f.Widget {
	case "group":
		m := d.members(f.Fields, name, old)
		if len(m) == 0 && !d.postedUnder(name+".") {
			return nil, false
		}
		return m, true
	case "repeat":
		return d.repeat(f, name, old)
	case "file":
		return d.file(f, name, old)
	case "checkboxes":
		return d.checkboxes(f, name)
	}
	raw, ok := d.form.get(name)
	if ok {
		d.used[name] = true
	}
	raw = strings.TrimSpace(raw)
	if raw == "" {
		// An unticked checkbox sends nothing: for a yes/no field that
		// means no. A consent (Const true) stays unanswered, so that it
		// is reported as required.
		if f.Kind == engine.KindBool && f.Widget == "checkbox" && f.Const == nil && len(f.Options) == 0 {
			return false, true
		}
		return nil, false
	}
	return convert(f, raw), true
}

// members decodes the visible members of a group or of one entry of a
// repeating group posted under prefix; old is its stored value.
func (d *formDecoder) members(fields []*engine.Field, prefix string, old any) map[string]any {
	om, _ := old.(map[string]any)
	m := map[string]any{}
	for _, c := range fields {
		name := prefix + "." + c.Name
		if d.hidden[name] {
			continue
		}
		if v, ok := d.field(c, name, om[c.Name]); ok {
			m[c.Name] = v
		}
	}
	return m
}

func (d *formDecoder) postedUnder(prefix string) bool {
	for k := range d.form.values {
		if strings.HasPrefix(k, prefix) && d.used[k] {
			return true
		}
	}
	return false
}

func (d *formDecoder) repeat(f *engine.Field, name string, old any) (any, bool) {
	cn := countPrefix + name
	n := 0
	countRaw, counted := d.form.get(cn)
	if counted {
		d.used[cn] = true
		x, err := strconv.Atoi(countRaw)
		if err != nil || x < 0 || x > maxEntries {
			d.rejected = append(d.rejected, cn)
			return nil, false
		}
		n = x
	}
	// Entries whose inputs were posted count even without the counter.
	prefix := name + "["
	for k := range d.form.values {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			if i := strings.IndexByte(rest, ']'); i > 0 {
				if x, err := strconv.Atoi(rest[:i]); err == nil && x >= 0 && x < maxEntries && x+1 > n {
					n = x + 1
				}
			}
		}
	}
	ol, _ := old.([]any)
	list := make([]any, 0, n+1)
	for i := 0; i < n; i++ {
		ip := fmt.Sprintf("%s[%d]", name, i)
		var oe any
		if i < len(ol) {
			oe = ol[i]
		}
		if scalarRepeat(f) {
			if v, ok := d.field(f.Fields[0], ip, oe); ok {
				list = append(list, v)
			} else {
				list = append(list, nil)
			}
			continue
		}
		list = append(list, d.members(f.Fields, ip, oe))
	}
	if d.action.path == name {
		switch d.action.kind {
		case "add":
			d.actOK = true
			if f.Repeat == nil || f.Repeat.Max == 0 || len(list) < f.Repeat.Max {
				if scalarRepeat(f) {
					list = append(list, nil)
				} else {
					list = append(list, map[string]any{})
				}
			}
		case "remove":
			if d.action.index < len(list) {
				d.actOK = true
				list = append(list[:d.action.index], list[d.action.index+1:]...)
			}
		}
	}
	if !counted && n == 0 && !(d.action.kind == "add" && d.action.path == name) {
		return nil, false
	}
	return list, true
}

// checkboxes decodes a multiple choice: the browser posts the field's
// name once per ticked box. Nothing ticked is no answer; a value that is
// no option is kept as sent, for the engine to report.
func (d *formDecoder) checkboxes(f *engine.Field, name string) (any, bool) {
	vals, ok := d.form.values[name]
	if !ok {
		return nil, false
	}
	d.used[name] = true
	var list []any
	for _, raw := range vals {
		if raw = strings.TrimSpace(raw); raw != "" {
			list = append(list, convert(f, raw))
		}
	}
	if len(list) == 0 {
		return nil, false
	}
	return list, true
}

func (d *formDecoder) file(f *engine.Field, name string, old any) (any, bool) {
	if d.action.kind == "clear" && d.action.path == name {
		d.actOK = true
		d.used[name] = true
		return nil, false
	}
	if fhs := d.form.files[name]; len(fhs) > 0 {
		d.used[name] = true
		if fhs[0].Filename != "" && fhs[0].Size > 0 {
			p := &pendingFile{path: name, header: fhs[0], old: old}
			d.pending = append(d.pending, p)
			return p, true
		}
	}
	// A browser posts an empty file part when nothing was chosen; with
	// urlencoded bodies nothing comes at all. The stored file stays.
	if v, ok := d.form.values[name]; ok && len(v) == 1 && v[0] == "" {
		d.used[name] = true
	}
	if old != nil {
		return old, true
	}
	return nil, false
}

// resolvePending replaces upload placeholders in v by what fn returns.
func resolvePending(v any, fn func(*pendingFile) (any, bool)) (any, bool) {
	switch x := v.(type) {
	case *pendingFile:
		return fn(x)
	case map[string]any:
		for k, e := range x {
			if r, ok := resolvePending(e, fn); ok {
				x[k] = r
			} else {
				delete(x, k)
			}
		}
	case []any:
		for i, e := range x {
			x[i], _ = resolvePending(e, fn)
		}
	}
	return v, true
}

// convert turns a posted string into the document value of a field, or
// returns the string itself when it cannot be converted.
func convert(f *engine.Field, raw string) any {
	if len(f.Options) > 0 {
		for _, o := range f.Options {
			if fmt.Sprint(o.Value) == raw {
				return o.Value
			}
		}
		return raw
	}
	switch {
	case f.Widget == "money":
		if c, ok := parseMoney(raw); ok {
			return c
		}
		return raw
	case f.Kind == engine.KindBool:
		switch raw {
		case "true", "on":
			return true
		case "false":
			return false
		}
		return raw
	case f.Kind == engine.KindInt:
		s := strings.NewReplacer(" ", "", "\u00a0", "", "\u202f", "").Replace(raw)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n
		}
		return raw
	case f.Kind == engine.KindNumber:
		s := strings.NewReplacer(" ", "", "\u00a0", "", ",", ".").Replace(raw)
		if x, err := strconv.ParseFloat(s, 64); err == nil {
			return x
		}
		return raw
	case f.Format == "date":
		return parseDate(raw)
	case f.Format == "iban":
		return strings.ToUpper(strings.NewReplacer(" ", "", "\u00a0", "").Replace(raw))
	}
	return raw
}

var germanDate = regexp.MustCompile(`^(\d{1,2})\.\s?(\d{1,2})\.\s?(\d{4})$`)

// parseDate accepts ISO dates and the German D.M.YYYY and returns the
// ISO form; anything else is returned as typed.
func parseDate(raw string) string {
	if m := germanDate.FindStringSubmatch(raw); m != nil {
		day, _ := strconv.Atoi(m[1])
		mon, _ := strconv.Atoi(m[2])
		return fmt.Sprintf("%s-%02d-%02d", m[3], mon, day)
	}
	if _, err := time.Parse("2006-01-02", raw); err == nil {
		return raw
	}
	return raw
}

// parseMoney reads an amount in euros as people type it — "12,50",
// "12.50", "1.234,50", "1,234.50", "12", "12,5 €" — and returns cents.
func parseMoney(raw string) (int64, bool) {
	s := strings.NewReplacer(" ", "", "\u00a0", "", "\u202f", "", "€", "", "EUR", "").Replace(raw)
	if s == "" {
		return 0, false
	}
	neg := false
	if s[0] == '-' {
		neg, s = true, s[1:]
	}
	intPart, frac := s, ""
	lastDot, lastComma := strings.LastIndexByte(s, '.'), strings.LastIndexByte(s, ',')
	dec := max(lastDot, lastComma)
	if dec >= 0 {
		sepIsDecimal := true
		if lastDot >= 0 && lastComma >= 0 {
			// both: the last one is the decimal separator
		} else if n := len(s) - dec - 1; n == 3 && strings.Count(s, string(s[dec])) >= 1 && dec > 0 {
			// "1.234" or "1,234": a thousands separator
			sepIsDecimal = false
		}
		if sepIsDecimal {
			intPart, frac = s[:dec], s[dec+1:]
		}
	}
	thousands := strings.NewReplacer(".", "", ",", "")
	if dec >= 0 && strings.ContainsAny(intPart, ".,") {
		// thousands separators must group by three
		groups := strings.FieldsFunc(intPart, func(r rune) bool { return r == '.' || r == ',' })
		for i, g := range groups {
			if i > 0 && len(g) != 3 {
				return 0, false
			}
		}
	}
	intPart = thousands.Replace(intPart)
	if intPart == "" {
		intPart = "0"
	}
	if len(frac) > 2 || !allDigits(intPart) || !allDigits(frac) || len(intPart) > 13 {
		return 0, false
	}
	for len(frac) < 2 {
		frac += "0"
	}
	euros, err := strconv.ParseInt(intPart, 10, 64)
	if err != nil {
		return 0, false
	}
	cents, _ := strconv.ParseInt(frac, 10, 64)
	v := euros*100 + cents
	if neg {
		v = -v
	}
	return v, true
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
