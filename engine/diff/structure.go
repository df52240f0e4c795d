package diff

import (
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"sort"
	"strings"

	"cuelang.org/go/cue"

	"github.com/amtsform/amtsform/engine"
)

// differ collects the changes between two versions.
type differ struct {
	old, new *Version
	// receivers is the grade of a change that OLD's JSON Schema rejects.
	receivers Severity
	changes   []Change
}

func (d *differ) add(area, path string, drafts, deliveries Severity, format string, args ...any) *Change {
	d.changes = append(d.changes, Change{Area: area, Path: path, What: fmt.Sprintf(format, args...), Drafts: drafts, Deliveries: deliveries})
	return &d.changes[len(d.changes)-1]
}

func (d *differ) compare() {
	o, n := d.old.Service, d.new.Service
	if o.ID != n.ID {
		d.add("service", "id", Err, Err, "service id changed: %s → %s; these are different services", o.ID, n.ID)
	}
	if o.Version == n.Version && o.Hash != n.Hash {
		d.add("service", "version", Warn, Warn, "version %s kept although the definition changed; bump it so that people can tell the versions apart", o.Version)
	}
	if o.Reference != n.Reference {
		d.add("service", "reference", None, Warn, "reference prefix changed: %s → %s", o.Reference, n.Reference)
	}
	if o.RetentionDays != n.RetentionDays {
		d.add("service", "retentionDays", None, None, "retention changed: %d → %d days", o.RetentionDays, n.RetentionDays)
	}
	if o.DraftDays != n.DraftDays {
		d.add("service", "draftDays", None, None, "drafts kept: %d → %d days", o.DraftDays, n.DraftDays)
	}
	d.structs(o.Data, n.Data)
	d.form()
	d.rules()
	d.routing()
	d.workflow()
	d.deliveries()
}

// structs compares the members of two struct nodes.
func (d *differ) structs(o, n *engine.Node) {
	var removed, added []*engine.Node
	for _, f := range o.Fields {
		if n.Field(f.Name) == nil {
			removed = append(removed, f)
		}
	}
	for _, f := range n.Fields {
		if o.Field(f.Name) == nil {
			added = append(added, f)
		}
	}
	// A removed and an added field of the same shape are taken for a
	// rename, where the pairing is unambiguous.
	renamed := map[*engine.Node]*engine.Node{}
	for _, r := range removed {
		var match []*engine.Node
		for _, a := range added {
			if sameShape(r, a) {
				match = append(match, a)
			}
		}
		if len(match) != 1 {
			continue
		}
		back := 0
		for _, r2 := range removed {
			if sameShape(r2, match[0]) {
				back++
			}
		}
		if back == 1 {
			renamed[r] = match[0]
		}
	}
	isRenamed := map[*engine.Node]bool{}
	for _, a := range renamed {
		isRenamed[a] = true
	}
	for _, f := range o.Fields {
		g := n.Field(f.Name)
		switch {
		case g != nil:
			d.node(f, g)
		case renamed[f] != nil:
			c := d.add("data", f.Path, Err, d.receivers, "renamed to %s (%s)", renamed[f].Path, requiredness(renamed[f]))
			c.Heuristic, c.also = true, []string{renamed[f].Path}
		default:
			del := None
			if f.Required() {
				del = d.receivers // OLD's schema requires it
			}
			d.add("data", f.Path, Err, del, "removed (%s)", d.describe(d.old, f))
		}
	}
	for _, f := range n.Fields {
		if o.Field(f.Name) != nil || isRenamed[f] {
			continue
		}
		drafts := Info
		if f.Required() {
			drafts = Err
		}
		d.add("data", f.Path, drafts, d.receivers, "added (%s)", d.describe(d.new, f))
	}
}

func requiredness(n *engine.Node) string {
	s := "required"
	switch {
	case n.Optional:
		s = "optional"
	case n.HasDefault:
		s = fmt.Sprintf("default %v", n.Default)
	}
	return n.Kind.String() + ", " + s
}

// describe is requiredness, or "computed" for a field v computes.
func (d *differ) describe(v *Version, n *engine.Node) string {
	if _, ok := stringMap(v.Value.LookupPath(cue.ParsePath("rules.compute")))[n.Path]; ok {
		return n.Kind.String() + ", computed"
	}
	return requiredness(n)
}

// sameShape reports whether two fields are declared alike.
func sameShape(a, b *engine.Node) bool {
	return a.Kind == b.Kind && a.Optional == b.Optional && a.HasDefault == b.HasDefault && a.Source == b.Source
}

