package engine

import (
	"encoding/json"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/expr-lang/expr/vm"
)

// Result is the outcome of evaluating a document against a service.
type Result struct {
	// Data is the document as it is kept: hidden answers dropped,
	// computed values set, defaults filled in.
	Data map[string]any `json:"data"`
	// Computed are the computed values by path ("children[0].x" or "fee").
	Computed map[string]any `json:"computed,omitempty"`
	// Hidden lists the paths of fields hidden by rules, sorted.
	Hidden []string `json:"hidden,omitempty"`
	// Pages lists the ids of the visible pages, in order.
	Pages []string `json:"pages"`
	// Office is the office the document is routed to.
	Office string `json:"office"`
	// Errors are all problems, sorted by path; empty if the document is valid.
	Errors []FieldError `json:"errors,omitempty"`
}

// Valid reports whether the document had no errors.
func (r *Result) Valid() bool { return len(r.Errors) == 0 }

// Err returns the errors as a *ValidationError, or nil.
func (r *Result) Err() error {
	if len(r.Errors) == 0 {
		return nil
	}
	return &ValidationError{Errors: r.Errors}
}

// Options tune an evaluation.
type Options struct {
	// Today is the date rules see as "today"; zero means the current date.
	Today time.Time
	// Owned hands the document over: Evaluate converts its numbers in
	// place and keeps it as Result.Data instead of copying it first. The
	// caller must not use the document afterwards (intake hands over a
	// document it has just parsed).
	Owned bool

	copyView bool // tests: rules always read a copy (see Evaluate)
}

// Validate evaluates doc and returns a *ValidationError listing every
// problem, or nil.
func (s *Service) Validate(doc map[string]any) error {
	return s.Evaluate(doc, Options{}).Err()
}

// Evaluate runs the whole pipeline on a document: client-sent computed
// values are discarded, computed values and visibility are settled,
// hidden answers are dropped, the data model and checks are validated,
// and the responsible office is found. doc is not modified, unless
// opt.Owned hands it over.
func (s *Service) Evaluate(doc map[string]any, opt Options) *Result {
	today := opt.Today
	if today.IsZero() {
		today = time.Now()
	}
	var data map[string]any
	if opt.Owned && doc != nil {
		data = doc
		normalizeInPlace(data)
	} else {
		data = normalize(doc).(map[string]any)
	}
	ev := &evaluation{s: s, data: data, today: today.Format("2006-01-02")}
	ev.discardComputed()
	// Rules see defaults, as CUE would: a missing field with a default
	// has that value.
	fillDefaults(s.Data, data, nil, nil)
	// Rules read the answers that meet their own constraints: a value
	// that fails them is, for every rule, not answered (see applicable).
	//
	// When every answer meets them (the common case), the rules read the
	// document itself: the first settle round computes into it and finds
	// nothing answered that is hidden, which is exactly what the copy
	// would have ended with. A round that would drop an answer or remove
	// a value is not done on the document: what the round set is undone,
	// and the rules settle on a copy (writeBack then applies the outcome).
	errs := s.Data.CheckData(data)
	if !opt.copyView && onlyRequired(errs) {
		ev.data, ev.shared = data, true
		if !ev.settle() {
			ev.rollback()
			ev.shared = false
			ev.data = normalize(data).(map[string]any)
			ev.settle()
		}
	} else {
		ev.data = ruleView(data, errs)
		ev.settle()
	}
	if !ev.shared {
		ev.writeBack(data)
	}
	res := &Result{Data: data, Computed: ev.computed}
	for p := range ev.hidden {
		res.Hidden = append(res.Hidden, p)
	}
	sort.Strings(res.Hidden)
	for _, p := range s.Form.Pages {
		if !ev.pageHidden[p.ID] {
			res.Pages = append(res.Pages, p.ID)
		}
	}
	vd := validator{ev: ev}
	vd.structFields(s.Data, data)
	res.Errors = vd.errs
	res.Errors = append(res.Errors, ev.runChecks(res.Errors)...)
	sortErrors(res.Errors)
	fillDefaults(s.Data, data, ev.hidden, nil)
	res.Office = ev.route()
	return res
}

// ruleView returns a copy of a document without the values that fail
// their own constraints of the data model (errs, as CheckData found them:
// a value of the wrong type, a four-digit postal code, a list of too many
// entries): what rules read. A list entry is replaced by null rather than
// removed, so that the entries keep their indexes.
func ruleView(data map[string]any, errs []FieldError) map[string]any {
	view := normalize(data).(map[string]any)
	for _, e := range errs {
		if e.Code == CodeRequired {
			continue
		}
		removeAt(view, e.Path)
	}
	return view
}

