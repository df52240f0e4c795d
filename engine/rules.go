package engine

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/token"
	"github.com/expr-lang/expr"
	exprast "github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// Reserved names in the rule environment.
const (
	// envItem is the current entry of a repeating group.
	envItem = "item"
	// envToday is the evaluation date as "2006-01-02".
	envToday = "today"
)

// maxExprNodes bounds the size of a rule expression.
const maxExprNodes = 2000

// Program is a compiled rule: an expr-lang expression checked against the
// data model. Programs are safe for concurrent use.
type Program struct {
	// Src is the expression as written; Pos where it was written.
	Src string
	Pos Pos
	// Scope is the repeating group whose entry is "item", or nil.
	Scope *Node
	prog  *vm.Program
	// refs are the data paths the expression reads, dotted, without
	// indexes; "item.x" is resolved against Scope.
	refs []string
	// strict are the fields among refs the program needs answered: those
	// it does not ask about with answered(x) or x ?? fallback.
	strict []string
}

// ruleCompiler compiles rule expressions with typed environments.
type ruleCompiler struct {
	root   *Node
	ce     *CheckError
	types  map[*Node]reflect.Type
	envs   map[*Node]any // sample environments per scope (nil key: root)
	static []expr.Option
	// constErrs are the problems found in expression constants, by
	// position and message, so that a constant used by many rules is
	// reported once.
	constErrs map[string]*constError
	// guard is set while a workflow guard is compiled: its environment
	// has "case" (guardSample) besides the data and today.
	guard       bool
	guardSample any
}

// constError is a problem in an expression constant and the rules that
// use the constant.
type constError struct {
	index int // in ce.Problems
	name  string
	msg   string
	uses  []string
}

func newRuleCompiler(root *Node, ce *CheckError) *ruleCompiler {
	rc := &ruleCompiler{root: root, ce: ce, types: map[*Node]reflect.Type{}, envs: map[*Node]any{}, constErrs: map[string]*constError{}}
	rc.static = append(rc.static, ruleFunctions()...)
	rc.static = append(rc.static, expr.MaxNodes(maxExprNodes), expr.DisableBuiltin("now"))
	return rc
}

// typeOf derives a Go type for a node so that expr can type-check rules.
func (rc *ruleCompiler) typeOf(n *Node) reflect.Type {
	if t, ok := rc.types[n]; ok {
		return t
	}
	var t reflect.Type
	switch n.Kind {
	case KindString:
		t = reflect.TypeOf("")
	case KindInt:
		t = reflect.TypeOf(int(0))
	case KindNumber:
		t = reflect.TypeOf(float64(0))
	case KindBool:
		t = reflect.TypeOf(false)
	case KindList:
		t = reflect.SliceOf(rc.typeOf(n.Elem))
	case KindStruct:
		fields := make([]reflect.StructField, 0, len(n.Fields))
		for i, f := range n.Fields {
			fields = append(fields, reflect.StructField{
				Name: fmt.Sprintf("F%d", i),
				Type: rc.typeOf(f),
				Tag:  reflect.StructTag(fmt.Sprintf(`expr:"%s"`, f.Name)),
			})
		}
		t = reflect.StructOf(fields)
	default:
		t = reflect.TypeOf((*any)(nil)).Elem()
	}
	rc.types[n] = t
	return t
}

// env returns a sample environment for type-checking rules in scope.
func (rc *ruleCompiler) env(scope *Node) any {
	if e, ok := rc.envs[scope]; ok {
		return e
	}
	root := rc.typeOf(rc.root)
	fields := make([]reflect.StructField, 0, root.NumField()+2)
	for i := 0; i < root.NumField(); i++ {
		fields = append(fields, root.Field(i))
	}
	fields = append(fields, reflect.StructField{Name: "Today", Type: reflect.TypeOf(""), Tag: `expr:"today"`})
	if scope != nil {
		fields = append(fields, reflect.StructField{Name: "Item", Type: rc.typeOf(scope.Elem), Tag: `expr:"item"`})
	}
	e := reflect.New(reflect.StructOf(fields)).Elem().Interface()
	rc.envs[scope] = e
	return e
}

// want is the result type a rule must have.
type want int

const (
	wantBool want = iota
	wantValue
)

