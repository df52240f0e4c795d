package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/ast/astutil"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/format"
	"cuelang.org/go/cue/token"
)

// cueOracle validates documents by CUE unification, the way the data
// model means it: the data struct closed recursively, as a definition.
type cueOracle struct {
	ctx    *cue.Context
	schema cue.Value
}

func newCUEOracle(t testing.TB, src *Source) *cueOracle {
	t.Helper()
	data := src.Value.LookupPath(cue.ParsePath("data"))
	n := data.Syntax(cue.InlineImports(true), cue.Optional(true), cue.Docs(false))
	var file *ast.File
	switch n := n.(type) {
	case *ast.File:
		file = n
	case ast.Expr:
		file = &ast.File{Decls: []ast.Decl{&ast.EmbedDecl{Expr: n}}}
	}
	// The data model's structs are closed: Amtsform rejects unknown
	// fields, while a plain CUE struct in a service is open (#Service
	// declares data as {...}). Close every struct with fields and drop
	// the ellipsis, then name the result #D.
	astutil.Apply(file, nil, func(c astutil.Cursor) bool {
		sl, ok := c.Node().(*ast.StructLit)
		if !ok {
			return true
		}
		hasField := false
		elts := sl.Elts[:0]
		for _, e := range sl.Elts {
			if _, ok := e.(*ast.Ellipsis); ok {
				continue
			}
			if _, ok := e.(*ast.Field); ok {
				hasField = true
			}
			elts = append(elts, e)
		}
		sl.Elts = elts
		if hasField {
			if _, isFile := c.Parent().Node().(*ast.File); !isFile {
				c.Replace(&ast.CallExpr{Fun: ast.NewIdent("close"), Args: []ast.Expr{sl}})
			}
		}
		return true
	})
	for i, d := range file.Decls {
		switch d := d.(type) {
		case *ast.EmbedDecl:
			file.Decls[i] = &ast.Field{Label: ast.NewIdent("#D"), Value: d.Expr}
		case *ast.Field:
			// The data model itself (_#def: {...}).
			d.Value = literalCodeLists(d.Value, data)
		}
	}
	dropUnusedLets(file)
	b, err := format.Node(file)
	if err != nil {
		t.Fatal(err)
	}
	ctx := cuecontext.New()
	v := ctx.CompileBytes(b)
	if v.Err() != nil {
		t.Fatalf("oracle schema: %v\n%s", v.Err(), b)
	}
	return &cueOracle{ctx: ctx, schema: v.LookupPath(cue.ParsePath("#D"))}
}