// onlyRequired reports whether errs name no value, only missing ones.
func onlyRequired(errs []FieldError) bool {
	for _, e := range errs {
		if e.Code != CodeRequired {
			return false
		}
	}
	return true
}

// set sets a computed value in the view rules read. On the document
// itself (shared), what was there is remembered for rollback.
func (ev *evaluation) set(m map[string]any, name string, v any) {
	if ev.shared {
		old, had := m[name]
		ev.undo = append(ev.undo, undoSet{m: m, name: name, old: old, had: had})
	}
	m[name] = v
}

// sharedRollbacks counts rollbacks (for tests: both paths are taken).
var sharedRollbacks atomic.Int64

// rollback undoes the values set on the document itself, last first.
func (ev *evaluation) rollback() {
	sharedRollbacks.Add(1)
	for i := len(ev.undo) - 1; i >= 0; i-- {
		u := ev.undo[i]
		restore(u.m, u.name, u.old, u.had)
	}
	ev.undo = nil
}

// writeBack applies what the rules decided to the document as kept:
// hidden answers are dropped, computed values set.
func (ev *evaluation) writeBack(data map[string]any) {
	for p := range ev.hidden {
		removeAt(data, p)
	}
	for p, v := range ev.computed {
		setAt(data, p, v)
	}
}

// segments splits a document path ("dogs[1].name") into member names
// (string) and list indexes (int).
func segments(path string) []any {
	var out []any
	for _, part := range strings.Split(path, ".") {
		name, rest, _ := strings.Cut(part, "[")
		out = append(out, name)
		for rest != "" {
			i := strings.IndexByte(rest, ']')
			if i < 0 {
				break
			}
			n, err := strconv.Atoi(rest[:i])
			if err != nil {
				break
			}
			out = append(out, n)
			rest = strings.TrimPrefix(rest[i+1:], "[")
		}
	}
	return out
}

// locateAt returns the container (a map or a list) holding the value at a
// document path, and the value's key in it.
func locateAt(data map[string]any, path string) (any, any) {
	segs := segments(path)
	var cur any = data
	for _, seg := range segs[:len(segs)-1] {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[seg.(string)]
		case []any:
			i, _ := seg.(int)
			if i < 0 || i >= len(c) {
				return nil, nil
			}
			cur = c[i]
		default:
			return nil, nil
		}
	}
	return cur, segs[len(segs)-1]
}

// removeAt removes the value at a document path: a member is deleted, a
// list entry set to null.
func removeAt(data map[string]any, path string) {
	switch c, k := locateAt(data, path); c := c.(type) {
	case map[string]any:
		if name, ok := k.(string); ok {
			delete(c, name)
		}
	case []any:
		if i, ok := k.(int); ok && i >= 0 && i < len(c) {
			c[i] = nil
		}
	}
}

// setAt sets a member at a document path whose group exists.
func setAt(data map[string]any, path string, v any) {
	if c, k := locateAt(data, path); c != nil {
		if m, ok := c.(map[string]any); ok {
			if name, ok := k.(string); ok {
				m[name] = v
			}
		}
	}
}

// evaluation is the state of one Evaluate call; it is not shared.
type evaluation struct {
	s          *Service
	data       map[string]any
	today      string
	hidden     map[string]bool // instance paths
	pageHidden map[string]bool
	required   map[string]bool
	computed   map[string]any
	// blamed are the paths a guard check has reported so far: later
	// checks and routing do not read them (see applicable).
	blamed map[string]bool
	// shared: data is the document itself, not a copy; undo lists the
	// computed values settle set on it (see Evaluate).
	shared bool
	undo   []undoSet
	vm     vm.VM // runs the rules' programs, one at a time
}

// undoSet is a value set on the document, and what was there before.
type undoSet struct {
	m    map[string]any
	name string
	old  any
	had  bool
}

// instance is one place a scoped rule applies: the document itself, or
// one entry of a repeating group.
type instance struct {
	item    any       // the entry; unset for the root scope
	hasItem bool      // the instance is an entry
	path    *pathElem // path of the entry, nil for the root
}

// rootInstance is where a rule on the document applies (read only).
var rootInstance = []instance{{}}

