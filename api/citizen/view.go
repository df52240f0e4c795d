package citizen

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/amtsform/amtsform/api/render"
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/messages"
)

// fieldView is what one field partial (ui/templates/fields.html) needs.
// It is built from the compiled form model, never from per-service
// templates.
type fieldView struct {
	Lang string
	// Kind selects the partial: text, textarea, number, money, date,
	// email, tel, radio, select, checkbox, group, repeat, file, computed.
	Kind         string
	ID           string // HTML id, derived from the instance path
	Name         string // form name: the data path with indexes
	Label        string
	Hint         string
	HintID       string
	Error        string // the first error message; see Errors for all
	ErrorID      string
	Errors       []errorLine // every error of the field, each shown inline
	Describedby  string
	Value        string
	Checked      bool
	Optional     bool
	InputType    string
	Inputmode    string
	Autocomplete string
	NoSpellcheck bool
	Unit         string
	Prefix       string // shown before the input (e.g. € in English)
	Width        string // CSS width class
	Options      []optionView
	Fields       []*fieldView // members of a group
	Items        []*itemView  // entries of a repeating group
	CanAdd       bool
	AddLabel     string
	Count        int
	FileName     string
	Accept       string
	// Conditional fields (a show rule decides) are wrapped so that the
	// page script can show and hide them (ui/static/app.js); Hidden ones
	// are rendered hidden and disabled, so that nothing of them is posted.
	Conditional bool
	Hidden      bool
	// Heading: the field's legend or label is the page's h1, since it
	// says what the page heading would (Lead is the page hint below it).
	Heading bool
	Lead    string
	wrapped bool
}

// errorLine is one inline error message of a field.
type errorLine struct {
	ID      string
	Message string
}

// partials are the field partials that exist; other widgets render as text.
var partials = map[string]string{}

func init() {
	for _, k := range []string{"text", "textarea", "number", "money", "date", "email", "tel", "radio", "select", "checkbox", "checkboxes", "group", "repeat", "file", "computed"} {
		partials[k] = "f-" + k
	}
}

// Partial names the template of the field's kind (see ui.Partial).
func (f *fieldView) Partial() string {
	if f.Conditional && !f.wrapped {
		return "f-conditional"
	}
	if p, ok := partials[f.Kind]; ok {
		return p
	}
	return "f-text"
}

type optionView struct {
	ID      string
	Value   string
	Label   string
	Checked bool
}

type itemView struct {
	ID        string
	Legend    string
	Path      string // the repeating group's instance path
	Index     int
	Fields    []*fieldView
	CanRemove bool
}

// errorItem is one line of the error summary.
type errorItem struct {
	Href    string
	Message string
}

// formState is what a page is rendered from.
type formState struct {
	svc      *engine.Service
	lang     string
	data     map[string]any
	computed map[string]any
	hidden   map[string]bool
	errs     map[string][]string // instance path → messages
	files    map[string]string   // attachment id → file name
	placed   map[string]bool     // errors shown next to a field
	labels   map[string]string   // instance path → label for the summary
	order    []string            // instance paths in the order rendered
	muted    int                 // > 0 while rendering fields hidden by a rule
}

// pageFields builds the field views of a page.
func (st *formState) pageFields(p *engine.Page) []*fieldView {
	var out []*fieldView
	for _, f := range p.Fields {
		if st.hidden[f.Path] && !f.Conditional {
			continue
		}
		v, ok := render.Lookup(st.data, f.Path)
		out = append(out, st.member(f, f.Path, v, ok, "", f.Label.In(st.lang)))
	}
	return out
}