// literalCodeLists replaces each enumeration built by a comprehension
// (a #CodeList's values: or([for e in entries {e.code}])) by the literal
// disjunction of the values CUE evaluates it to. CUE's syntax export
// names every inlined code list's entries alike (let ENTRIES), so that
// the exported comprehensions would all read one list (the countries);
// and a service's own code list (#Treffpunkte) lies outside data. e is
// the syntax of v, the data model's value at the same place.
func literalCodeLists(e ast.Expr, v cue.Value) ast.Expr {
	switch x := e.(type) {
	case *ast.StructLit:
		for _, el := range x.Elts {
			f, ok := el.(*ast.Field)
			if !ok {
				continue
			}
			name, _, err := ast.LabelName(f.Label)
			if err != nil {
				continue
			}
			sub := v.LookupPath(cue.MakePath(cue.Str(name)))
			if !sub.Exists() {
				sub = v.LookupPath(cue.MakePath(cue.Str(name).Optional()))
			}
			f.Value = literalCodeLists(f.Value, sub)
		}
	case *ast.ListLit:
		for _, el := range x.Elts {
			if ell, ok := el.(*ast.Ellipsis); ok && ell.Type != nil {
				if elem, ok := listElem(v); ok {
					ell.Type = literalCodeLists(ell.Type, elem)
				}
			}
		}
	case *ast.BinaryExpr:
		x.X, x.Y = literalCodeLists(x.X, v), literalCodeLists(x.Y, v)
	case *ast.UnaryExpr:
		x.X = literalCodeLists(x.X, v)
	case *ast.ParenExpr:
		x.X = literalCodeLists(x.X, v)
	case *ast.CallExpr:
		fn, _ := x.Fun.(*ast.Ident)
		if fn != nil && fn.Name == "close" && len(x.Args) == 1 {
			x.Args[0] = literalCodeLists(x.Args[0], v)
		}
		if fn != nil && fn.Name == "or" {
			// CUE's own evaluation of the field: a disjunction of
			// literals, the default (if any) marked with *.
			var lits []ast.Expr
			// Only a disjunction of literals is replaced; anything else
			// (a disjunction of structs) stays as CUE wrote it.
			literal := true
			var collect func(e ast.Expr)
			collect = func(e ast.Expr) {
				switch e := e.(type) {
				case *ast.BinaryExpr:
					if e.Op != token.OR {
						literal = false
						return
					}
					collect(e.X)
					collect(e.Y)
				case *ast.UnaryExpr:
					if e.Op != token.MUL {
						literal = false
						return
					}
					collect(e.X)
				case *ast.ParenExpr:
					collect(e.X)
				case *ast.BasicLit:
					lits = append(lits, &ast.BasicLit{Kind: e.Kind, Value: e.Value})
				default:
					literal = false
				}
			}
			if ev, ok := v.Eval().Syntax().(ast.Expr); ok {
				collect(ev)
			}
			if !literal {
				lits = nil
			}
			if len(lits) > maxOracleDisjuncts && allStrings(lits) {
				// CUE deduplicates the disjuncts of a disjunction
				// pairwise on every evaluation: 249 countries cost
				// about 30,000 comparisons per document. For strings,
				// string & =~"^(?:a|b|…)$" allows exactly the same
				// values and fails at the same path.
				alt := make([]string, len(lits))
				for i, l := range lits {
					s, _ := strconv.Unquote(l.(*ast.BasicLit).Value)
					alt[i] = regexp.QuoteMeta(s)
				}
				re := &ast.UnaryExpr{Op: token.MAT, X: ast.NewString("^(?:" + strings.Join(alt, "|") + ")$")}
				return &ast.ParenExpr{X: ast.NewBinExpr(token.AND, ast.NewIdent("string"), re)}
			}
			if len(lits) > 0 {
				return &ast.ParenExpr{X: ast.NewBinExpr(token.OR, lits...)}
			}
		}
	}
	return e
}

// maxOracleDisjuncts is the largest enumeration the oracle writes as a
// disjunction (see literalCodeLists).
const maxOracleDisjuncts = 20

func allStrings(lits []ast.Expr) bool {
	for _, l := range lits {
		if b, ok := l.(*ast.BasicLit); !ok || b.Kind != token.STRING {
			return false
		}
	}
	return true
}

// dropUnusedLets removes the file's let clauses that nothing refers to
// any more (the code lists' entries, once literalCodeLists replaced the
// comprehensions over them): CUE rejects an unreferenced let.
func dropUnusedLets(file *ast.File) {
	used := map[string]bool{}
	mark := func(d ast.Decl) {
		ast.Walk(d, func(n ast.Node) bool {
			if id, ok := n.(*ast.Ident); ok {
				used[id.Name] = true
			}
			return true
		}, nil)
	}
	lets := map[string]*ast.LetClause{}
	for _, d := range file.Decls {
		if l, isLet := d.(*ast.LetClause); isLet {
			lets[l.Ident.Name] = l
		} else {
			mark(d)
		}
	}
	// A let used by a used let is used (PERSON reads NAME and DATE).
	for done := false; !done; {
		done = true
		for name, l := range lets {
			if used[name] {
				delete(lets, name)
				mark(l.Expr)
				done = false
			}
		}
	}
	decls := file.Decls[:0]
	for _, d := range file.Decls {
		if l, ok := d.(*ast.LetClause); ok && lets[l.Ident.Name] != nil {
			continue
		}
		decls = append(decls, d)
	}
	file.Decls = decls
}

// withEngineOnly adds to CUE's failing paths those the engine rejects on
// purpose (see engineOnly).
func withEngineOnly(paths []string, doc []byte) []string {
	set := map[string]bool{}
	for _, p := range paths {
		set[p] = true
	}
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return paths
	}
	engineOnly(v, "", func(p string) { set[p] = true })
	return sortedKeys(set)
}

// failingPaths returns the sorted set of paths CUE reports errors at.
func (o *cueOracle) failingPaths(doc []byte) []string {
	v := o.schema.Unify(o.ctx.CompileBytes(doc))
	set := map[string]bool{}
	add := func(err error) {
		for _, e := range cueerrors.Errors(err) {
			set[renderCUEPath(e.Path())] = true
		}
	}
	// CUE reports incomplete values only when there is no conflict; the
	// plan reports everything at once. So ask CUE for the conflicts, and
	// separately for every field that is still incomplete.
	add(v.Validate())
	add(v.Validate(cue.Concrete(true)))
	var d any
	_ = json.Unmarshal(doc, &d)
	o.incomplete(v, o.schema, d, add, func(p string) { set[p] = true })
	return sortedKeys(set)
}