// instances lists where a rule with the given scope applies.
func (ev *evaluation) instances(scope *Node) []instance {
	if scope == nil {
		return rootInstance
	}
	parent, p := ev.data, (*pathElem)(nil)
	last := scope.Path
	for {
		seg, rest, more := strings.Cut(last, ".")
		if !more {
			break
		}
		last = rest
		p = &pathElem{parent: p, name: seg, index: -1}
		m, _ := parent[seg].(map[string]any)
		if m == nil {
			return nil
		}
		parent = m
	}
	lp := &pathElem{parent: p, name: last, index: -1}
	list, _ := parent[last].([]any)
	out := make([]instance, 0, len(list))
	for i, e := range list {
		if scope.Elem.Kind == KindStruct {
			m, _ := e.(map[string]any)
			if m == nil {
				continue
			}
			e = m
		}
		out = append(out, instance{item: e, hasItem: true, path: &pathElem{parent: lp, index: i}})
	}
	return out
}

// applicable reports whether a program applies at an instance: every
// field it reads — other than those it asks about with answered(x) or
// x ?? fallback — is answered, meets its own constraints (absent from the
// rule view otherwise) and has not been blamed by a check.
func (ev *evaluation) applicable(p *Program, in instance) bool {
	// The path of a field is only needed to ask whether a check blamed it.
	track := len(ev.blamed) > 0
	for _, ref := range p.strict {
		var cur any = ev.data
		var path *pathElem
		rel := ref
		if p.Scope != nil {
			if r, ok := under(ref, p.Scope.Path); ok {
				cur, path, rel = in.item, in.path, r
			}
		}
		for rel != "" {
			seg, rest, _ := strings.Cut(rel, ".")
			rel = rest
			if _, isList := cur.([]any); isList {
				break // a member of every entry: the list is answered
			}
			m, _ := cur.(map[string]any)
			cur = m[seg]
			if track {
				path = &pathElem{parent: path, name: seg, index: -1}
			}
			if cur == nil {
				return false
			}
		}
		if cur == nil {
			return false
		}
		if track && ev.blamed[path.String()] {
			return false
		}
	}
	return true
}

// under reports whether path is scope or lies below it, and the rest of
// path below scope ("" for scope itself).
func under(path, scope string) (string, bool) {
	if !strings.HasPrefix(path, scope) {
		return "", false
	}
	rest := path[len(scope):]
	if rest == "" {
		return "", true
	}
	if rest[0] != '.' {
		return "", false
	}
	return rest[1:], true
}

// run evaluates a program at an instance; an error (such as a field not
// yet answered) yields ok == false.
func (ev *evaluation) run(p *Program, in instance) (any, bool) {
	if !ev.applicable(p, in) {
		return nil, false
	}
	// The reserved names are set on the document map for the run; a
	// client's value under the same name (an unknown field, reported by
	// validation) is put back afterwards.
	oldItem, hadItem := ev.data[envItem]
	oldToday, hadToday := ev.data[envToday]
	if in.hasItem {
		ev.data[envItem] = in.item
	} else {
		delete(ev.data, envItem)
	}
	ev.data[envToday] = ev.today
	out, err := ev.vm.Run(p.prog, ev.data)
	restore(ev.data, envItem, oldItem, hadItem)
	restore(ev.data, envToday, oldToday, hadToday)
	if err != nil {
		return nil, false
	}
	return out, true
}

func restore(m map[string]any, k string, v any, had bool) {
	if had {
		m[k] = v
	} else {
		delete(m, k)
	}
}

func (ev *evaluation) test(p *Program, in instance) bool {
	out, ok := ev.run(p, in)
	b, _ := out.(bool)
	return ok && b
}

// target locates a rule's target field within an instance: the map that
// holds it, its name and its path.
func (ev *evaluation) target(n *Node, scope *Node, in instance) (map[string]any, string, *pathElem) {
	rel := n.Path
	m, p := ev.data, (*pathElem)(nil)
	if scope != nil {
		if n == scope {
			return nil, "", in.path // an entry of a list of values
		}
		if r, ok := under(n.Path, scope.Path); ok && r != "" {
			rel = r
		}
		m, _ = in.item.(map[string]any)
		p = in.path
	}
	last := rel
	for {
		seg, rest, more := strings.Cut(last, ".")
		if !more {
			break
		}
		last = rest
		p = &pathElem{parent: p, name: seg, index: -1}
		next, _ := m[seg].(map[string]any)
		if next == nil {
			return nil, "", nil
		}
		m = next
	}
	return m, last, &pathElem{parent: p, name: last, index: -1}
}