func (st *formState) field(f *engine.Field, path string, v any, present bool, labelPrefix, summaryLabel string) *fieldView {
	lang := st.lang
	kind := f.Widget
	if f.Computed {
		kind = "computed" // shown, never entered
	}
	fv := &fieldView{
		Lang:         lang,
		Kind:         kind,
		ID:           render.FieldID(path),
		Name:         path,
		Label:        f.Label.In(lang),
		Autocomplete: f.Autocomplete,
		Optional:     !f.Required && !f.RequiredWhen && !f.Computed,
	}
	if st.muted == 0 {
		st.labels[path] = summaryLabel
		st.order = append(st.order, path)
	}
	if f.Hint != nil {
		fv.Hint = f.Hint.In(lang)
	}
	if fv.Optional {
		fv.Hint = trimOptional(fv.Hint)
	}
	if msgs := st.errs[path]; len(msgs) > 0 && st.muted == 0 {
		fv.Error = msgs[0]
		for i, m := range msgs {
			id := fv.ID + "-error"
			if i > 0 {
				id = fmt.Sprintf("%s-error-%d", fv.ID, i+1)
			}
			fv.Errors = append(fv.Errors, errorLine{ID: id, Message: m})
		}
		st.placed[path] = true
	}
	if !present && f.Default != nil && !f.Computed {
		v, present = f.Default, true
	}
	switch fv.Kind {
	case "group":
		m, _ := v.(map[string]any)
		for _, c := range f.Fields {
			cp := path + "." + c.Name
			if st.hidden[cp] && !c.Conditional {
				continue
			}
			x, ok := m[c.Name]
			fv.Fields = append(fv.Fields, st.member(c, cp, x, ok, labelPrefix, joinLabel(labelPrefix, c.Label.In(lang))))
		}
	case "repeat":
		l, _ := v.([]any)
		item := fv.Label
		min, max := 0, 0
		if f.Repeat != nil {
			item, min, max = f.Repeat.Item.In(lang), f.Repeat.Min, f.Repeat.Max
		}
		n := len(l)
		if n < min && !present {
			n = min // an empty form shows the entries needed
		}
		for i := 0; i < n; i++ {
			var e any
			if i < len(l) {
				e = l[i]
			}
			ip := fmt.Sprintf("%s[%d]", path, i)
			legend := fmt.Sprintf("%s %d", item, i+1)
			it := &itemView{ID: render.FieldID(ip), Legend: legend, Path: path, Index: i, CanRemove: n > min || min == 0}
			if !scalarRepeat(f) {
				m, _ := e.(map[string]any)
				for _, c := range f.Fields {
					cp := ip + "." + c.Name
					if st.hidden[cp] && !c.Conditional {
						continue
					}
					x, ok := m[c.Name]
					it.Fields = append(it.Fields, st.member(c, cp, x, ok, legend, joinLabel(legend, c.Label.In(lang))))
				}
			} else if len(f.Fields) == 1 {
				ef := f.Fields[0]
				if ef.Hint != nil && f.Hint != nil && *ef.Hint == *f.Hint {
					c := *ef // the list's hint is said once, above the entries
					c.Hint = nil
					ef = &c
				}
				it.Fields = append(it.Fields, st.field(ef, ip, e, e != nil, legend, legend))
			}
			if st.muted == 0 {
				st.labels[ip] = legend
			}
			fv.Items = append(fv.Items, it)
		}
		fv.Count = n
		fv.CanAdd = max == 0 || n < max
		if lang == "de" {
			fv.AddLabel = item + " hinzufügen"
		} else {
			fv.AddLabel = "Add " + strings.ToLower(item)
		}
	case "computed":
		fv.Optional = false
		if cv, ok := st.computed[path]; ok {
			fv.Value = render.FormatValue(f, cv, nil, lang)
		}
	case "radio", "select":
		cur := ""
		if present && v != nil {
			cur = fmt.Sprint(v)
		}
		for i, o := range f.Options {
			val := fmt.Sprint(o.Value)
			id := fv.ID
			if i > 0 {
				id = fmt.Sprintf("%s-%d", fv.ID, i)
			}
			fv.Options = append(fv.Options, optionView{ID: id, Value: val, Label: o.Label.In(lang), Checked: present && val == cur})
		}
	case "checkbox":
		b, _ := v.(bool)
		fv.Checked = b
	case "checkboxes":
		// A multiple choice: one box per option, ticked for the
		// values in the list.
		ticked := map[string]bool{}
		if l, ok := v.([]any); ok {
			for _, x := range l {
				ticked[fmt.Sprint(x)] = true
			}
		}
		for i, o := range f.Options {
			val := fmt.Sprint(o.Value)
			id := fv.ID
			if i > 0 {
				id = fmt.Sprintf("%s-%d", fv.ID, i)
			}
			fv.Options = append(fv.Options, optionView{ID: id, Value: val, Label: o.Label.In(lang), Checked: ticked[val]})
		}
	case "file":
		if id, ok := v.(string); ok {
			fv.FileName = st.files[id]
			if fv.FileName == "" {
				fv.FileName = render.Tr(lang, "Datei hochgeladen", "File uploaded")
			}
		}
		fv.Accept = ".pdf,.png,.jpg,.jpeg,application/pdf,image/png,image/jpeg"
		if len(f.Accept) > 0 {
			fv.Accept = acceptAttr(f.Accept)
		}
		if rule := messages.FileHint(f, lang); rule != "" {
			// What this field takes, after the designer's hint.
			fv.Hint = strings.TrimSpace(fv.Hint + " " + rule)
		} else if fv.Hint == "" {
			fv.Hint = render.Tr(lang, "PDF, PNG oder JPEG, höchstens 20 MB", "PDF, PNG or JPEG, at most 20 MB")
		}
	default:
		fv.Value = inputValue(f, v, present, lang)
		fv.InputType = "text"
		switch fv.Kind {
		case "email":
			fv.InputType, fv.NoSpellcheck = "email", true
			if fv.Autocomplete == "" {
				fv.Autocomplete = "email"
			}
		case "tel":
			fv.InputType = "tel"
			if fv.Autocomplete == "" {
				fv.Autocomplete = "tel"
			}
			fv.Width = "w-20"
		case "number":
			fv.Inputmode = "numeric"
			if f.Kind == engine.KindNumber {
				fv.Inputmode = "decimal"
			}
			fv.Width = "w-10"
		case "money":
			fv.Inputmode = "decimal"
			fv.Width = "w-10"
			fv.Unit = "€"
		case "date":
			fv.Width = "w-10"
			if fv.Hint == "" {
				fv.Hint = render.Tr(lang, "Zum Beispiel 27.03.2019", "For example 27.03.2019")
			}
		case "text":
			if f.Format == "iban" {
				fv.NoSpellcheck = true
				fv.Width = "w-30"
			}
		}
		if fv.Kind != "money" {
			fv.Unit = f.Unit
		}
		if fv.Unit == "€" && lang == "en" {
			fv.Prefix, fv.Unit = "€", ""
		}
	}
	var ids []string
	if fv.Hint != "" {
		fv.HintID = fv.ID + "-hint"
		ids = append(ids, fv.HintID)
	}
	if fv.Error != "" {
		fv.ErrorID = fv.ID + "-error"
		for _, e := range fv.Errors {
			ids = append(ids, e.ID)
		}
	}
	fv.Describedby = strings.Join(ids, " ")
	return fv
}