// compile compiles src, read from v, in scope. target, for compute rules,
// is the node whose value the expression produces.
func (rc *ruleCompiler) compile(v cue.Value, scope *Node, w want, target *Node, what string) *Program {
	src, err := v.String()
	if err != nil {
		rc.ce.add(posOf(v), "", "rule", "%s: expression must be a string", what)
		return nil
	}
	pos := posOf(v)
	p := &Program{Src: src, Pos: pos, Scope: scope}
	env := rc.env(scope)
	if rc.guard {
		env = rc.guardEnv()
	}
	opts := append([]expr.Option{expr.Env(env)}, rc.static...)
	if w == wantBool {
		opts = append(opts, expr.AsBool())
	}
	typed, err := expr.Compile(src, opts...)
	if err != nil {
		rc.exprError(v, src, scope, what, err)
		return nil
	}
	if target != nil {
		got := typed.Node().Type()
		if !assignable(got, target.Kind) {
			rc.ce.add(pos, target.Path, "rule", "%s: expression has type %s, but %s is %s", what, got, target.Path, target.Kind)
			return nil
		}
	}
	p.refs = refsOf(typed.Node(), scope)
	guarded := map[string]bool{}
	for _, g := range guardedRefs(typed.Node(), scope) {
		guarded[g] = true
	}
	for _, r := range p.refs {
		if !guarded[r] && nodeAt(rc.root, r) != nil {
			p.strict = append(p.strict, r)
		}
	}
	// The runtime program is compiled without the typed environment: the
	// document is a map, and the typed check above already proved the
	// expression right.
	rt := []expr.Option{expr.Env(map[string]any{}), expr.AllowUndefinedVariables()}
	rt = append(rt, rc.static...)
	if w == wantBool {
		rt = append(rt, expr.AsBool())
	}
	prog, err := expr.Compile(src, rt...)
	if err != nil {
		rc.exprError(v, src, scope, what, err)
		return nil
	}
	p.prog = prog
	return p
}

func assignable(t reflect.Type, k Kind) bool {
	if t == nil || t.Kind() == reflect.Interface {
		return true
	}
	switch k {
	case KindString:
		return t.Kind() == reflect.String
	case KindBool:
		return t.Kind() == reflect.Bool
	case KindInt:
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			return true
		}
	case KindNumber:
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
			return true
		}
	}
	return false
}

// exprError reports an error of expr in the expression src, read from v.
// An error that lies in the text of an expression constant (a string
// interpolated with \(name)) is reported once, at the constant, however
// many rules use it.
func (rc *ruleCompiler) exprError(v cue.Value, src string, scope *Node, what string, err error) {
	fe, ok := err.(*file.Error)
	if !ok {
		rc.ce.add(posOf(v), "", "rule", "%s: %v", what, err)
		return
	}
	msg := rc.explain(fe.Message, src, fe.From, scope)
	spans := spansOf(v, src)
	if spans == nil {
		rc.ce.add(exprPos(posOf(v), err), "", "rule", "%s: %s", what, msg)
		return
	}
	sp, pos := locate(spans, src, fe.From)
	if sp.constant == "" {
		rc.ce.add(pos, "", "rule", "%s: %s", what, msg)
		return
	}
	key := fmt.Sprintf("%s:%d:%d\x00%s", pos.File, pos.Line, pos.Col, msg)
	c := rc.constErrs[key]
	if c == nil {
		c = &constError{index: len(rc.ce.Problems), name: sp.constant, msg: msg}
		rc.constErrs[key] = c
		rc.ce.add(pos, "", "rule", "")
	}
	c.uses = append(c.uses, what)
	rc.ce.Problems[c.index].Message = c.message()
}

func (c *constError) message() string {
	used := c.uses[0]
	switch n := len(c.uses) - 1; n {
	case 0:
	case 1:
		used += " and 1 other rule"
	default:
		used += fmt.Sprintf(" and %d other rules", n)
	}
	return fmt.Sprintf("%s: %s (used by %s)", c.name, c.msg, used)
}

// A span is a piece of a rule's expression and where it is written. CUE
// builds a string with interpolations from pieces: literal text and the
// values of the interpolated expressions, often constants shared by many
// rules.
type span struct {
	start, end int // rune offsets in the expression
	// pos is where the piece's first rune is written.
	pos Pos
	// constant is the name of the expression constant the piece is
	// the text of, if any.
	constant string
}

