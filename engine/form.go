package engine

import (
	"fmt"
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
	pos          Pos
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
			} else if vals := enumValues(f); vals != nil {
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