// settle computes values and visibility until they no longer change.
// Hidden answers are dropped from the view. On the document itself
// (shared) it stops and reports false before the first change that is
// not setting a computed value.
func (ev *evaluation) settle() bool {
	s := ev.s
	// Each round can only hide more fields or change computed values;
	// the number of rules bounds the rounds needed.
	rounds := len(s.shows) + len(s.pageShow) + len(s.computes) + 1
	var prevHidden map[string]bool
	var prevComputed map[string]any
	for i := 0; i < rounds; i++ {
		ev.computed = map[string]any{}
		for _, r := range s.computes {
			for _, in := range ev.instances(r.prog.Scope) {
				m, name, p := ev.target(r.target, r.prog.Scope, in)
				if m == nil {
					continue
				}
				out, ok := ev.run(r.prog, in)
				if !ok || out == nil {
					if _, had := m[name]; had && ev.shared {
						return false // a value to remove: settle on a copy
					}
					delete(m, name)
					continue
				}
				out = normalize(out)
				ev.set(m, name, out)
				ev.computed[p.String()] = out
			}
		}
		ev.hidden = map[string]bool{}
		ev.pageHidden = map[string]bool{}
		for id, prog := range s.pageShow {
			if !ev.test(prog, instance{}) {
				ev.pageHidden[id] = true
				for _, f := range s.Form.Page(id).Fields {
					ev.hidden[f.Path] = true
				}
			}
		}
		for _, r := range s.shows {
			for _, in := range ev.instances(r.prog.Scope) {
				_, _, p := ev.target(r.target, r.prog.Scope, in)
				if p != nil && !ev.test(r.prog, in) {
					ev.hidden[p.String()] = true
				}
			}
		}
		dropped := false
		if ev.shared {
			if ev.anyHidden() {
				return false // an answer to drop: settle on a copy
			}
		} else {
			dropped = ev.dropHidden()
		}
		if len(s.shows) == 0 && len(s.pageShow) == 0 {
			break // computes ran in dependency order; nothing can hide
		}
		if i == 0 && !dropped {
			// Nothing was answered that is hidden: the view rules read
			// is what this round computed on, so another round would
			// compute and hide the same.
			break
		}
		if i > 0 && sameState(prevHidden, ev.hidden, prevComputed, ev.computed) {
			break
		}
		prevHidden, prevComputed = ev.hidden, ev.computed
	}
	ev.required = map[string]bool{}
	for _, r := range s.requires {
		for _, in := range ev.instances(r.prog.Scope) {
			_, _, p := ev.target(r.target, r.prog.Scope, in)
			if p != nil && ev.test(r.prog, in) {
				ev.required[p.String()] = true
			}
		}
	}
	return true
}

// discardComputed removes client-sent values of computed fields.
func (ev *evaluation) discardComputed() {
	for _, r := range ev.s.computes {
		for _, in := range ev.instances(r.prog.Scope) {
			if m, name, _ := ev.target(r.target, r.prog.Scope, in); m != nil {
				delete(m, name)
			}
		}
	}
}

// sameState reports whether a settle round changed nothing.
func sameState(h1, h2 map[string]bool, c1, c2 map[string]any) bool {
	if len(h1) != len(h2) || len(c1) != len(c2) {
		return false
	}
	for k := range h1 {
		if !h2[k] {
			return false
		}
	}
	for k, v := range c1 {
		if w, ok := c2[k]; !ok || !reflect.DeepEqual(v, w) {
			return false
		}
	}
	return true
}

// dropHidden removes the answers of hidden fields and reports whether
// there were any.
func (ev *evaluation) dropHidden() bool { return ev.hiddenAnswers(true) }

// anyHidden reports whether a hidden field is answered, changing nothing.
func (ev *evaluation) anyHidden() bool { return ev.hiddenAnswers(false) }