// incomplete reports the regular fields below v that have no concrete
// value, including required (!) fields that are absent.
func (o *cueOracle) incomplete(v, sch cue.Value, d any, add func(error), addPath func(string)) {
	kind := v.IncompleteKind()
	if _, ok := listElem(sch); ok && sch.Exists() {
		kind = cue.ListKind
	} else if sch.IncompleteKind() == cue.StructKind {
		kind = cue.StructKind
	}
	switch kind {
	case cue.StructKind:
		// A value that is itself in conflict (not a struct at all) has
		// no members to report on.
		own := renderCUEPath(pathStrings(v))
		for _, e := range cueerrors.Errors(v.Validate()) {
			if renderCUEPath(e.Path()) == own {
				add(e)
				return
			}
		}
		// Walk the schema's fields: v itself may be in error.
		it, err := sch.Fields(cue.Optional(true))
		if err != nil {
			return
		}
		for it.Next() {
			sel := it.Selector()
			f := v.LookupPath(cue.MakePath(sel))
			if !f.Exists() && sel.ConstraintType() == cue.OptionalConstraint {
				continue
			}
			if sel.ConstraintType() == cue.OptionalConstraint {
				continue
			}
			if !f.Exists() || sel.ConstraintType() == cue.RequiredConstraint {
				if err := f.Validate(cue.Concrete(true)); err != nil {
					add(err)
					continue
				}
			}
			m, _ := d.(map[string]any)
			o.incomplete(f, sch.LookupPath(cue.MakePath(sel)), m[sel.Unquoted()], add, addPath)
		}
	case cue.ListKind:
		add(v.Validate())
		elem, _ := listElem(sch)
		l, _ := d.([]any)
		n := len(l)
		if it, err := v.List(); err == nil {
			for i := 0; it.Next(); i++ {
				var e any
				if i < len(l) {
					e = l[i]
				}
				o.incomplete(it.Value(), elem, e, add, addPath)
			}
		}
		// CUE does not evaluate a list's validators (list.MaxItems) while
		// an entry is in error; ask it about the length on its own.
		probe := sch.Unify(o.ctx.CompileString("[" + strings.Repeat("_, ", n) + "]"))
		own := renderCUEPath(pathStrings(v))
		for _, e := range cueerrors.Errors(probe.Validate()) {
			if renderCUEPath(e.Path()) == own {
				addPath(own)
			}
		}
	default:
		if err := v.Validate(cue.Concrete(true)); err != nil {
			add(err)
		}
	}
}

func pathStrings(v cue.Value) []string {
	var out []string
	for _, s := range v.Path().Selectors() {
		out = append(out, s.String())
	}
	return out
}

