package engine

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"cuelang.org/go/cue"
)

// Form is the renderer-facing model of a service: what every front end
// (server-rendered pages, the JSON API, a state portal) needs to show it.
// It serialises to JSON and is the contract for renderers.
type Form struct {
	ID          string  `json:"id"`
	Version     string  `json:"version"`
	Hash        string  `json:"hash"`
	Reference   string  `json:"reference"`
	Title       Text    `json:"title"`
	Description *Text   `json:"description,omitempty"`
	LeiKa       string  `json:"leika,omitempty"`
	Authority   string  `json:"authority"`
	Start       *Start  `json:"start,omitempty"`
	Pages       []*Page `json:"pages"`
}

// Start is what the service's start page says.
type Start struct {
	Needs    []Text `json:"needs,omitempty"`
	Duration *Text  `json:"duration,omitempty"`
	Privacy  *Text  `json:"privacy,omitempty"`
}

// Page is one page of the form.
type Page struct {
	ID     string   `json:"id"`
	Title  Text     `json:"title"`
	Hint   *Text    `json:"hint,omitempty"`
	Fields []*Field `json:"fields"`
	// Conditional is true when a rule decides whether the page is shown.
	Conditional bool   `json:"conditional,omitempty"`
	Show        string `json:"show,omitempty"`
}

// Field is one input, group or repeating group of a page.
type Field struct {
	Path         string `json:"path"`
	Name         string `json:"name"`
	Kind         Kind   `json:"kind"`
	Widget       string `json:"widget"`
	Label        Text   `json:"label"`
	Hint         *Text  `json:"hint,omitempty"`
	Unit         string `json:"unit,omitempty"`
	Autocomplete string `json:"autocomplete,omitempty"`
	Required     bool   `json:"required"`
	Default      any    `json:"default,omitempty"`
	// Const is the only value allowed, as for a consent (true).
	Const     any      `json:"const,omitempty"`
	Options   []Option `json:"options,omitempty"`
	Min       any      `json:"min,omitempty"`
	Max       any      `json:"max,omitempty"`
	MinLength int      `json:"minLength,omitempty"`
	MaxLength int      `json:"maxLength,omitempty"`
	// Format is "date" or "iban" where such a check applies.
	Format string `json:"format,omitempty"`
	// Accept lists the content types an attachment field takes (sniffed
	// from the file: "application/pdf", "image/png", "image/jpeg"), and
	// MaxBytes the largest file it takes; empty and 0: the store's limits.
	// For a list of attachments they apply to each file.
	Accept   []string `json:"accept,omitempty"`
	MaxBytes int64    `json:"maxBytes,omitempty"`
	// Messages are the designer's own messages for the built-in error
	// codes of this field ("pattern", "min", …), by code.
	Messages map[string]Text `json:"messages,omitempty"`
	// Conditional: a show rule decides visibility. RequiredWhen: a
	// require rule can make the field required. Computed: the server
	// computes the value; it is shown, never entered.
	Conditional  bool `json:"conditional,omitempty"`
	RequiredWhen bool `json:"requiredWhen,omitempty"`
	Computed     bool `json:"computed,omitempty"`
	// Fields are the members of a group, or of each entry of a repeating group.
	Fields []*Field `json:"fields,omitempty"`
	// Repeat is set for repeating groups.
	Repeat *Repeat `json:"repeat,omitempty"`
	node   *Node
}

// Option is one allowed value of an enumeration.
type Option struct {
	Value any  `json:"value"`
	Label Text `json:"label"`
}

// Repeat describes a repeating group.
type Repeat struct {
	Min  int  `json:"min"`
	Max  int  `json:"max"` // 0: no limit
	Item Text `json:"item"`
}

// reservedPageIDs are the names of the pages every form has besides the
// service's own (see api/citizen.go).
var reservedPageIDs = map[string]bool{"review": true, "saved": true, "submit": true}

// uiSpec is the decoded #UI of one data path.
type uiSpec struct {
	Label        Text              `json:"label"`
	Hint         *Text             `json:"hint"`
	Widget       string            `json:"widget"`
	Unit         string            `json:"unit"`
	Autocomplete string            `json:"autocomplete"`
	Options      map[string]Text   `json:"options"`
	Item         *Text             `json:"item"`
	Fields       map[string]uiSpec `json:"fields"`
	Accept       []string          `json:"accept"`
	MaxBytes     int64             `json:"maxBytes"`
	Messages     map[string]Text   `json:"messages"`
	pos          Pos
}