// spansOf splits the expression src, read from v, into its pieces, or
// returns nil if v is a plain string literal or its pieces cannot be
// told apart.
func spansOf(v cue.Value, src string) []span {
	var parts []cue.Value
	var whole *span
	var find func(v cue.Value)
	find = func(v cue.Value) {
		op, args := v.Expr()
		switch op {
		case cue.AndOp:
			for _, a := range args {
				find(a)
			}
		case cue.InterpolationOp:
			if parts == nil {
				parts = args
			}
		default:
			// A rule that is just a constant: show: iban: lowIncome.
			if name, pos, ok := constantOf(v); ok && whole == nil {
				if s, err := v.String(); err == nil && s == src {
					whole = &span{start: 0, end: len([]rune(src)), pos: pos, constant: name}
				}
			}
		}
	}
	find(v)
	if parts == nil {
		if whole != nil {
			return []span{*whole}
		}
		return nil
	}
	var spans []span
	var text strings.Builder
	off := 0
	for _, p := range parts {
		s, err := p.String()
		if err != nil {
			s = fmt.Sprint(p) // a number, formatted as CUE interpolates it
		}
		text.WriteString(s)
		sp := span{start: off, end: off + len([]rune(s)), pos: posOf(p)}
		off = sp.end
		if name, pos, ok := constantOf(p); ok {
			sp.pos, sp.constant = pos, name
		} else if _, ok := p.Source().(*ast.BasicLit); ok {
			// The text of a literal piece starts after the opening quote
			// or the closing parenthesis of the interpolation before it.
			sp.pos.Col++
		}
		spans = append(spans, sp)
	}
	if text.String() != src {
		return nil
	}
	return spans
}

// constantOf reports whether v is a reference to a string constant
// written in the service's own files (a field or a let clause), and
// returns the constant's name and where its text starts.
func constantOf(v cue.Value) (name string, pos Pos, ok bool) {
	var decl ast.Node
	if id, ok := v.Source().(*ast.Ident); ok {
		name, decl = id.Name, id.Node
	} else if root, p := v.ReferencePath(); root.Exists() && len(p.Selectors()) > 0 {
		// A reference as a whole value, as in show: iban: lowIncome.
		name, decl = p.String(), root.LookupPath(p).Source()
	}
	var lit ast.Expr
	switch n := decl.(type) {
	case *ast.BasicLit:
		lit = n
	case *ast.LetClause:
		lit = n.Expr
	case *ast.Field:
		lit = n.Value
	}
	b, ok := lit.(*ast.BasicLit)
	if !ok || b.Kind != token.STRING || strings.HasPrefix(b.Value, `"""`) || !strings.HasPrefix(b.Value, `"`) {
		return "", Pos{}, false
	}
	p := b.Pos()
	if !p.IsValid() || strings.Contains(p.Filename(), "cue.mod") {
		return "", Pos{}, false
	}
	return name, Pos{File: p.Filename(), Line: p.Line(), Col: p.Column() + 1}, true
}

// locate finds the span the rune offset from of src lies in, and the
// position of that rune in the spec.
func locate(spans []span, src string, from int) (span, Pos) {
	sp := spans[len(spans)-1]
	for _, s := range spans {
		if from >= s.start && from < s.end {
			sp = s
			break
		}
	}
	pos := sp.pos
	rs := []rune(src)
	for i := sp.start; i < from && i < len(rs); i++ {
		if rs[i] == '\n' {
			pos.Line++
			pos.Col = 1
		} else {
			pos.Col++
		}
	}
	return sp, pos
}

// exprPos maps an expr error position into the spec file: the expression
// starts one column after the opening quote of the CUE string.
func exprPos(pos Pos, err error) Pos {
	fe, ok := err.(*file.Error)
	if !ok || pos.File == "" {
		return pos
	}
	line, col := fe.Line, fe.Column
	if line <= 1 {
		return Pos{File: pos.File, Line: pos.Line, Col: pos.Col + 1 + col}
	}
	return Pos{File: pos.File, Line: pos.Line + line - 1, Col: col + 1}
}

// noField matches expr's error for a missing member of a struct, which
// names the Go type the rule compiler derived for a group.
var noField = regexp.MustCompile(`^type (struct \{.*\}) has no field (\S+)$`)