func renderCUEPath(p []string) string {
	var b strings.Builder
	for _, s := range p {
		if strings.HasPrefix(s, "#") || strings.HasPrefix(s, "_#") {
			continue
		}
		if _, err := strconv.Atoi(s); err == nil {
			b.WriteString("[" + s + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// planPaths returns the paths the compiled plan reports, leaving out the
// IBAN check-digit test, which CUE cannot express (see #IBAN).
func planPaths(s *Service, doc []byte) ([]string, error) {
	m, err := ParseDocument(bytes.NewReader(doc), Limits{})
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, e := range s.Data.CheckData(m) {
		if e.Code == CodeIBAN {
			continue
		}
		set[e.Path] = true
	}
	return sortedKeys(set), nil
}

// evaluatePaths returns the paths Evaluate, the pipeline production runs,
// reports for the data model: errors of check rules and the IBAN check
// digits are left out, and so is every path a rule decides about
// (computed, shown or required by a rule).
func evaluatePaths(s *Service, doc []byte) ([]string, error) {
	m, err := ParseDocument(bytes.NewReader(doc), Limits{})
	if err != nil {
		return nil, err
	}
	today := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	set := map[string]bool{}
	for _, e := range s.Evaluate(m, Options{Today: today}).Errors {
		if _, isCheck := s.CheckMessage(e.Code); isCheck || e.Code == CodeIBAN {
			continue
		}
		set[e.Path] = true
	}
	return ruleFree(s, sortedKeys(set)), nil
}

// misapplied returns a line for each root-level rule that applied to the
// document although a field it needs is, by CUE's verdict (failing), not
// answered or not valid: a field shown by its show rule, a value computed,
// or a routing rule taken.
func misapplied(s *Service, doc []byte, failing []string) []string {
	m, err := ParseDocument(bytes.NewReader(doc), Limits{})
	if err != nil {
		return nil
	}
	today := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	r := s.Evaluate(m, Options{Today: today})
	computed := map[string]bool{}
	for _, c := range s.computes {
		computed[c.target.Path] = true
	}
	usable := func(ref string) bool {
		if computed[ref] {
			return true // judged by its own compute rule
		}
		for _, f := range failing {
			if f == ref || strings.HasPrefix(ref, f+".") {
				return false
			}
		}
		var cur any = m
		node := s.Data
		for _, seg := range strings.Split(ref, ".") {
			if _, isList := cur.([]any); isList {
				return true
			}
			mm, _ := cur.(map[string]any)
			node = node.Field(seg)
			x, ok := mm[seg]
			if !ok || x == nil {
				return node != nil && node.HasDefault
			}
			cur = x
		}
		return true
	}
	var out []string
	check := func(what string, p *Program) {
		for _, ref := range p.strict {
			if !usable(ref) {
				out = append(out, fmt.Sprintf("%s applied, but %s is missing or invalid by CUE", what, ref))
			}
		}
	}
	hidden := map[string]bool{}
	for _, h := range r.Hidden {
		hidden[h] = true
	}
	for _, sh := range s.shows {
		if sh.prog.Scope == nil && !hidden[sh.target.Path] {
			check("show "+sh.target.Path, sh.prog)
		}
	}
	for _, c := range s.computes {
		if _, ok := r.Computed[c.target.Path]; ok && c.prog.Scope == nil {
			check("compute "+c.target.Path, c.prog)
		}
	}
	for _, rt := range s.routes {
		if rt.when != nil && rt.to == r.Office {
			check("routing to "+rt.to, rt.when)
			break
		}
	}
	return out
}

// ruleFree drops the paths at or below the target of a rule.
func ruleFree(s *Service, paths []string) []string {
	var targets []string
	for _, l := range [][]*boundRule{s.computes, s.shows, s.requires} {
		for _, r := range l {
			targets = append(targets, r.target.Path)
		}
	}
	for id := range s.pageShow {
		for _, f := range s.Form.Page(id).Fields {
			targets = append(targets, f.Path)
		}
	}
	out := paths[:0:0]
next:
	for _, p := range paths {
		np := indexRE.ReplaceAllString(p, "")
		for _, t := range targets {
			if np == t || strings.HasPrefix(np, t+".") {
				continue next
			}
		}
		out = append(out, p)
	}
	return out
}

var indexRE = regexp.MustCompile(`\[[0-9]+\]`)

// engineOnly returns the paths where the engine rejects on purpose what
// CUE accepts: numbers the engine cannot hold exactly (integers beyond
// int64, fractions beyond float64) and texts with control characters
// other than tab and line break (see checkText). It is written without
// the engine's helpers, from strconv and the definition of the rule.
func engineOnly(v any, path string, add func(string)) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			p := k
			if path != "" {
				p = path + "." + k
			}
			engineOnly(x, p, add)
		}
	case []any:
		for i, x := range v {
			engineOnly(x, fmt.Sprintf("%s[%d]", path, i), add)
		}
	case json.Number:
		s := string(v)
		if !strings.ContainsAny(s, ".eE") {
			if _, err := strconv.ParseInt(s, 10, 64); err != nil {
				add(path)
			}
			return
		}
		f, err := strconv.ParseFloat(s, 64)
		mantissa := strings.TrimLeft(strings.Split(strings.ToLower(s), "e")[0], "-+0.")
		if err != nil || (f == 0 && mantissa != "") {
			add(path)
		}
	case string:
		s := strings.ReplaceAll(v, "\r\n", "\n")
		for _, r := range s {
			if unicode.IsControl(r) && r != '\t' && r != '\n' {
				add(path)
				return
			}
		}
	}
}

func exampleDirs(t testing.TB) []string {
	dirs, _ := filepath.Glob("../examples/*")
	var out []string
	for _, d := range dirs {
		if st, err := os.Stat(d); err == nil && st.IsDir() && !IsInstallation(d) {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		t.Fatal("no examples found")
	}
	return out
}

// TestDifferential proves that the compiled plan and CUE agree: for every
// example, generated documents — valid ones and single-point mutations of
// them — get the same verdict and the same set of failing paths.
func TestDifferential(t *testing.T) {
	for _, dir := range exampleDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			src, err := LoadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Compile(src)
			if err != nil {
				t.Fatal(err)
			}
			oracle := newCUEOracle(t, src)
			g := &docGen{rnd: rand.New(rand.NewSource(1)), s: s, strict: true}
			seeds := g.seeds()
			if len(seeds) == 0 {
				t.Fatal("no valid seed documents: add valid spec tests")
			}
			docs := g.corpus(seeds, 1200)
			valid, invalid, disagree, disagreeEv, misapplies := 0, 0, 0, 0, 0
			for _, d := range docs {
				b, err := json.Marshal(d)
				if err != nil {
					t.Fatal(err)
				}
				want := withEngineOnly(oracle.failingPaths(b), b)
				got, err := planPaths(s, b)
				if err != nil {
					t.Fatalf("parse %s: %v", b, err)
				}
				if len(want) == 0 {
					valid++
				} else {
					invalid++
				}
				if strings.Join(want, " ") != strings.Join(got, " ") {
					disagree++
					if disagree <= 5 {
						t.Errorf("document %s\n  CUE:  %v\n  plan: %v", b, want, got)
					}
				}
				// The same verdict through Evaluate, on the paths no
				// rule decides about.
				wantEv := ruleFree(s, want)
				gotEv, err := evaluatePaths(s, b)
				if err != nil {
					t.Fatalf("parse %s: %v", b, err)
				}
				if strings.Join(wantEv, " ") != strings.Join(gotEv, " ") {
					disagreeEv++
					if disagreeEv <= 5 {
						t.Errorf("document %s\n  CUE:      %v\n  Evaluate: %v", b, wantEv, gotEv)
					}
				}
				// No rule applied that reads a field CUE finds missing or
				// invalid.
				for _, v := range misapplied(s, b, want) {
					misapplies++
					if misapplies <= 5 {
						t.Errorf("document %s\n  %s", b, v)
					}
				}
			}
			t.Logf("%d documents: %d valid, %d invalid by CUE; %d disagreements with CheckData, %d with Evaluate", len(docs), valid, invalid, disagree, disagreeEv)
			if len(docs) < 1000 || valid < 50 || invalid < 500 {
				t.Errorf("corpus too thin: %d documents, %d valid, %d invalid", len(docs), valid, invalid)
			}
		})
	}
}