// node compares two declarations of the same field.
func (d *differ) node(o, n *engine.Node) {
	p := o.Path
	if o.Kind != n.Kind {
		d.add("data", p, Err, d.receivers, "type changed: %s → %s", o.Kind, n.Kind)
		return
	}
	switch {
	case o.Required() && !n.Required():
		d.add("data", p, None, d.receivers, "now %s (was required)", requiredness(n))
	case !o.Required() && n.Required():
		d.add("data", p, Err, None, "now required (was %s)", requiredness(o))
	case o.HasDefault && n.HasDefault && !reflect.DeepEqual(o.Default, n.Default):
		d.add("data", p, None, Warn, "default changed: %v → %v", o.Default, n.Default)
	}
	switch o.Kind {
	case engine.KindStruct:
		d.structs(o, n)
	case engine.KindList:
		d.count(p, "minimum number of entries", o.MinItems, n.MinItems, true)
		d.count(p, "maximum number of entries", o.MaxItems, n.MaxItems, false)
		if o.Elem.Kind != n.Elem.Kind {
			d.add("data", p, Err, d.receivers, "entry type changed: %s → %s", o.Elem.Kind, n.Elem.Kind)
		} else if o.Elem.Kind == engine.KindStruct {
			d.structs(o.Elem, n.Elem)
		} else {
			d.scalar(o.Elem, n.Elem)
		}
	default:
		d.scalar(o, n)
	}
}

// count compares a length or a number of entries; -1 is no bound.
func (d *differ) count(p, what string, o, n int, lower bool) {
	if o == n {
		return
	}
	show := func(x int) string {
		if x < 0 {
			return "none"
		}
		return fmt.Sprint(x)
	}
	narrowed := lower && n > o || !lower && (o < 0 || n >= 0 && n < o)
	if narrowed {
		d.add("data", p, Err, None, "%s narrowed: %s → %s", what, show(o), show(n))
	} else {
		d.add("data", p, None, d.receivers, "%s widened: %s → %s", what, show(o), show(n))
	}
}

// literals returns the values of an enumeration, or nil.
func literals(n *engine.Node) []any {
	var out []any
	for _, a := range n.Alts {
		if !a.HasLiteral {
			return nil
		}
		out = append(out, a.Literal)
	}
	return out
}

func (d *differ) scalar(o, n *engine.Node) {
	p := o.Path
	ol, nl := literals(o), literals(n)
	switch {
	case len(ol) > 1 || len(nl) > 1:
		if ol == nil || nl == nil {
			if o.Source != n.Source {
				d.add("data", p, Err, d.receivers, "constraint changed: %s → %s", o.Source, n.Source)
			}
			return
		}
		for _, v := range ol {
			if !containsValue(nl, v) {
				d.add("options", p, Err, None, "option removed: %s", show(v))
			}
		}
		for _, v := range nl {
			if !containsValue(ol, v) {
				d.add("options", p, None, d.receivers, "option added: %s", show(v))
			}
		}
	case len(o.Alts) == 1 && len(n.Alts) == 1:
		d.constraint(p, o.Alts[0], n.Alts[0])
	case o.Source != n.Source:
		d.add("data", p, Err, d.receivers, "constraint changed: %s → %s", o.Source, n.Source)
	}
}

func containsValue(l []any, v any) bool {
	return slices.ContainsFunc(l, func(x any) bool { return reflect.DeepEqual(x, v) })
}

func show(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprint(v)
}

func (d *differ) constraint(p string, o, n *engine.Constraint) {
	if o.Kind != n.Kind {
		d.add("data", p, Err, d.receivers, "type changed: %s → %s", o.Kind, n.Kind)
		return
	}
	if o.HasLiteral || n.HasLiteral {
		if o.HasLiteral != n.HasLiteral || !reflect.DeepEqual(o.Literal, n.Literal) {
			d.add("data", p, Err, d.receivers, "value changed: %s → %s", literal(o), literal(n))
		}
		return
	}
	d.bound(p, "minimum", o.Min, n.Min, true)
	d.bound(p, "maximum", o.Max, n.Max, false)
	d.count(p, "minimum length", o.MinRunes, n.MinRunes, true)
	d.count(p, "maximum length", o.MaxRunes, n.MaxRunes, false)
	d.set(p, "pattern", regexps(o.Patterns), regexps(n.Patterns))
	d.set(p, "excluded pattern", regexps(n.NotMatch), regexps(o.NotMatch))
	d.set(p, "format", o.Formats, n.Formats)
	d.set(p, "excluded value", strs(n.NotEqual), strs(o.NotEqual))
	if !reflect.DeepEqual(o.OneOf, n.OneOf) {
		d.add("data", p, Err, d.receivers, "allowed values changed: %v → %v", o.OneOf, n.OneOf)
	}
}

