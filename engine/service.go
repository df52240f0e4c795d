package engine

import (
	"fmt"
	"sort"
	"strings"

	"cuelang.org/go/cue"
	exprast "github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
)

// Text is a text in German and English.
type Text struct {
	De string `json:"de"`
	En string `json:"en"`
}

// In returns the text in lang ("de" or "en"), falling back to German.
func (t Text) In(lang string) string {
	if lang == "en" && t.En != "" {
		return t.En
	}
	return t.De
}

// Service is a compiled service definition. It is immutable and safe for
// concurrent use; no CUE is evaluated after Compile returns.
type Service struct {
	ID        string
	Version   string
	Hash      string
	Reference string
	// Files are the sources the service was compiled from (see
	// Source.Files); LoadFiles and Compile build it again.
	Files []SourceFile
	// RetentionDays and DraftDays govern how long data is kept.
	RetentionDays int
	DraftDays     int
	// ProcessingDays is the processing time: a case is due this many
	// days after it was received; 0 = no due date.
	ProcessingDays int

	// Form is the renderer-facing model.
	Form *Form
	// Data is the compiled data model: the validation plan.
	Data *Node

	shows    []*boundRule // field show rules
	requires []*boundRule
	computes []*boundRule    // in dependency order
	internal map[string]bool // computed values not delivered (internal.go)
	checks   []*checkRule
	pageShow map[string]*Program
	routes   []route
	// Workflow is the back-office life of a submission.
	Workflow *Workflow
	// Deliveries are the declared destinations.
	Deliveries map[string]Delivery
	// Tests are the designer-written spec tests.
	Tests []*SpecTest

	hideable map[string]bool // paths that a show rule or page can hide
	pageOf   map[string]string
	fields   map[string]*Field // form fields by data path
}

// boundRule is a rule attached to a data path.
type boundRule struct {
	target *Node
	prog   *Program
}

type checkRule struct {
	id      string
	guard   bool // a failure makes the blamed value invalid for later rules
	target  *Node
	assert  *Program
	when    *Program
	message Text
}

type route struct {
	when *Program
	to   string
	pos  Pos
}

// Workflow is a declared state machine.
type Workflow struct {
	Initial     string                   `json:"initial"`
	States      map[string]WorkflowState `json:"states"`
	Transitions []Transition             `json:"transitions"`
	// Contact is the data path of the citizen's e-mail address ("" =
	// "email").
	Contact string `json:"contact,omitempty"`
}

// WorkflowState is one state of a workflow.
type WorkflowState struct {
	Title Text `json:"title"`
	Final bool `json:"final"`
}

// Transition moves a case between states.
type Transition struct {
	ID      string   `json:"id"`
	Title   Text     `json:"title"`
	From    []string `json:"from"`
	To      string   `json:"to"`
	Roles   []string `json:"roles"`
	Guard   string   `json:"guard,omitempty"`
	Comment bool     `json:"comment"`
	// FourEyes: the user taking it must differ from the user who took the
	// transition into the case's current state.
	FourEyes bool  `json:"fourEyes"`
	Notify   *Mail `json:"notify,omitempty"`
	// RequestDocuments opens a document request for Documents (filled
	// with every attachment field when not declared) with a deadline of
	// DeadlineDays; Received and Timeout are the transitions the system
	// takes when the files arrive or the deadline passes.
	RequestDocuments bool     `json:"requestDocuments"`
	Documents        []string `json:"documents,omitempty"`
	DeadlineDays     int      `json:"deadlineDays,omitempty"`
	Received         string   `json:"received,omitempty"`
	Timeout          string   `json:"timeout,omitempty"`
	guard            *Program
}

// Delivery is a declared destination.
type Delivery struct {
	Kind   string `json:"kind"`
	Title  *Text  `json:"title,omitempty"`
	Target string `json:"target,omitempty"`
	Format string `json:"format"`
	// Mapping and MappingTests: see delivery_spec.go.
	Mapping      map[string]string `json:"mapping,omitempty"`
	MappingTests []MappingTest     `json:"tests,omitempty"`
}

// Load loads and compiles the service definition in dir.
func Load(dir string) (*Service, error) { return LoadPackages(dir, nil) }