// acceptAttr renders content types for an input's accept attribute, with
// the file name extensions browsers' pickers filter by.
func acceptAttr(types []string) string {
	ext := map[string]string{"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg,.jpeg"}
	var parts []string
	for _, t := range types {
		if e, ok := ext[t]; ok {
			parts = append(parts, e)
		}
	}
	return strings.Join(append(parts, types...), ",")
}

// scalarRepeat reports whether a repeating group's entries are single
// values rather than structs.
func scalarRepeat(f *engine.Field) bool {
	return len(f.Fields) == 1 && f.Fields[0].Path == f.Path
}

func joinLabel(prefix, label string) string {
	if prefix == "" {
		return label
	}
	return prefix + " – " + label
}

// inputValue renders a stored value for a text input. Values that could
// not be converted were kept as typed (strings) and are shown as they are.
var isoDate = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)

func inputValue(f *engine.Field, v any, present bool, lang string) string {
	if !present || v == nil {
		return ""
	}
	switch x := v.(type) {
	case string:
		if f.Widget == "date" && isoDate.MatchString(x) {
			// Stored as YYYY-MM-DD, shown as citizens write dates.
			return x[8:10] + "." + x[5:7] + "." + x[0:4]
		}
		return x
	case float64:
		if f.Widget == "money" {
			if c, ok := render.Int64(x); ok {
				return render.MoneyInput(c, lang)
			}
		}
		s := strconv.FormatFloat(x, 'f', -1, 64)
		if lang != "en" {
			s = strings.Replace(s, ".", ",", 1)
		}
		return s
	case int64, int, int32:
		if f.Widget == "money" {
			c, _ := render.Int64(x)
			return render.MoneyInput(c, lang)
		}
		return fmt.Sprint(x)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

// formErrorMessages turns engine errors into messages by instance path,
// every error of a field in the engine's order (the same message once);
// type errors get messages that say what format is expected.
func formErrorMessages(svc *engine.Service, lang string, errs []engine.FieldError) map[string][]string {
	out := make(map[string][]string, len(errs))
	for _, e := range errs {
		msg := messages.For(svc, lang, e)
		if e.Code == engine.CodeType || e.Code == engine.CodeDate {
			if f := formField(svc, e.Path); f != nil {
				switch f.Widget {
				case "money":
					msg = render.Tr(lang, "Bitte geben Sie einen Betrag in Euro ein, zum Beispiel 12,50.", "Please enter an amount in euros, for example 12.50.")
				case "number":
					msg = render.Tr(lang, "Bitte geben Sie eine Zahl ein, zum Beispiel 3.", "Please enter a number, for example 3.")
				case "date":
					msg = render.Tr(lang, "Bitte geben Sie ein gültiges Datum ein (TT.MM.JJJJ), zum Beispiel 27.03.2019.", "Please enter a real date (DD.MM.YYYY), for example 27.03.2019.")
				case "checkbox":
					msg = render.Tr(lang, "Bitte setzen Sie das Häkchen oder lassen Sie es weg.", "Please tick the box or leave it empty.")
				}
			}
		}
		if e.Code == engine.CodeRequired {
			if f := formField(svc, e.Path); f != nil {
				switch f.Widget {
				case "radio", "select":
					msg = render.Tr(lang, "Bitte wählen Sie eine Möglichkeit aus.", "Please select an option.")
				case "checkbox":
					msg = render.Tr(lang, "Bitte bestätigen Sie dies, um fortzufahren.", "Please confirm this to continue.")
				case "file":
					msg = render.Tr(lang, "Bitte laden Sie eine Datei hoch.", "Please upload a file.")
				}
			}
		}
		if indexOf(out[e.Path], msg) < 0 {
			out[e.Path] = append(out[e.Path], msg)
		}
	}
	return out
}

// formField finds the field of an instance path (children[1].name) in
// the form model.
func formField(svc *engine.Service, path string) *engine.Field {
	plain := engine.StripIndexes(path)
	var find func(fs []*engine.Field) *engine.Field
	find = func(fs []*engine.Field) *engine.Field {
		for _, f := range fs {
			if f.Path == plain {
				return f
			}
			if strings.HasPrefix(plain, f.Path+".") {
				if x := find(f.Fields); x != nil {
					return x
				}
			}
		}
		return nil
	}
	for _, p := range svc.Form.Pages {
		if f := find(p.Fields); f != nil {
			return f
		}
	}
	return nil
}