func literal(c *engine.Constraint) string {
	if c.HasLiteral {
		return show(c.Literal)
	}
	return "any " + c.Kind.String()
}

// bound compares numeric bounds; nil is no bound.
func (d *differ) bound(p, what string, o, n *engine.Bound, lower bool) {
	c := cmpBound(o, n, lower)
	if c == 0 {
		return
	}
	if c > 0 {
		d.add("data", p, Err, None, "%s narrowed: %s → %s", what, boundString(o, lower), boundString(n, lower))
	} else {
		d.add("data", p, None, d.receivers, "%s widened: %s → %s", what, boundString(o, lower), boundString(n, lower))
	}
}

// cmpBound returns 1 if n is tighter than o, -1 if looser, 0 if equal.
func cmpBound(o, n *engine.Bound, lower bool) int {
	switch {
	case o == nil && n == nil:
		return 0
	case o == nil:
		return 1
	case n == nil:
		return -1
	}
	c := n.Value.Cmp(o.Value)
	if !lower {
		c = -c
	}
	if c == 0 && o.Exclusive != n.Exclusive {
		if n.Exclusive {
			return 1
		}
		return -1
	}
	return c
}

func boundString(b *engine.Bound, lower bool) string {
	if b == nil {
		return "none"
	}
	op := map[[2]bool]string{{true, false}: ">=", {true, true}: ">", {false, false}: "<=", {false, true}: "<"}[[2]bool{lower, b.Exclusive}]
	return op + ratString(b.Value)
}

func ratString(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	return r.FloatString(6)
}

// set compares constraint sets where each member narrows: members added
// to the new set narrow, members dropped widen. For excluded patterns
// and values the caller swaps the sets.
func (d *differ) set(p, what string, o, n []string) {
	for _, x := range n {
		if !slices.Contains(o, x) {
			d.add("data", p, Err, None, "%s added: %s", what, x)
		}
	}
	for _, x := range o {
		if !slices.Contains(n, x) {
			d.add("data", p, None, d.receivers, "%s dropped: %s", what, x)
		}
	}
}

func regexps[T fmt.Stringer](l []T) []string {
	var out []string
	for _, x := range l {
		out = append(out, x.String())
	}
	return out
}

func strs(l []any) []string {
	var out []string
	for _, x := range l {
		out = append(out, show(x))
	}
	return out
}

// form compares the presentation: pages and texts.
func (d *differ) form() {
	o, n := d.old.Service.Form, d.new.Service.Form
	d.text("title", "service title", o.Title, n.Title)
	d.optText("description", "service description", o.Description, n.Description)
	var oids, nids []string
	for _, p := range o.Pages {
		oids = append(oids, p.ID)
	}
	for _, p := range n.Pages {
		nids = append(nids, p.ID)
	}
	for _, p := range o.Pages {
		q := n.Page(p.ID)
		if q == nil {
			d.add("pages", p.ID, None, None, "page removed")
			continue
		}
		d.text(p.ID, "page title", p.Title, q.Title)
		d.optText(p.ID, "page hint", p.Hint, q.Hint)
		if p.Show != q.Show {
			d.add("pages", p.ID, Warn, None, "page condition changed: %s → %s", orAlways(p.Show), orAlways(q.Show))
		}
		if of, nf := fieldPaths(p.Fields), fieldPaths(q.Fields); !slices.Equal(of, nf) {
			d.add("pages", p.ID, None, None, "fields changed: %s → %s", strings.Join(of, ", "), strings.Join(nf, ", "))
		}
	}
	for _, p := range n.Pages {
		if o.Page(p.ID) == nil {
			d.add("pages", p.ID, None, None, "page added")
		}
	}
	var common []string
	for _, id := range oids {
		if slices.Contains(nids, id) {
			common = append(common, id)
		}
	}
	var ncommon []string
	for _, id := range nids {
		if slices.Contains(oids, id) {
			ncommon = append(ncommon, id)
		}
	}
	if !slices.Equal(common, ncommon) {
		d.add("pages", "", None, None, "pages reordered: %s → %s", strings.Join(common, ", "), strings.Join(ncommon, ", "))
	}
	of, nf := formFields(o), formFields(n)
	for _, path := range sortedKeys(of) {
		a, b := of[path], nf[path]
		if b == nil {
			continue
		}
		d.text(path, "label", a.Label, b.Label)
		d.optText(path, "hint", a.Hint, b.Hint)
		if a.Widget != b.Widget {
			d.add("texts", path, None, None, "widget changed: %s → %s", a.Widget, b.Widget)
		}
		if a.Unit != b.Unit {
			d.add("texts", path, None, None, "unit changed: %q → %q", a.Unit, b.Unit)
		}
		for _, oo := range a.Options {
			for _, no := range b.Options {
				if reflect.DeepEqual(oo.Value, no.Value) {
					d.text(path, "label of option "+show(oo.Value), oo.Label, no.Label)
				}
			}
		}
	}
}