// messageCodes are the built-in codes a designer may give a field its own
// message for (ui messages).
var messageCodes = map[string]bool{
	CodeRequired: true, CodeType: true, CodeMin: true, CodeMax: true, CodeMinLength: true, CodeMaxLength: true,
	CodePattern: true, CodeEnum: true, CodeMinItems: true, CodeMaxItems: true, CodeUniqueItems: true,
	CodeIBAN: true, CodeDate: true, CodeNotEqual: true, CodeAttachmentType: true, CodeAttachmentSize: true,
}

// compileUI flattens the ui tree into a map by data path, and checks that
// it names only existing fields and labels every field.
func compileUI(v cue.Value, data *Node, ce *CheckError) map[string]*uiSpec {
	out := map[string]*uiSpec{}
	var walk func(v cue.Value, n *Node, prefix string)
	walk = func(v cue.Value, n *Node, prefix string) {
		it, err := v.Fields()
		if err != nil {
			return
		}
		for it.Next() {
			name := it.Selector().Unquoted()
			fv := it.Value()
			path := joinPath(prefix, name)
			var child *Node
			if n != nil {
				child = n.Field(name)
			}
			if child == nil {
				ce.add(posOf(fv), path, "unknownPath", "ui.%s: no field %q in the data model", path, path)
				continue
			}
			var u uiSpec
			if err := fv.Decode(&u); err != nil {
				ce.add(posOf(fv), path, "cue", "ui.%s: %v", path, err)
				continue
			}
			u.pos = posOf(fv)
			for code := range u.Messages {
				if !messageCodes[code] {
					ce.add(posOf(fv.LookupPath(cue.ParsePath("messages"))), path, "unknownCode", "ui.%s.messages: %q is not a built-in error code (check rules bring their own message)", uiPath(path), code)
				}
			}
			if len(u.Accept) > 0 || u.MaxBytes > 0 {
				inner := child
				for inner.Kind == KindList {
					inner = inner.Elem
				}
				if !inner.hasFormat("attachment") {
					ce.add(u.pos, path, "rule", "ui.%s: accept and maxBytes apply to attachments (spec.#Attachment) only", uiPath(path))
				}
			}
			if u.Widget != "" {
				checkListWidget(&u, child, fv, ce)
			}
			out[path] = &u
			if sub := fv.LookupPath(cue.ParsePath("fields")); sub.Exists() {
				inner := child
				for inner.Kind == KindList {
					inner = inner.Elem
				}
				if inner.Kind != KindStruct {
					ce.add(posOf(sub), path, "unknownPath", "ui.%s.fields: %s has no members", path, path)
					continue
				}
				walk(sub, inner, path)
			}
		}
	}
	walk(v, data, "")
	// Every field needs a label; enumerations need a label per value.
	var check func(n *Node)
	check = func(n *Node) {
		for _, f := range n.Fields {
			u := out[f.Path]
			if u == nil {
				ce.add(f.Pos, f.Path, "noLabel", "data.%s has no label: add ui.%s.label with de and en", f.Path, uiPath(f.Path))
			} else if vals := enumValues(scalarOf(f)); vals != nil {
				for _, val := range vals {
					if _, ok := u.Options[fmt.Sprint(val)]; !ok {
						ce.add(u.pos, f.Path, "noLabel", "ui.%s.options: no label for value %v", uiPath(f.Path), val)
					}
				}
			}
			inner := f
			for inner.Kind == KindList {
				inner = inner.Elem
			}
			if inner.Kind == KindStruct {
				check(inner)
			}
		}
	}
	check(data)
	return out
}

// scalarOf returns the node of a list's entries when they are scalars (a
// multiple choice lists its options on the list's ui entry), else n.
func scalarOf(n *Node) *Node {
	e := n
	for e.Kind == KindList && e.Elem != nil {
		e = e.Elem
	}
	if e.Kind == KindStruct {
		return n
	}
	return e
}