// explain rewrites an error message of expr in the terms of the data
// model: a misspelt member of a group names the group, its fields and the
// closest one; a misspelt name the closest field.
func (rc *ruleCompiler) explain(msg, src string, from int, scope *Node) string {
	if m := noField.FindStringSubmatch(msg); m != nil {
		if s, ok := rc.explainNoField(m[1], m[2], src, from, scope); ok {
			return s
		}
		return msg
	}
	if name, ok := strings.CutPrefix(msg, "unknown name "); ok {
		var names []string
		for _, f := range rc.root.Fields {
			names = append(names, f.Name)
		}
		names = append(names, envToday)
		if scope != nil {
			names = append(names, envItem)
		}
		if s := closest(name, names); s != "" {
			msg += "; did you mean " + s + "?"
		}
	}
	return msg
}

// explainNoField describes the group whose Go type is typ, and that has no
// member name. Groups of the same shape (two #Person) have the same type;
// the text before the member in src tells them apart.
func (rc *ruleCompiler) explainNoField(typ, name, src string, from int, scope *Node) (string, bool) {
	entryOf := map[*Node]*Node{}
	var groups []*Node
	for n, t := range rc.types {
		if n.Kind == KindList {
			entryOf[n.Elem] = n
		}
		if n.Kind == KindStruct && n != rc.root && t.String() == typ {
			groups = append(groups, n)
		}
	}
	if len(groups) == 0 {
		return "", false
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].Path < groups[j].Path })
	if len(groups) > 1 {
		base := memberBase(src, from)
		if base == envItem && scope != nil {
			base = scope.Path
		} else if rest, ok := strings.CutPrefix(base, envItem+"."); ok && scope != nil {
			base = scope.Path + "." + rest
		}
		for _, g := range groups {
			if g.Path == base {
				groups = []*Node{g}
				break
			}
		}
	}
	var who []string
	for _, g := range groups {
		if _, ok := entryOf[g]; ok {
			who = append(who, "an entry of "+g.Path)
		} else {
			who = append(who, g.Path)
		}
	}
	var fields []string
	for _, f := range groups[0].Fields {
		fields = append(fields, f.Name)
	}
	msg := fmt.Sprintf("%s has no field %s (fields: %s)", strings.Join(who, " or "), name, strings.Join(fields, ", "))
	if s := closest(name, fields); s != "" {
		msg += "; did you mean " + s + "?"
	}
	return msg, true
}

var indexes = regexp.MustCompile(`\[[^\]]*\]`)

// memberBase returns the dotted path written before the member access
// at rune offset from of src ("applicant" in "applicant.birthDat"),
// without list indexes, or "".
func memberBase(src string, from int) string {
	rs := []rune(src)
	if from > len(rs) {
		return ""
	}
	i := from
	for i > 0 && (rs[i-1] == '.' || rs[i-1] == '?') {
		i--
	}
	end := i
	for i > 0 {
		r := rs[i-1]
		if r == '_' || r == '.' || r == '[' || r == ']' || r == '?' || unicode.IsLetter(r) || unicode.IsDigit(r) {
			i--
			continue
		}
		break
	}
	base := indexes.ReplaceAllString(string(rs[i:end]), "")
	return strings.ReplaceAll(base, "?", "")
}