// LoadPackages loads and compiles the service definition in dir with
// local packages (see LoadDirPackages).
func LoadPackages(dir string, pkgs map[string]string) (*Service, error) {
	src, err := LoadDirPackages(dir, pkgs)
	if err != nil {
		return nil, err
	}
	return Compile(src)
}

// Compile turns a loaded definition into an immutable Service. It reports
// every problem at once as a *CheckError.
func Compile(src *Source) (*Service, error) {
	v := src.Value
	ce := &CheckError{}
	s := &Service{Hash: src.Hash, Files: src.Files, hideable: map[string]bool{}, pageOf: map[string]string{}, pageShow: map[string]*Program{}}
	str := func(p string) string {
		x, _ := v.LookupPath(cue.ParsePath(p)).String()
		return x
	}
	s.ID, s.Version, s.Reference = str("id"), str("version"), str("reference")
	if n, err := v.LookupPath(cue.ParsePath("retentionDays")).Int64(); err == nil {
		s.RetentionDays = int(n)
	}
	if n, err := v.LookupPath(cue.ParsePath("draftDays")).Int64(); err == nil {
		s.DraftDays = int(n)
	}
	if n, err := v.LookupPath(cue.ParsePath("processingDays")).Int64(); err == nil {
		s.ProcessingDays = int(n)
	}

	s.Data = compileData(v.LookupPath(cue.ParsePath("data")), ce)
	checkPatterns(s.Data, ce)
	// item and today are names in rules, case in workflow guards; action
	// is the forms' control field.
	for _, name := range []string{envItem, envToday, envCase, "action"} {
		if f := s.Data.Field(name); f != nil {
			ce.add(f.Pos, f.Path, "reserved", "%q is a reserved name; choose another field name", name)
		}
	}
	ui := compileUI(v.LookupPath(cue.ParsePath("ui")), s.Data, ce)
	rc := newRuleCompiler(s.Data, ce)
	s.Form = buildForm(s, v, ui, rc, ce)
	s.compileRules(v.LookupPath(cue.ParsePath("rules")), rc, ce)
	s.compileRouting(v.LookupPath(cue.ParsePath("routing")), rc, ce)
	s.Workflow = s.compileWorkflow(v.LookupPath(cue.ParsePath("workflow")), rc, ce)
	s.Deliveries = map[string]Delivery{}
	if d := v.LookupPath(cue.ParsePath("deliveries")); d.Exists() {
		if err := d.Decode(&s.Deliveries); err != nil {
			ce.add(posOf(d), "deliveries", "cue", "deliveries: %v", err)
		}
		s.checkDeliveryMappings(d, ce) // delivery_spec.go
	}
	s.Tests = compileTests(v.LookupPath(cue.ParsePath("tests")), ce)
	s.checkCoverage(ce)
	s.Form.markRules(s)
	s.indexFields()
	if err := ce.err(); err != nil {
		return nil, err
	}
	return s, nil
}

// lookupNode finds the node of a dotted path; list entries are entered
// implicitly ("children.name").
func (s *Service) lookupNode(path string) *Node { return nodeAt(s.Data, path) }

// scopeOf returns the innermost repeating group strictly enclosing path,
// and whether the path lies within more than one.
func (s *Service) scopeOf(path string) (scope *Node, nested bool) {
	n := s.Data
	segs := strings.Split(path, ".")
	for i, seg := range segs {
		if n.Kind == KindList {
			if scope != nil {
				nested = true
			}
			scope = n
			n = n.Elem
		}
		if n.Kind != KindStruct {
			return scope, nested
		}
		n = n.Field(seg)
		if n == nil {
			return scope, nested
		}
		_ = i
	}
	return scope, nested
}