// isMultiSelect reports whether n is a list of options: "choose one or
// more of these".
func isMultiSelect(n *Node) bool {
	return n.Kind == KindList && n.Elem != nil && n.Elem.Kind != KindList && enumValues(n.Elem) != nil
}

// checkListWidget checks that "checkboxes", the one widget of a multiple
// choice, is written only on a list of options, and that a list of
// options is given no other widget.
func checkListWidget(u *uiSpec, n *Node, fv cue.Value, ce *CheckError) {
	pos := posOf(fv.LookupPath(cue.ParsePath("widget")))
	switch multi := isMultiSelect(n); {
	case u.Widget == "checkboxes" && !multi:
		what := "a " + n.Kind.String()
		switch {
		case n.Kind == KindList:
			what = "a list of free entries, not of options"
		case enumValues(n) != nil:
			what = "a single choice (use \"radio\" or \"select\")"
		}
		ce.add(pos, n.Path, "widget", "ui.%s.widget: \"checkboxes\" takes a list of options, such as [...(\"a\" | \"b\")] & list.UniqueItems(); %s is %s", uiPath(n.Path), n.Path, what)
	case multi && u.Widget != "checkboxes":
		ce.add(pos, n.Path, "widget", "ui.%s.widget: %s is a list of options, shown as \"checkboxes\"; %q does not apply", uiPath(n.Path), n.Path, u.Widget)
	}
}

// uiPath renders where in the ui tree a data path's entry goes.
func uiPath(path string) string { return strings.ReplaceAll(path, ".", ".fields.") }

// enumValues returns the values of an enumeration, or nil.
func enumValues(n *Node) []any {
	if len(n.Alts) < 2 {
		return nil
	}
	var vals []any
	for _, a := range n.Alts {
		if !a.HasLiteral {
			return nil
		}
		vals = append(vals, a.Literal)
	}
	return vals
}

func buildForm(s *Service, v cue.Value, ui map[string]*uiSpec, rc *ruleCompiler, ce *CheckError) *Form {
	f := &Form{ID: s.ID, Version: s.Version, Hash: s.Hash, Reference: s.Reference}
	_ = v.LookupPath(cue.ParsePath("title")).Decode(&f.Title)
	if d := v.LookupPath(cue.ParsePath("description")); d.Exists() {
		f.Description = new(Text)
		_ = d.Decode(f.Description)
	}
	f.LeiKa, _ = v.LookupPath(cue.ParsePath("leika")).String()
	f.Authority, _ = v.LookupPath(cue.ParsePath("authority")).String()
	if st := v.LookupPath(cue.ParsePath("start")); st.Exists() {
		f.Start = new(Start)
		_ = st.Decode(f.Start)
	}
	pages, _ := v.LookupPath(cue.ParsePath("pages")).List()
	for pages.Next() {
		pv := pages.Value()
		p := &Page{}
		p.ID, _ = pv.LookupPath(cue.ParsePath("id")).String()
		_ = pv.LookupPath(cue.ParsePath("title")).Decode(&p.Title)
		if h := pv.LookupPath(cue.ParsePath("hint")); h.Exists() {
			p.Hint = new(Text)
			_ = h.Decode(p.Hint)
		}
		if reservedPageIDs[p.ID] {
			ce.add(posOf(pv.LookupPath(cue.ParsePath("id"))), "", "reserved", "pages: %q is reserved for the form's own pages; choose another id", p.ID)
		}
		for _, q := range f.Pages {
			if q.ID == p.ID {
				ce.add(posOf(pv.LookupPath(cue.ParsePath("id"))), "", "duplicateID", "pages: duplicate page id %q", p.ID)
			}
		}
		if sh := pv.LookupPath(cue.ParsePath("show")); sh.Exists() {
			p.Show, _ = sh.String()
			p.Conditional = true
			if prog := rc.compile(sh, nil, wantBool, nil, "pages."+p.ID+".show"); prog != nil {
				s.pageShow[p.ID] = prog
			}
		}
		fl, _ := pv.LookupPath(cue.ParsePath("fields")).List()
		for fl.Next() {
			fv := fl.Value()
			path, _ := fv.String()
			n := s.lookupNode(path)
			if n == nil {
				ce.add(posOf(fv), path, "unknownPath", "pages.%s: no field %q in the data model", p.ID, path)
				continue
			}
			if scope, _ := s.scopeOf(path); scope != nil {
				ce.add(posOf(fv), path, "unknownPath", "pages.%s: %q lies inside the repeating group %q; list the group instead", p.ID, path, scope.Path)
				continue
			}
			if other, dup := s.pageOf[path]; dup {
				ce.add(posOf(fv), path, "duplicatePath", "pages.%s: %q is already on page %q", p.ID, path, other)
				continue
			}
			s.pageOf[path] = p.ID
			if p.Conditional {
				s.hideable[path] = true
				if n.Required() {
					ce.add(posOf(fv), path, "rule", "pages.%s: the page has a show rule, but %q is required and would be dropped with it; declare it optional and require it with a rule", p.ID, path)
				}
			}
			p.Fields = append(p.Fields, buildField(n, ui))
		}
		f.Pages = append(f.Pages, p)
	}
	return f
}