// docGen generates documents for a service.
type docGen struct {
	rnd *rand.Rand
	s   *Service
	// strict adds the values the engine rejects on purpose while CUE
	// accepts them (see engineOnly): numbers beyond int64 and float64,
	// texts with control characters.
	strict bool
}

// seeds are the valid inputs of the designer's tests, valid also by the
// data model alone.
func (g *docGen) seeds() []map[string]any {
	var out []map[string]any
	for _, t := range g.s.Tests {
		if t.Valid && len(g.s.Data.CheckData(t.Input)) == 0 {
			out = append(out, deepCopy(t.Input))
		}
	}
	return out
}

func deepCopy(v map[string]any) map[string]any {
	b, _ := json.Marshal(v)
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	_ = d.Decode(&m)
	return m
}

// corpus returns at least n documents: re-generated valid variants of the
// seeds, and single-point mutations of those.
func (g *docGen) corpus(seeds []map[string]any, n int) []map[string]any {
	var out []map[string]any
	for len(out) < n {
		base := deepCopy(seeds[g.rnd.Intn(len(seeds))])
		g.vary(g.s.Data, base)
		out = append(out, deepCopy(base))
		// Single-point mutations of this variant.
		leaves := g.leaves(g.s.Data, base, nil)
		for k := 0; k < 6 && len(leaves) > 0; k++ {
			m := deepCopy(base)
			l := leaves[g.rnd.Intn(len(leaves))]
			g.mutate(m, l)
			out = append(out, m)
		}
	}
	return out
}

// place is a mutable spot in a document.
type place struct {
	node  *Node
	path  []any // keys (string) and indexes (int)
	list  bool  // the spot is a list
	group bool
}