func orAlways(s string) string {
	if s == "" {
		return "always"
	}
	return s
}

func fieldPaths(fs []*engine.Field) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Path)
	}
	return out
}

// formFields indexes every field of a form, nested ones included.
func formFields(f *engine.Form) map[string]*engine.Field {
	out := map[string]*engine.Field{}
	var walk func(fs []*engine.Field)
	walk = func(fs []*engine.Field) {
		for _, x := range fs {
			out[x.Path] = x
			walk(x.Fields)
		}
	}
	for _, p := range f.Pages {
		walk(p.Fields)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (d *differ) text(path, what string, o, n engine.Text) {
	if o.De != n.De {
		d.add("texts", path, None, None, "%s (de) changed: %q → %q", what, o.De, n.De)
	}
	if o.En != n.En {
		d.add("texts", path, None, None, "%s (en) changed: %q → %q", what, o.En, n.En)
	}
}

func (d *differ) optText(path, what string, o, n *engine.Text) {
	var a, b engine.Text
	if o != nil {
		a = *o
	}
	if n != nil {
		b = *n
	}
	d.text(path, what, a, b)
}

// rules compares show, require, compute and check rules by their text.
func (d *differ) rules() {
	type grade struct{ added, changed, removed [2]Severity }
	grades := map[string]grade{
		// A show rule decides which answers are kept.
		"show": {[2]Severity{Warn, None}, [2]Severity{Warn, None}, [2]Severity{Warn, None}},
		// A require rule can reject what the old version accepted.
		"require": {[2]Severity{Err, None}, [2]Severity{Err, None}, [2]Severity{None, None}},
		// A computed value is delivered: receivers see other values.
		"compute": {[2]Severity{None, Warn}, [2]Severity{None, Warn}, [2]Severity{None, Warn}},
	}
	for _, kind := range []string{"show", "require", "compute"} {
		o := stringMap(d.old.Value.LookupPath(cue.ParsePath("rules." + kind)))
		n := stringMap(d.new.Value.LookupPath(cue.ParsePath("rules." + kind)))
		g := grades[kind]
		for _, p := range sortedKeys(o) {
			switch nv, ok := n[p]; {
			case !ok:
				d.add("rules", p, g.removed[0], g.removed[1], "%s rule removed: %s", kind, o[p])
			case nv != o[p]:
				d.add("rules", p, g.changed[0], g.changed[1], "%s rule changed: %s → %s", kind, o[p], nv)
			}
		}
		for _, p := range sortedKeys(n) {
			if _, ok := o[p]; !ok {
				d.add("rules", p, g.added[0], g.added[1], "%s rule added: %s", kind, n[p])
			}
		}
	}
	o, n := checks(d.old.Value), checks(d.new.Value)
	for _, id := range sortedKeys(o) {
		a, b := o[id], n[id]
		switch {
		case b == nil:
			d.add("rules", a.Path, None, None, "check %s removed", id)
			continue
		case a.Path != b.Path || a.Assert != b.Assert || a.When != b.When:
			d.add("rules", b.Path, Err, None, "check %s changed: %s → %s", id, a.rule(), b.rule())
		}
		d.text(b.Path, "message of check "+id, a.Message, b.Message)
	}
	for _, id := range sortedKeys(n) {
		if o[id] == nil {
			d.add("rules", n[id].Path, Err, None, "check %s added: %s", id, n[id].rule())
		}
	}
}

type check struct {
	Path, Assert, When string
	Message            engine.Text
}

func (c *check) rule() string {
	if c.When == "" {
		return c.Assert
	}
	return c.Assert + " when " + c.When
}

func checks(v cue.Value) map[string]*check {
	out := map[string]*check{}
	list, err := v.LookupPath(cue.ParsePath("rules.check")).List()
	if err != nil {
		return out
	}
	for list.Next() {
		var c struct {
			ID      string      `json:"id"`
			Path    string      `json:"path"`
			Assert  string      `json:"assert"`
			When    string      `json:"when"`
			Message engine.Text `json:"message"`
		}
		if list.Value().Decode(&c) == nil {
			out[c.ID] = &check{Path: c.Path, Assert: c.Assert, When: c.When, Message: c.Message}
		}
	}
	return out
}

func stringMap(v cue.Value) map[string]string {
	out := map[string]string{}
	it, err := v.Fields()
	if err != nil {
		return out
	}
	for it.Next() {
		s, _ := it.Value().String()
		out[it.Selector().Unquoted()] = s
	}
	return out
}

// route is one routing rule as declared.
type route struct {
	When string `json:"when"`
	To   string `json:"to"`
}

func routes(v cue.Value) []route {
	var out []route
	_ = v.LookupPath(cue.ParsePath("routing")).Decode(&out)
	return out
}

// offices returns the offices a version can route to.
func offices(v *Version) map[string]bool {
	out := map[string]bool{}
	for _, r := range routes(v.Value) {
		out[r.To] = true
	}
	return out
}

func (d *differ) routing() {
	o, n := routes(d.old.Value), routes(d.new.Value)
	oo, no := offices(d.old), offices(d.new)
	for _, x := range sortedKeys(no) {
		if !oo[x] {
			d.add("routing", "routing", None, Err, "office added: %s", x)
		}
	}
	for _, x := range sortedKeys(oo) {
		if !no[x] {
			d.add("routing", "routing", None, Warn, "office removed: %s; it receives no new submissions", x)
		}
	}
	if !slices.Equal(o, n) {
		d.add("routing", "routing", None, Warn, "rules changed: %s → %s", routeString(o), routeString(n))
	}
}

func routeString(rs []route) string {
	var parts []string
	for _, r := range rs {
		if r.When == "" {
			parts = append(parts, r.To)
		} else {
			parts = append(parts, r.When+" → "+r.To)
		}
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

// workflow compares the back-office state machines. Cases keep the
// version they were submitted under, so a change affects new cases only.
func (d *differ) workflow() {
	o, n := d.old.Service.Workflow, d.new.Service.Workflow
	if o.Initial != n.Initial {
		d.add("workflow", "initial", None, Warn, "initial state changed: %s → %s", o.Initial, n.Initial)
	}
	for _, s := range sortedKeys(o.States) {
		ns, ok := n.States[s]
		if !ok {
			d.add("workflow", s, None, Warn, "state removed")
			continue
		}
		if o.States[s].Final != ns.Final {
			d.add("workflow", s, None, Warn, "final changed: %v → %v", o.States[s].Final, ns.Final)
		}
		d.text(s, "state title", o.States[s].Title, ns.Title)
	}
	for _, s := range sortedKeys(n.States) {
		if _, ok := o.States[s]; !ok {
			d.add("workflow", s, None, Warn, "state added")
		}
	}
	ot, nt := transitions(o), transitions(n)
	for _, id := range sortedKeys(ot) {
		a, b := ot[id], nt[id]
		if b == nil {
			d.add("workflow", id, None, Warn, "transition removed")
			continue
		}
		if !slices.Equal(a.From, b.From) || a.To != b.To || !slices.Equal(a.Roles, b.Roles) || a.Guard != b.Guard || a.Comment != b.Comment {
			d.add("workflow", id, None, Warn, "transition changed: %s → %s", transitionString(a), transitionString(b))
		}
		d.text(id, "transition title", a.Title, b.Title)
	}
	for _, id := range sortedKeys(nt) {
		if ot[id] == nil {
			d.add("workflow", id, None, Warn, "transition added: %s", transitionString(nt[id]))
		}
	}
}

func transitions(w *engine.Workflow) map[string]*engine.Transition {
	out := map[string]*engine.Transition{}
	for i := range w.Transitions {
		out[w.Transitions[i].ID] = &w.Transitions[i]
	}
	return out
}

func transitionString(t *engine.Transition) string {
	s := strings.Join(t.From, "|") + " → " + t.To + " by " + strings.Join(t.Roles, "|")
	if t.Guard != "" {
		s += " if " + t.Guard
	}
	return s
}

func (d *differ) deliveries() {
	o, n := d.old.Service.Deliveries, d.new.Service.Deliveries
	for _, id := range sortedKeys(o) {
		b, ok := n[id]
		if !ok {
			d.add("deliveries", id, None, Warn, "destination removed")
			continue
		}
		a := o[id]
		if a.Kind != b.Kind || a.Target != b.Target || a.Format != b.Format {
			d.add("deliveries", id, None, Warn, "destination changed: %s %s %s → %s %s %s", a.Kind, a.Format, a.Target, b.Kind, b.Format, b.Target)
		}
		d.optText(id, "destination title", a.Title, b.Title)
	}
	for _, id := range sortedKeys(n) {
		if _, ok := o[id]; !ok {
			d.add("deliveries", id, None, Info, "destination added (%s)", n[id].Kind)
		}
	}
}