func buildField(n *Node, ui map[string]*uiSpec) *Field {
	f := &Field{Path: n.Path, Name: n.Name, Kind: n.Kind, Required: n.Required(), node: n}
	if n.HasDefault {
		f.Default = n.Default
	}
	u := ui[n.Path]
	if u == nil {
		u = &uiSpec{Label: Text{De: n.Name, En: n.Name}}
	}
	f.Label, f.Hint, f.Unit, f.Autocomplete = u.Label, u.Hint, u.Unit, u.Autocomplete
	f.Messages = u.Messages
	if scalarOf(n).hasFormat("attachment") {
		f.Accept, f.MaxBytes = u.Accept, u.MaxBytes
	}
	switch n.Kind {
	case KindStruct:
		f.Widget = "group"
		for _, c := range n.Fields {
			f.Fields = append(f.Fields, buildField(c, ui))
		}
	case KindList:
		f.Widget = "repeat"
		if n.Elem == nil {
			return f // reported by compileNode
		}
		item := f.Label
		if u.Item != nil {
			item = *u.Item
		}
		f.Repeat = &Repeat{Min: max(n.MinItems, 0), Max: max(n.MaxItems, 0), Item: item}
		if isMultiSelect(n) {
			// A checkbox group: one box per option, the list of the
			// ticked ones as the value.
			f.Widget = "checkboxes"
			for _, v := range enumValues(n.Elem) {
				f.Options = append(f.Options, Option{Value: v, Label: u.Options[fmt.Sprint(v)]})
			}
			return f
		}
		if n.Elem.Kind == KindStruct {
			for _, c := range n.Elem.Fields {
				f.Fields = append(f.Fields, buildField(c, ui))
			}
		} else {
			e := buildField(n.Elem, ui)
			e.Label = item
			f.Fields = []*Field{e}
		}
	default:
		if vals := enumValues(n); vals != nil {
			for _, v := range vals {
				f.Options = append(f.Options, Option{Value: v, Label: u.Options[fmt.Sprint(v)]})
			}
		}
		if len(n.Alts) == 1 && n.Alts[0].HasLiteral {
			f.Const = n.Alts[0].Literal
		}
		if len(n.Alts) > 0 {
			c := n.Alts[len(n.Alts)-1]
			for _, a := range n.Alts {
				if !a.HasLiteral {
					c = a
				}
			}
			if c.Min != nil {
				f.Min = c.Min.Number()
			}
			if c.Max != nil {
				f.Max = c.Max.Number()
			}
			f.MinLength, f.MaxLength = max(c.MinRunes, 0), max(c.MaxRunes, 0)
			if len(c.Formats) > 0 {
				f.Format = c.Formats[0]
			}
		}
		f.Widget = u.Widget
		if f.Widget == "" {
			f.Widget = defaultWidget(n, f)
		}
	}
	return f
}

func defaultWidget(n *Node, f *Field) string {
	switch {
	case f.Options != nil && len(f.Options) <= 5:
		return "radio"
	case f.Options != nil:
		return "select"
	case n.Kind == KindBool:
		return "checkbox"
	case n.Kind == KindInt || n.Kind == KindNumber:
		return "number"
	case f.Format == "date":
		return "date"
	case f.Format == "attachment":
		return "file"
	case f.Autocomplete == "email":
		return "email"
	case f.Autocomplete == "tel":
		return "tel"
	case f.MaxLength > 200:
		return "textarea"
	}
	return "text"
}