func (g *docGen) leaves(n *Node, v any, path []any) []place {
	var out []place
	switch n.Kind {
	case KindStruct:
		m, _ := v.(map[string]any)
		out = append(out, place{node: n, path: path, group: true})
		for _, f := range n.Fields {
			fp := append(append([]any{}, path...), f.Name)
			if x, ok := m[f.Name]; ok {
				out = append(out, g.leaves(f, x, fp)...)
			} else {
				out = append(out, place{node: f, path: fp, group: f.Kind == KindStruct, list: f.Kind == KindList})
			}
		}
	case KindList:
		l, _ := v.([]any)
		out = append(out, place{node: n, path: path, list: true})
		for i, e := range l {
			out = append(out, g.leaves(n.Elem, e, append(append([]any{}, path...), i))...)
		}
	default:
		out = append(out, place{node: n, path: path})
	}
	return out
}

func get(doc map[string]any, path []any) (parent any, key any) {
	var cur any = doc
	for i, k := range path {
		if i == len(path)-1 {
			return cur, k
		}
		switch c := cur.(type) {
		case map[string]any:
			cur = c[k.(string)]
		case []any:
			cur = c[k.(int)]
		}
	}
	return nil, nil
}

func set(doc map[string]any, path []any, v any, del bool) {
	if len(path) == 0 {
		return
	}
	parent, key := get(doc, path)
	switch p := parent.(type) {
	case map[string]any:
		if del {
			delete(p, key.(string))
		} else {
			p[key.(string)] = v
		}
	case []any:
		if !del {
			p[key.(int)] = v
		}
	}
}

// vary replaces leaves of a valid document by other valid values where
// the generator can make them.
func (g *docGen) vary(n *Node, m map[string]any) {
	for _, f := range n.Fields {
		x, ok := m[f.Name]
		if !ok {
			continue
		}
		switch f.Kind {
		case KindStruct:
			if sub, ok := x.(map[string]any); ok {
				g.vary(f, sub)
			}
		case KindList:
			if l, ok := x.([]any); ok {
				for _, e := range l {
					if sub, ok := e.(map[string]any); ok && f.Elem.Kind == KindStruct {
						g.vary(f.Elem, sub)
					}
				}
			}
		default:
			if v, ok := g.validValue(f); ok && g.rnd.Intn(2) == 0 {
				m[f.Name] = v
			}
		}
	}
}

// validValue makes a random valid value for simple constraints.
func (g *docGen) validValue(n *Node) (any, bool) {
	if vals := enumValues(n); vals != nil {
		return jsonValue(vals[g.rnd.Intn(len(vals))]), true
	}
	if len(n.Alts) != 1 {
		return nil, false
	}
	c := n.Alts[0]
	if c.HasLiteral {
		return jsonValue(c.Literal), true
	}
	switch c.Kind {
	case KindInt:
		lo, hi := int64(-1000), int64(1000000)
		if c.Min != nil && c.Min.isI64 {
			lo = c.Min.i64
			if c.Min.Exclusive {
				lo++
			}
		}
		if c.Max != nil && c.Max.isI64 {
			hi = c.Max.i64
			if c.Max.Exclusive {
				hi--
			}
		}
		if hi < lo {
			return nil, false
		}
		return json.Number(strconv.FormatInt(lo+g.rnd.Int63n(hi-lo+1), 10)), true
	case KindString:
		if len(c.Patterns) > 0 || len(c.NotMatch) > 0 || len(c.Formats) > 0 && c.Formats[0] != "date" {
			return nil, false
		}
		if len(c.Formats) == 1 {
			return fmt.Sprintf("%04d-%02d-%02d", 1950+g.rnd.Intn(80), 1+g.rnd.Intn(12), 1+g.rnd.Intn(28)), true
		}
		lo, hi := max(c.MinRunes, 0), c.MaxRunes
		if hi < 0 {
			hi = lo + 30
		}
		hi = min(hi, lo+30)
		letters := []rune("aäbcdeöfghüijklmnopqrsßtuvwxyzÄÖÜ -")
		k := lo + g.rnd.Intn(hi-lo+1)
		r := make([]rune, k)
		for i := range r {
			r[i] = letters[g.rnd.Intn(len(letters))]
		}
		return string(r), true
	case KindBool:
		return g.rnd.Intn(2) == 0, true
	}
	return nil, false
}

func jsonValue(v any) any {
	switch v := v.(type) {
	case int64:
		return json.Number(strconv.FormatInt(v, 10))
	}
	return v
}