// hiddenAnswers reports whether hidden fields are answered, and with
// drop removes their answers.
func (ev *evaluation) hiddenAnswers(drop bool) bool {
	found := false
	for _, r := range ev.s.shows {
		for _, in := range ev.instances(r.prog.Scope) {
			m, name, p := ev.target(r.target, r.prog.Scope, in)
			if m == nil {
				continue
			}
			if _, ok := m[name]; ok && ev.hidden[p.String()] {
				if !drop {
					return true
				}
				delete(m, name)
				found = true
			}
		}
	}
	for id := range ev.pageHidden {
		for _, f := range ev.s.Form.Page(id).Fields {
			if m, name, _ := ev.target(f.node, nil, instance{}); m != nil {
				if _, ok := m[name]; ok {
					if !drop {
						return true
					}
					delete(m, name)
					found = true
				}
			}
		}
	}
	return found
}

// runChecks evaluates the cross-field checks. A check is skipped where its
// field is hidden or already has an error.
func (ev *evaluation) runChecks(existing []FieldError) []FieldError {
	bad := map[string]bool{}
	for _, e := range existing {
		bad[e.Path] = true
	}
	ev.blamed = map[string]bool{}
	var out []FieldError
	for _, c := range ev.s.checks {
		for _, in := range ev.instances(c.assert.Scope) {
			_, _, p := ev.target(c.target, c.assert.Scope, in)
			if p == nil {
				continue
			}
			ps := p.String()
			if bad[ps] || ev.hidden[ps] {
				continue
			}
			if c.when != nil && !ev.test(c.when, in) {
				continue
			}
			out2, ok := ev.run(c.assert, in)
			if !ok {
				continue // the fields it reads are not answered yet
			}
			if b, _ := out2.(bool); !b {
				out = append(out, FieldError{Path: ps, Code: c.id})
				if c.guard {
					ev.blamed[ps] = true
				}
			}
		}
	}
	return out
}

func (ev *evaluation) route() string {
	for _, r := range ev.s.routes {
		if r.when == nil || ev.test(r.when, instance{}) {
			return r.to
		}
	}
	return ""
}

// fillDefaults sets the defaults of absent, visible fields.
func fillDefaults(n *Node, m map[string]any, hidden map[string]bool, p *pathElem) {
	if m == nil {
		return
	}
	// Paths are only needed to look fields up in hidden.
	track := len(hidden) > 0
	for _, f := range n.Fields {
		v, ok := m[f.Name]
		switch {
		case !ok && f.HasDefault:
			if !track || !hidden[(&pathElem{parent: p, name: f.Name, index: -1}).String()] {
				m[f.Name] = f.Default
			}
		case ok && f.Kind == KindStruct:
			sub, _ := v.(map[string]any)
			var fp *pathElem
			if track {
				fp = &pathElem{parent: p, name: f.Name, index: -1}
			}
			fillDefaults(f, sub, hidden, fp)
		case ok && f.Kind == KindList && f.Elem.Kind == KindStruct:
			l, _ := v.([]any)
			var fp *pathElem
			if track {
				fp = &pathElem{parent: p, name: f.Name, index: -1}
			}
			for i, e := range l {
				sub, _ := e.(map[string]any)
				var ip *pathElem
				if track {
					ip = &pathElem{parent: fp, index: i}
				}
				fillDefaults(f.Elem, sub, hidden, ip)
			}
		}
	}
}

// normalizeInPlace turns the numbers of a document into what normalize
// would make of them, changing the maps and lists themselves.
func normalizeInPlace(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if y, ok := normalizedMember(x); ok {
				v[k] = y
			}
		}
	case []any:
		for i, x := range v {
			if y, ok := normalizedMember(x); ok {
				v[i] = y
			}
		}
	}
}

// normalizedMember normalizes a member of a map or list in place, or
// returns what replaces it (ok).
func normalizedMember(x any) (any, bool) {
	switch x.(type) {
	case map[string]any, []any:
		normalizeInPlace(x)
	case json.Number, int, int32, float32:
		return normalize(x), true
	}
	return nil, false
}

// normalize deep-copies a document, turning numbers into int64 (integer
// literals that fit) or float64, so that rules compute with Go numbers.
// A number neither can hold (beyond int64, overflowing or underflowing
// float64) keeps its exact text as a json.Number: validation reports it,
// and nothing turns it into a different value.
func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = normalize(x)
		}
		return m
	case []any:
		l := make([]any, len(v))
		for i, x := range v {
			l[i] = normalize(x)
		}
		return l
	case json.Number:
		x, ok := toNum(v)
		if !ok || x.out {
			return v
		}
		if x.isInt {
			return x.i
		}
		return x.f
	case int:
		return int64(v)
	case int32:
		return int64(v)
	case float32:
		return float64(v)
	}
	return v
}