func (s *Service) compileRules(v cue.Value, rc *ruleCompiler, ce *CheckError) {
	if !v.Exists() {
		return
	}
	bind := func(kind string) []*boundRule {
		var out []*boundRule
		m := v.LookupPath(cue.ParsePath(kind))
		if !m.Exists() {
			return nil
		}
		it, _ := m.Fields()
		for it.Next() {
			path := it.Selector().Unquoted()
			rv := it.Value()
			n := s.lookupNode(path)
			if n == nil {
				ce.add(posOf(rv), path, "unknownPath", "rules.%s: no field %q in the data model", kind, path)
				continue
			}
			scope, nested := s.scopeOf(path)
			if nested {
				ce.add(posOf(rv), path, "unsupported", "rules.%s: %q lies in nested repeating groups; rules there are not supported", kind, path)
				continue
			}
			var target *Node
			w := wantBool
			switch kind {
			case "compute":
				target, w = n, wantValue
				if n.Kind == KindStruct || n.Kind == KindList {
					ce.add(posOf(rv), path, "rule", "rules.compute: %q is a %s; only single values can be computed", path, n.Kind)
					continue
				}
				if !n.Optional {
					ce.add(posOf(rv), path, "rule", "rules.compute: declare %q optional (%s?: …); the citizen does not enter it", path, n.Name)
				}
			case "show":
				// A required field is always asked for: otherwise a rule —
				// or a municipality's overlay — could drop a field the
				// shared service requires. Declare it optional and pair the
				// show rule with a require rule (see iban in the Kita example).
				if n.Required() {
					ce.add(posOf(rv), path, "rule", "rules.show: %q is required, so it cannot be hidden; declare it optional (%s?: …) and add rules.require.%s", path, n.Name, path)
					continue
				}
			case "require":
				if !n.Optional {
					ce.add(posOf(rv), path, "rule", "rules.require: %q is always required; declare it optional (%s?: …) to require it conditionally", path, n.Name)
				}
			}
			p := rc.compile(rv, scope, w, target, fmt.Sprintf("rules.%s.%s", kind, path))
			if p == nil {
				continue
			}
			out = append(out, &boundRule{target: n, prog: p})
		}
		return out
	}
	s.shows = bind("show")
	for _, r := range s.shows {
		s.hideable[r.target.Path] = true
	}
	s.requires = bind("require")
	s.computes = sortComputes(bind("compute"), ce)
	s.compileInternal(v, ce)

	checks := v.LookupPath(cue.ParsePath("check"))
	if !checks.Exists() {
		return
	}
	list, _ := checks.List()
	ids := map[string]bool{}
	for list.Next() {
		cv := list.Value()
		id, _ := cv.LookupPath(cue.ParsePath("id")).String()
		path, _ := cv.LookupPath(cue.ParsePath("path")).String()
		if ids[id] {
			ce.add(posOf(cv.LookupPath(cue.ParsePath("id"))), "", "duplicateID", "rules.check: duplicate id %q", id)
		}
		ids[id] = true
		if isBuiltinCode(id) {
			ce.add(posOf(cv.LookupPath(cue.ParsePath("id"))), "", "reserved", "rules.check: id %q is a built-in error code; choose another", id)
		}
		n := s.lookupNode(path)
		if n == nil {
			ce.add(posOf(cv.LookupPath(cue.ParsePath("path"))), path, "unknownPath", "rules.check %s: no field %q in the data model", id, path)
			continue
		}
		scope, nested := s.scopeOf(path)
		if nested {
			ce.add(posOf(cv), path, "unsupported", "rules.check %s: %q lies in nested repeating groups", id, path)
			continue
		}
		if n.Kind == KindList && n.Elem != nil && n.Elem.Kind != KindStruct && n.Elem.Kind != KindList && readsItem(cv) {
			// A check of a list of values that reads item runs once per
			// entry and blames it: classes[2].
			if scope != nil {
				ce.add(posOf(cv), path, "unsupported", "rules.check %s: %q lies in nested repeating groups", id, path)
				continue
			}
			scope = n
		}
		cr := &checkRule{id: id, target: n}
		_ = cv.LookupPath(cue.ParsePath("message")).Decode(&cr.message)
		cr.guard, _ = cv.LookupPath(cue.ParsePath("guard")).Bool()
		cr.assert = rc.compile(cv.LookupPath(cue.ParsePath("assert")), scope, wantBool, nil, "rules.check "+id+".assert")
		if w := cv.LookupPath(cue.ParsePath("when")); w.Exists() {
			cr.when = rc.compile(w, scope, wantBool, nil, "rules.check "+id+".when")
		}
		if cr.assert != nil {
			s.checks = append(s.checks, cr)
		}
	}
}