// mutate changes one spot of the document.
func (g *docGen) mutate(doc map[string]any, p place) {
	n := p.node
	switch {
	case p.group:
		// An unknown member, or a wrong type for the whole group.
		if g.rnd.Intn(3) > 0 {
			parent := doc
			if len(p.path) > 0 {
				pp, k := get(doc, p.path)
				switch x := pp.(type) {
				case map[string]any:
					parent, _ = x[k.(string)].(map[string]any)
				case []any:
					parent, _ = x[k.(int)].(map[string]any)
				}
			}
			if parent != nil {
				parent["unbekannt"+strconv.Itoa(g.rnd.Intn(3))] = "x"
			}
			return
		}
		set(doc, p.path, "kein Objekt", false)
	case p.list:
		parent, key := get(doc, p.path)
		var l []any
		if m, ok := parent.(map[string]any); ok {
			l, _ = m[key.(string)].([]any)
		}
		switch g.rnd.Intn(5) {
		case 0:
			set(doc, p.path, []any{}, false)
		case 1:
			if len(l) > 0 {
				for len(l) <= max(n.MaxItems, 3) {
					l = append(l, deepCopyAny(l[0]))
				}
				set(doc, p.path, l, false)
			}
		case 2:
			set(doc, p.path, nil, true)
		case 3:
			set(doc, p.path, "keine Liste", false)
		case 4:
			set(doc, p.path, append(l, json.Number("7")), false)
		}
	default:
		set(doc, p.path, g.badValue(n), g.rnd.Intn(8) == 0)
	}
}

func deepCopyAny(v any) any {
	b, _ := json.Marshal(v)
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var x any
	_ = d.Decode(&x)
	return x
}

// badValue returns a value near or beyond the node's constraints; some
// are valid, most are not.
func (g *docGen) badValue(n *Node) any {
	c := n.Alts[len(n.Alts)-1]
	cands := []any{nil, true, json.Number("1.5"), "", "x", json.Number("0"), json.Number("-1"), map[string]any{}, []any{}}
	switch c.Kind {
	case KindInt, KindNumber:
		for _, b := range []*Bound{c.Min, c.Max} {
			if b != nil && b.isI64 {
				for _, d := range []int64{-1, 0, 1} {
					cands = append(cands, json.Number(strconv.FormatInt(b.i64+d, 10)))
				}
			}
		}
		cands = append(cands, json.Number("100000000000000000000000"), json.Number("3.0"), json.Number("1e3"), "12")
		if g.strict {
			cands = append(cands, json.Number("99999999999999999999"), json.Number("-99999999999999999999"), json.Number("9223372036854775808"),
				json.Number("1e400"), json.Number("-1e400"), json.Number("1e-400"), json.Number("0e-400"))
		}
	case KindString:
		if c.MinRunes > 0 {
			cands = append(cands, strings.Repeat("ä", c.MinRunes-1), strings.Repeat("ä", c.MinRunes))
		}
		if c.MaxRunes >= 0 {
			cands = append(cands, strings.Repeat("ö", c.MaxRunes), strings.Repeat("ö", c.MaxRunes+1))
		}
		cands = append(cands, "2026-02-30", "2026-02-28", "1999-12-31", "DE89370400440532013000", "DE00370400440532013000",
			"60311", "6031", "123a", "12-14", "a@b.de", "kein@", " ", "Ä", json.Number("12"))
		if g.strict {
			cands = append(cands, "Jürgen\x00", "a\x1bb", "Zeile\r\nZeile", "Ende\r", "Zeile\nZeile\tTab", "C1\u0085")
		}
	case KindBool:
		cands = append(cands, false, "true", json.Number("1"))
	}
	// The enumeration's values and near misses; of a long code list (249
	// countries) a sample, so that the other candidates keep their share.
	alts := n.Alts
	if len(alts) > maxOracleDisjuncts {
		alts = make([]*Constraint, 8)
		for i := range alts {
			alts[i] = n.Alts[g.rnd.Intn(len(n.Alts))]
		}
	}
	for _, a := range alts {
		if a.HasLiteral {
			cands = append(cands, jsonValue(a.Literal))
			if s, ok := a.Literal.(string); ok {
				cands = append(cands, strings.ToUpper(s), s+" ", strings.ToLower(s))
			}
		}
	}
	return cands[g.rnd.Intn(len(cands))]
}