// markRules records on each field whether rules apply to it.
func (f *Form) markRules(s *Service) {
	conditional := map[string]bool{}
	for _, r := range s.shows {
		conditional[r.target.Path] = true
	}
	requiredWhen := map[string]bool{}
	for _, r := range s.requires {
		requiredWhen[r.target.Path] = true
	}
	computed := map[string]bool{}
	for _, r := range s.computes {
		computed[r.target.Path] = true
	}
	var mark func(fs []*Field)
	mark = func(fs []*Field) {
		for _, x := range fs {
			x.Conditional = conditional[x.Path]
			x.RequiredWhen = requiredWhen[x.Path]
			x.Computed = computed[x.Path]
			mark(x.Fields)
		}
	}
	for _, p := range f.Pages {
		mark(p.Fields)
	}
}

// PageOf returns the id of the page on which path (dotted, no indexes) is
// entered, or "".
func (s *Service) PageOf(path string) string {
	for p := path; p != ""; {
		if id, ok := s.pageOf[p]; ok {
			return id
		}
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return ""
}

// Page returns the page with the given id.
func (f *Form) Page(id string) *Page {
	for _, p := range f.Pages {
		if p.ID == id {
			return p
		}
	}
	return nil
}

// paths lists every field path in the form, sorted; for tests.
func (f *Form) paths() []string {
	var out []string
	var walk func(fs []*Field)
	walk = func(fs []*Field) {
		for _, x := range fs {
			out = append(out, x.Path)
			walk(x.Fields)
		}
	}
	for _, p := range f.Pages {
		walk(p.Fields)
	}
	sort.Strings(out)
	return out
}

// field returns the form field of a path (with or without list indexes),
// or nil.
func (s *Service) field(path string) *Field {
	return s.fields[StripIndexes(path)]
}

// indexFields records every field of the form by its data path.
func (s *Service) indexFields() {
	s.fields = map[string]*Field{}
	var walk func(fs []*Field)
	walk = func(fs []*Field) {
		for _, f := range fs {
			if _, ok := s.fields[f.Path]; !ok {
				s.fields[f.Path] = f
			}
			walk(f.Fields)
		}
	}
	for _, p := range s.Form.Pages {
		walk(p.Fields)
	}
}

// FieldMessage returns the designer's message (ui messages) for the
// built-in error code at path, a document path such as
// "children[1].postalCode".
func (s *Service) FieldMessage(path, code string) (Text, bool) {
	f := s.field(path)
	if f == nil {
		return Text{}, false
	}
	t, ok := f.Messages[code]
	return t, ok
}

// AttachmentRule returns what the attachment field at path (a document
// path such as "photos[0]" or a data path) accepts: the content types
// (empty: any the store takes) and the largest size in bytes (0: the
// store's limit). ok is false when path is not an attachment field.
func (s *Service) AttachmentRule(path string) (accept []string, maxBytes int64, ok bool) {
	n := s.lookupNode(StripIndexes(path))
	if n == nil || !scalarOf(n).hasFormat("attachment") {
		return nil, 0, false
	}
	if f := s.field(path); f != nil {
		return f.Accept, f.MaxBytes, true
	}
	return nil, 0, true
}

// CheckUpload checks one uploaded file for the attachment field at path
// against the field's rules: contentType is the type sniffed from the
// file's content (never the one the browser claims), size its length in
// bytes. It returns nil when the field takes the file, or an error with
// CodeAttachmentType (params "accept": the types the field takes) or
// CodeAttachmentSize (params "maxBytes"), at path.
func (s *Service) CheckUpload(path, contentType string, size int64) *FieldError {
	accept, maxBytes, ok := s.AttachmentRule(path)
	if !ok {
		return &FieldError{Path: path, Code: CodeUnknownField}
	}
	if len(accept) > 0 && !slices.Contains(accept, contentType) {
		types := make([]any, len(accept))
		for i, a := range accept {
			types[i] = a
		}
		return &FieldError{Path: path, Code: CodeAttachmentType, Params: map[string]any{"accept": types}}
	}
	if maxBytes > 0 && size > maxBytes {
		return &FieldError{Path: path, Code: CodeAttachmentSize, Params: map[string]any{"maxBytes": maxBytes}}
	}
	return nil
}