// readsItem reports whether a check's assert or when names item.
func readsItem(cv cue.Value) bool {
	for _, part := range []string{"assert", "when"} {
		src, err := cv.LookupPath(cue.ParsePath(part)).String()
		if err != nil {
			continue
		}
		tree, err := parser.Parse(src)
		if err != nil {
			continue
		}
		var f itemFinder
		exprast.Walk(&tree.Node, &f)
		if f.found {
			return true
		}
	}
	return false
}

type itemFinder struct{ found bool }

func (f *itemFinder) Visit(node *exprast.Node) {
	if id, ok := (*node).(*exprast.IdentifierNode); ok && id.Value == envItem {
		f.found = true
	}
}

func isBuiltinCode(id string) bool {
	switch id {
	case CodeRequired, CodeType, CodeMin, CodeMax, CodeMinLength, CodeMaxLength, CodePattern, CodeEnum,
		CodeMinItems, CodeMaxItems, CodeUnknownField, CodeIBAN, CodeDate, CodeNotEqual, CodeAttachment,
		CodeUniqueItems, CodeAttachmentType, CodeAttachmentSize, CodeControl, CodeEncoding:
		return true
	}
	return false
}

// sortComputes orders compute rules so that each runs after the rules
// whose results it reads; a cycle is a check error.
func sortComputes(rules []*boundRule, ce *CheckError) []*boundRule {
	deps := map[*boundRule][]*boundRule{}
	for _, r := range rules {
		for _, o := range rules {
			for _, ref := range r.prog.refs {
				if ref == o.target.Path || strings.HasPrefix(o.target.Path, ref+".") || strings.HasPrefix(ref, o.target.Path+".") {
					deps[r] = append(deps[r], o)
					break
				}
			}
		}
	}
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[*boundRule]int{}
	var order []*boundRule
	var stack []*boundRule
	reported := false
	var visit func(r *boundRule)
	visit = func(r *boundRule) {
		switch state[r] {
		case done:
			return
		case visiting:
			if !reported {
				reported = true
				var names []string
				start := 0
				for i, x := range stack {
					if x == r {
						start = i
					}
				}
				for _, x := range stack[start:] {
					names = append(names, x.target.Path)
				}
				names = append(names, r.target.Path)
				ce.add(r.prog.Pos, r.target.Path, "cycle", "rules.compute: computed values depend on each other in a cycle: %s", strings.Join(names, " → "))
			}
			return
		}
		state[r] = visiting
		stack = append(stack, r)
		for _, d := range deps[r] {
			visit(d)
		}
		stack = stack[:len(stack)-1]
		state[r] = done
		order = append(order, r)
	}
	// Visit in path order for a deterministic result.
	sorted := append([]*boundRule(nil), rules...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].target.Path < sorted[j].target.Path })
	for _, r := range sorted {
		visit(r)
	}
	return order
}

func (s *Service) compileRouting(v cue.Value, rc *ruleCompiler, ce *CheckError) {
	list, err := v.List()
	if err != nil {
		ce.add(posOf(v), "routing", "routing", "routing: %v", err)
		return
	}
	hasDefault := false
	last := posOf(v)
	for list.Next() {
		last = posOf(list.Value())
		rv := list.Value()
		to, _ := rv.LookupPath(cue.ParsePath("to")).String()
		r := route{to: to, pos: posOf(rv)}
		if hasDefault {
			ce.add(posOf(rv), "routing", "unreachableRoute", "routing: this rule follows the default rule and is never used")
		}
		if w := rv.LookupPath(cue.ParsePath("when")); w.Exists() {
			r.when = rc.compile(w, nil, wantBool, nil, "routing to "+to)
		} else {
			hasDefault = true
		}
		s.routes = append(s.routes, r)
	}
	if !hasDefault {
		ce.add(last, "routing", "noDefaultRoute", "routing: the last rule must have no \"when\": it is the default office")
	}
}