// closest returns the name among names nearest to s by edit distance, if
// it is near enough to be a likely misspelling, or "".
func closest(s string, names []string) string {
	best, bestD := "", 0
	for _, n := range names {
		d := editDistance(strings.ToLower(s), strings.ToLower(n))
		if d <= 2 && d < len([]rune(n)) && (best == "" || d < bestD) {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// refsOf collects the data paths an expression reads.
func refsOf(n exprast.Node, scope *Node) []string {
	var c refCollector
	exprast.Walk(&n, &c)
	set := map[string]bool{}
	for _, r := range c.all() {
		if r == envItem || strings.HasPrefix(r, envItem+".") {
			if scope == nil {
				continue
			}
			r = scope.Path + strings.TrimPrefix(r, envItem)
		}
		set[r] = true
	}
	out := make([]string, 0, len(set))
	for r := range set {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// guardedRefs collects the data paths an expression asks about itself:
// the argument of answered(x) and the left side of x ?? fallback.
func guardedRefs(n exprast.Node, scope *Node) []string {
	var g guardCollector
	exprast.Walk(&n, &g)
	var out []string
	for _, root := range g.roots {
		out = append(out, refsOf(root, scope)...)
	}
	return out
}

type guardCollector struct{ roots []exprast.Node }

func (g *guardCollector) Visit(node *exprast.Node) {
	switch n := (*node).(type) {
	case *exprast.CallNode:
		if id, ok := n.Callee.(*exprast.IdentifierNode); ok && id.Value == "answered" && len(n.Arguments) == 1 {
			g.roots = append(g.roots, n.Arguments[0])
		}
	case *exprast.BinaryNode:
		if n.Operator == "??" {
			g.roots = append(g.roots, n.Left)
		}
	}
}

// nodeAt finds the node of a dotted data path below root; list entries
// are entered implicitly ("children.name").
func nodeAt(root *Node, path string) *Node {
	n := root
	for _, seg := range strings.Split(path, ".") {
		for n.Kind == KindList && n.Elem != nil {
			n = n.Elem
		}
		if n.Kind != KindStruct {
			return nil
		}
		n = n.Field(seg)
		if n == nil {
			return nil
		}
	}
	return n
}

// refCollector gathers identifiers and member chains. expr's Walk visits
// children before parents, so an identifier that turns out to be the base
// of a member chain (item in item.breed) is only dropped at the end.
type refCollector struct {
	refs   []string
	idents []*exprast.IdentifierNode
	bases  map[*exprast.IdentifierNode]bool
}

func (c *refCollector) Visit(node *exprast.Node) {
	switch n := (*node).(type) {
	case *exprast.IdentifierNode:
		c.idents = append(c.idents, n)
	case *exprast.MemberNode:
		if p := memberPath(n); p != "" {
			c.refs = append(c.refs, p)
			if c.bases == nil {
				c.bases = map[*exprast.IdentifierNode]bool{}
			}
			c.bases[baseIdent(n)] = true
		}
	}
}

func (c *refCollector) all() []string {
	out := c.refs
	for _, id := range c.idents {
		if !c.bases[id] {
			out = append(out, id.Value)
		}
	}
	return out
}

func baseIdent(n exprast.Node) *exprast.IdentifierNode {
	for {
		switch x := n.(type) {
		case *exprast.IdentifierNode:
			return x
		case *exprast.MemberNode:
			n = x.Node
		default:
			return nil
		}
	}
}

// memberPath renders a.b.c for a chain of member accesses on an
// identifier, skipping list indexes.
func memberPath(n exprast.Node) string {
	switch n := n.(type) {
	case *exprast.IdentifierNode:
		return n.Value
	case *exprast.MemberNode:
		base := memberPath(n.Node)
		if base == "" {
			return ""
		}
		if s, ok := n.Property.(*exprast.StringNode); ok {
			return base + "." + s.Value
		}
		return base
	}
	return ""
}

// ruleFunctions are the functions rules may call besides expr's builtins.
// Dates are strings "2006-01-02"; "today" is a variable so that results
// depend only on the document and the evaluation date.
func ruleFunctions() []expr.Option {
	parse := func(s string) (time.Time, error) { return time.Parse("2006-01-02", s) }
	return []expr.Option{
		// answered(x) is true when x is answered and meets its own
		// constraints; a rule that asks so applies also when x is not.
		expr.Function("answered", func(params ...any) (any, error) {
			return params[0] != nil, nil
		}, new(func(any) bool)),
		expr.Function("addDays", func(params ...any) (any, error) {
			t, err := parse(params[0].(string))
			if err != nil {
				return nil, err
			}
			return t.AddDate(0, 0, toInt(params[1])).Format("2006-01-02"), nil
		}, new(func(string, int) string)),
		expr.Function("addMonths", func(params ...any) (any, error) {
			t, err := parse(params[0].(string))
			if err != nil {
				return nil, err
			}
			return addMonths(t, toInt(params[1])).Format("2006-01-02"), nil
		}, new(func(string, int) string)),
		expr.Function("years", func(params ...any) (any, error) {
			from, err := parse(params[0].(string))
			if err != nil {
				return nil, err
			}
			to, err := parse(params[1].(string))
			if err != nil {
				return nil, err
			}
			y := to.Year() - from.Year()
			if to.Month() < from.Month() || (to.Month() == from.Month() && to.Day() < from.Day()) {
				y--
			}
			return y, nil
		}, new(func(string, string) int)),
	}
}

func toInt(v any) int {
	switch v := v.(type) {
	case int:
		return v
	case int64:
		return int(v)
	case float64:
		return int(v)
	}
	return 0
}

// addMonths adds n calendar months, clamping to the end of the month:
// three months before 31 May is 28 (or 29) February, not 3 March.
func addMonths(t time.Time, n int) time.Time {
	first := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, n, 0)
	last := first.AddDate(0, 1, -1).Day()
	return first.AddDate(0, 0, min(t.Day(), last)-1)
}