func (s *Service) compileWorkflow(v cue.Value, rc *ruleCompiler, ce *CheckError) *Workflow {
	wf := &Workflow{}
	if err := v.Decode(wf); err != nil {
		ce.add(posOf(v), "workflow", "cue", "workflow: %v", err)
		return wf
	}
	pos := func(p string) Pos {
		if x := v.LookupPath(cue.ParsePath(p)); x.Exists() {
			return posOf(x)
		}
		return posOf(v)
	}
	if _, ok := wf.States[wf.Initial]; !ok {
		ce.add(pos("initial"), "workflow.initial", "unknownState", "workflow: initial state %q is not declared in states", wf.Initial)
	}
	ids := map[string]bool{}
	out := map[string][]string{}
	for i := range wf.Transitions {
		t := &wf.Transitions[i]
		tp := fmt.Sprintf("transitions[%d]", i)
		if ids[t.ID] {
			ce.add(pos(tp+".id"), "workflow", "duplicateID", "workflow: duplicate transition id %q", t.ID)
		}
		ids[t.ID] = true
		for j, f := range t.From {
			if _, ok := wf.States[f]; !ok {
				ce.add(pos(fmt.Sprintf("%s.from[%d]", tp, j)), "workflow", "unknownState", "workflow: transition %q starts in unknown state %q", t.ID, f)
				continue
			}
			if wf.States[f].Final {
				ce.add(pos(fmt.Sprintf("%s.from[%d]", tp, j)), "workflow", "finalState", "workflow: transition %q leaves final state %q", t.ID, f)
			}
			out[f] = append(out[f], t.To)
		}
		if _, ok := wf.States[t.To]; !ok {
			ce.add(pos(tp+".to"), "workflow", "unknownState", "workflow: transition %q leads to unknown state %q", t.ID, t.To)
		}
		if t.Guard != "" {
			t.guard = rc.compileGuard(v.LookupPath(cue.ParsePath(tp+".guard")), "workflow transition "+t.ID+" guard")
		}
	}
	// Every state must be reachable from the initial state, and every
	// state that is not final must have a way on.
	reach := map[string]bool{wf.Initial: true}
	queue := []string{wf.Initial}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, n := range out[s] {
			if !reach[n] {
				reach[n] = true
				queue = append(queue, n)
			}
		}
	}
	names := make([]string, 0, len(wf.States))
	for n := range wf.States {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		sp := pos(fmt.Sprintf("states.%q", n))
		if !reach[n] {
			ce.add(sp, "workflow.states."+n, "unreachableState", "workflow: state %q cannot be reached from the initial state %q", n, wf.Initial)
		}
		if !wf.States[n].Final && len(out[n]) == 0 {
			ce.add(sp, "workflow.states."+n, "deadEnd", "workflow: state %q is not final but has no transition out", n)
		}
	}
	s.checkWorkflowActions(wf, pos, ce)
	return wf
}

// checkCoverage checks that every required field can be entered on some
// page and that page references are sound.
func (s *Service) checkCoverage(ce *CheckError) {
	covered := func(path string) bool {
		for p := path; ; {
			if _, ok := s.pageOf[p]; ok {
				return true
			}
			i := strings.LastIndexByte(p, '.')
			if i < 0 {
				return false
			}
			p = p[:i]
		}
	}
	computed := map[string]bool{}
	for _, r := range s.computes {
		computed[r.target.Path] = true
	}
	var walk func(n *Node)
	walk = func(n *Node) {
		for _, f := range n.Fields {
			if f.Required() && !computed[f.Path] && !covered(f.Path) {
				ce.add(f.Pos, f.Path, "notOnPage", "data.%s is required but on no page, so nobody can enter it", f.Path)
				continue
			}
			switch f.Kind {
			case KindStruct:
				walk(f)
			case KindList:
				if f.Elem.Kind == KindStruct {
					walk(f.Elem)
				}
			}
		}
	}
	walk(s.Data)
}

// CheckMessage returns the message of the check rule with the given id.
func (s *Service) CheckMessage(id string) (Text, bool) {
	for _, c := range s.checks {
		if c.id == id {
			return c.message, true
		}
	}
	return Text{}, false
}
