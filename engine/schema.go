package engine

import (
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/format"
	"cuelang.org/go/cue/literal"
	"cuelang.org/go/cue/token"
)

// Kind is the type of a node of the data model.
type Kind uint8

// The kinds of data model nodes.
const (
	KindString Kind = iota + 1
	KindInt
	KindNumber
	KindBool
	KindStruct
	KindList
	KindNull
)

var kindNames = [...]string{"", "string", "int", "number", "bool", "struct", "list", "null"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "invalid"
}

// MarshalText writes the kind's name.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Node is one field of a compiled data model. Nodes are immutable once
// compiled.
type Node struct {
	// Name is the field name; Path the dotted path from the root,
	// without list indexes ("children.birthDate").
	Name string
	Path string
	Kind Kind
	// Optional is true for fields declared with "?": they may be absent.
	Optional bool
	// Default is the value a missing field takes, if HasDefault.
	Default    any
	HasDefault bool
	// Fields are a struct's members, in declaration order.
	Fields []*Node
	fieldx map[string]*Node
	// Elem describes the entries of a list. Every list node has one; for
	// a list the compiler could not translate (and reported), it is a
	// node of no kind.
	Elem               *Node
	MinItems, MaxItems int // -1: no bound
	// UniqueItems is set for a list with list.UniqueItems(): no two
	// entries may be equal.
	UniqueItems bool
	// Alts are the alternatives a scalar must match one of (a CUE
	// disjunction); most nodes have exactly one.
	Alts []*Constraint
	// Pos is where the field is declared.
	Pos Pos
	// mustGive is set for fields declared with "!": even a concrete
	// value must be given by the document.
	mustGive bool
	// Source is the CUE syntax of the field's constraints.
	Source string
	// accept is a scalar's compiled check (see compilePlan): true means
	// valid; on false, checkScalar finds the error. Nil: checkScalar only.
	accept func(any) bool
}

// Field returns the member with the given name.
func (n *Node) Field(name string) *Node { return n.fieldx[name] }

// Required reports whether a value must be present: the field is neither
// optional nor has a default.
func (n *Node) Required() bool { return !n.Optional && !n.HasDefault }

// Constraint is one conjunction of scalar constraints.
type Constraint struct {
	Kind Kind
	// Literal, if HasLiteral, is the only value allowed (an enum member).
	Literal    any
	HasLiteral bool
	Min, Max   *Bound
	NotEqual   []any
	MinRunes   int // -1: none
	MaxRunes   int // -1: none
	Patterns   []*regexp.Regexp
	NotMatch   []*regexp.Regexp
	// Format names an additional check: "date" (time.Format("2006-01-02"))
	// or "iban" (ISO 13616 check digits).
	Formats []string
	// OneOf are enumerations the value must also be a member of, as when
	// an overlay narrows a shared enumeration of a value that is not
	// itself a literal.
	OneOf [][]any
	// Name names the shipped group the constraint comes from
	// ("postalCode", "email", …), marked in the spec language by a
	// pattern !~"^amtsform:name:postalCode$" that no value matches. Its
	// errors carry it as the parameter "name", so that a catalogue can
	// say what is expected.
	Name string
}

// errImpossible reports an alternative no value can satisfy, such as "c"
// after an overlay narrowed "a" | "b" | "c" to "a" | "b". It is dropped.
var errImpossible = errors.New("no value satisfies this alternative")

// Bound is a numeric bound.
type Bound struct {
	Value     *big.Rat
	Exclusive bool
	i64       int64
	isI64     bool
}

func newBound(r *big.Rat, excl bool) *Bound {
	b := &Bound{Value: r, Exclusive: excl}
	if r.IsInt() && r.Num().IsInt64() {
		b.i64, b.isI64 = r.Num().Int64(), true
	}
	return b
}

// Number returns the bound as a JSON-friendly number.
func (b *Bound) Number() any {
	if b.isI64 {
		return b.i64
	}
	f, _ := b.Value.Float64()
	return f
}

// ibanMarker marks #IBAN in the spec language; see specs/spec/groups.cue.
const ibanMarker = "^amtsform:iban$"

// attachmentMarker marks #Attachment: the value is the id of an uploaded file.
const attachmentMarker = "^amtsform:attachment$"

// nameMarker matches the pattern that names a shipped group; see
// Constraint.Name.
var nameMarker = regexp.MustCompile(`^\^amtsform:name:([A-Za-z][A-Za-z0-9]*)\$$`)

// compileData compiles the data model value into a node tree. Constraints
// it cannot translate are reported, never dropped.
func compileData(v cue.Value, ce *CheckError) *Node {
	root := &Node{Kind: KindStruct, Pos: posOf(v), MinItems: -1, MaxItems: -1}
	compileStruct(root, v, ce, 0)
	compilePlan(root)
	return root
}

const maxSchemaDepth = 16

func compileStruct(n *Node, v cue.Value, ce *CheckError, depth int) {
	if depth > maxSchemaDepth {
		ce.add(n.Pos, n.Path, "tooDeep", "data model nested deeper than %d levels", maxSchemaDepth)
		return
	}
	n.fieldx = map[string]*Node{}
	it, err := v.Fields(cue.Optional(true))
	if err != nil {
		ce.add(posOf(v), n.Path, "cue", "%v", err)
		return
	}
	for it.Next() {
		sel := it.Selector()
		if !sel.IsString() {
			continue // definitions and hidden fields are not data
		}
		name := sel.Unquoted()
		f := it.Value()
		child := &Node{
			Name:     name,
			Path:     joinPath(n.Path, name),
			Optional: sel.ConstraintType() == cue.OptionalConstraint,
			mustGive: sel.ConstraintType() == cue.RequiredConstraint,
			Pos:      posOf(f),
			MinItems: -1, MaxItems: -1,
		}
		if !validName.MatchString(name) {
			ce.add(child.Pos, child.Path, "fieldName", "field name %q: use letters, digits and _ only, starting with a letter", name)
			continue
		}
		compileNode(child, f, ce, depth+1)
		n.Fields = append(n.Fields, child)
		n.fieldx[name] = child
	}
}

var validName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

func joinPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

func compileNode(n *Node, v cue.Value, ce *CheckError, depth int) {
	kind := v.IncompleteKind()
	if elem, ok := listElem(v); ok || kind == cue.ListKind {
		n.Kind = KindList
		n.Source = syntaxString(v)
		if !ok {
			// The rest of the compiler walks into n.Elem; a node of no
			// kind lets it go on and report the spec's other problems.
			n.Elem = &Node{Name: n.Name, Path: n.Path, Pos: n.Pos, MinItems: -1, MaxItems: -1}
			ce.add(n.Pos, n.Path, "unsupported", "%s: only open lists of one type ([...T]) are supported", n.Path)
			return
		}
		n.Elem = &Node{Name: n.Name, Path: n.Path, Pos: posOf(elem), MinItems: -1, MaxItems: -1}
		compileNode(n.Elem, elem, ce, depth+1)
		compileListBounds(n, v, ce)
		return
	}
	if kind == cue.StructKind {
		n.Kind = KindStruct
		if v.Allows(cue.AnyString) && hasPattern(v) {
			ce.add(n.Pos, n.Path, "unsupported", "%s: pattern constraints ([string]: T) are not supported; name the fields", n.Path)
		}
		compileStruct(n, v, ce, depth)
		return
	}
	expr := syntaxExpr(v)
	n.Source = formatExpr(expr)
	alts, def, hasDef, err := parseAlternatives(expr)
	evaluated := false
	if err != nil {
		// A disjunction built by a builtin, as or([for e in entries
		// {e.code}]) in a code list (spec.#CodeList), is written as the
		// call; evaluated, it is the disjunction of its values.
		ev := syntaxExpr(v.Eval())
		if ealts, edef, ehasDef, eerr := parseAlternatives(ev); eerr == nil {
			alts, def, hasDef, err = ealts, edef, ehasDef, nil
			n.Source, evaluated = formatExpr(ev), true
		}
	}
	if err != nil {
		ce.add(n.Pos, n.Path, "unsupported", "%s: %v", n.Path, err)
		return
	}
	// CUE's syntax of a disjunction unified with another can name more
	// values than the result allows (an overlay's "a" | "b" | "d" unified
	// with a shared "a" | "b" | "c" prints with "d"), so CUE itself
	// decides which literal alternatives remain. An evaluated disjunction
	// names exactly its values (asking CUE about each of the 249 values
	// of spec.#Country would take seconds).
	if !evaluated {
		alts = keepAllowed(v, alts)
	}
	if len(alts) == 0 {
		ce.add(n.Pos, n.Path, "unsupported", "%s: no value satisfies %s", n.Path, n.Source)
		return
	}
	if hasDef && !literalAllowed(v, def) {
		hasDef = false
	}
	n.Alts = alts
	if hasDef {
		n.Default, n.HasDefault = def, true
	} else if len(alts) == 1 && alts[0].HasLiteral {
		// A concrete value is its own default in CUE: a document without
		// the field is still valid. Required fields (!) are the exception.
		if !n.mustGive {
			n.Default, n.HasDefault = alts[0].Literal, true
		}
	}
	n.Kind = alts[0].Kind
	for _, a := range alts[1:] {
		if a.Kind != n.Kind && !(a.Kind == KindNull || n.Kind == KindNull) {
			ce.add(n.Pos, n.Path, "unsupported", "%s: alternatives of different types (%s, %s) are not supported", n.Path, n.Kind, a.Kind)
			return
		}
	}
}

// hasPattern reports whether a struct's syntax declares a pattern
// constraint such as [string]: int.
func hasPattern(v cue.Value) bool {
	sl, ok := unwrap(syntaxExpr(v)).(*ast.StructLit)
	if !ok {
		return false
	}
	for _, e := range sl.Elts {
		if f, ok := e.(*ast.Field); ok {
			if _, ok := f.Label.(*ast.ListLit); ok {
				return true
			}
		}
	}
	return false
}

// keepAllowed drops the literal alternatives that v does not accept.
func keepAllowed(v cue.Value, alts []*Constraint) []*Constraint {
	out := alts[:0]
	for _, a := range alts {
		if a.HasLiteral && !literalAllowed(v, a.Literal) {
			continue
		}
		out = append(out, a)
	}
	return out
}

// literalAllowed asks CUE whether v accepts the literal x.
func literalAllowed(v cue.Value, x any) bool {
	if b, ok := x.(*big.Int); ok {
		x = b.String() // encoded below as a number literal
		return v.Unify(v.Context().CompileString(x.(string))).Validate(cue.Concrete(true)) == nil
	}
	return v.Unify(v.Context().Encode(x)).Validate(cue.Concrete(true)) == nil
}

// listElem returns the element schema of an open list. When the list is
// not concrete (list.MinItems on an empty list makes it incomplete), the
// elements of all its list conjuncts — shared definition and overlay —
// are unified.
func listElem(v cue.Value) (cue.Value, bool) {
	if e := v.LookupPath(cue.MakePath(cue.AnyIndex)); e.Exists() {
		return e, true
	}
	var elems []cue.Value
	var collect func(v cue.Value)
	collect = func(v cue.Value) {
		if e := v.LookupPath(cue.MakePath(cue.AnyIndex)); e.Exists() {
			elems = append(elems, e)
			return
		}
		if op, args := v.Expr(); op == cue.AndOp {
			for _, a := range args {
				collect(a)
			}
		}
	}
	collect(v)
	if len(elems) == 0 {
		return cue.Value{}, false
	}
	e := elems[0]
	for _, x := range elems[1:] {
		e = e.Unify(x)
	}
	return e, true
}

func compileListBounds(n *Node, v cue.Value, ce *CheckError) {
	for _, c := range conjuncts(syntaxExpr(v)) {
		switch c := c.(type) {
		case *ast.ListLit:
			continue
		case *ast.CallExpr:
			name, args, err := callOf(c)
			if err == nil && name == "list.UniqueItems" && len(args) == 0 {
				n.UniqueItems = true
				continue
			}
			if err == nil && len(args) == 1 {
				if i, ok := args[0].(int64); ok && i >= 0 {
					switch name {
					case "list.MinItems":
						n.MinItems = max(n.MinItems, int(i))
						continue
					case "list.MaxItems":
						if n.MaxItems < 0 || int(i) < n.MaxItems {
							n.MaxItems = int(i)
						}
						continue
					}
				}
			}
		case *ast.Ident:
			if c.Name == "_" {
				continue
			}
		}
		ce.add(n.Pos, n.Path, "unsupported", "%s: unsupported list constraint %s", n.Path, formatExpr(c))
	}
}

func syntaxExpr(v cue.Value) ast.Expr {
	n := v.Syntax(cue.InlineImports(true))
	switch n := n.(type) {
	case *ast.File:
		for i := len(n.Decls) - 1; i >= 0; i-- {
			if e, ok := n.Decls[i].(*ast.EmbedDecl); ok {
				return e.Expr
			}
		}
		return &ast.StructLit{}
	case ast.Expr:
		return n
	}
	return &ast.BadExpr{}
}

func syntaxString(v cue.Value) string { return formatExpr(syntaxExpr(v)) }

func formatExpr(e ast.Node) string {
	b, err := format.Node(e)
	if err != nil {
		return fmt.Sprintf("%T", e)
	}
	return strings.Join(strings.Fields(string(b)), " ")
}

// unwrap removes parentheses and embedding structs ({ string }).
func unwrap(e ast.Expr) ast.Expr {
	for {
		switch x := e.(type) {
		case *ast.ParenExpr:
			e = x.X
		case *ast.StructLit:
			if len(x.Elts) == 1 {
				if em, ok := x.Elts[0].(*ast.EmbedDecl); ok {
					e = em.Expr
					continue
				}
			}
			return e
		default:
			return e
		}
	}
}

func conjuncts(e ast.Expr) []ast.Expr {
	e = unwrap(e)
	if b, ok := e.(*ast.BinaryExpr); ok && b.Op == token.AND {
		return append(conjuncts(b.X), conjuncts(b.Y)...)
	}
	return []ast.Expr{e}
}

func disjuncts(e ast.Expr) []ast.Expr {
	e = unwrap(e)
	if b, ok := e.(*ast.BinaryExpr); ok && b.Op == token.OR {
		return append(disjuncts(b.X), disjuncts(b.Y)...)
	}
	return []ast.Expr{e}
}

// parseAlternatives translates a scalar's CUE syntax into alternatives of
// constraint conjunctions.
func parseAlternatives(e ast.Expr) (alts []*Constraint, def any, hasDef bool, err error) {
	ds := disjuncts(e)
	var common []ast.Expr
	if len(ds) == 1 {
		// A conjunction of disjunctions, such as (*3 | int) & <=10, is
		// distributed: each alternative gets the other conjuncts too.
		var inner []ast.Expr
		for _, c := range conjuncts(e) {
			if d := disjuncts(c); len(d) > 1 && inner == nil {
				inner = d
			} else {
				common = append(common, c)
			}
		}
		if inner == nil {
			common = nil
		} else {
			ds = inner
		}
	}
	for _, d := range ds {
		isDef := false
		if u, ok := unwrap(d).(*ast.UnaryExpr); ok && u.Op == token.MUL {
			d, isDef = u.X, true
		}
		c, lit, err := parseConjunction(append(conjuncts(d), common...))
		if errors.Is(err, errImpossible) {
			continue
		}
		if err != nil {
			return nil, nil, false, err
		}
		if isDef {
			if !c.HasLiteral {
				return nil, nil, false, fmt.Errorf("default %s is not a concrete value", formatExpr(d))
			}
			def, hasDef = lit, true
		}
		alts = append(alts, c)
	}
	if len(alts) == 0 {
		return nil, nil, false, fmt.Errorf("no value satisfies %s", formatExpr(e))
	}
	return alts, def, hasDef, nil
}

// basicKinds are the CUE type names a scalar may be declared with.
var basicKinds = map[string]Kind{"string": KindString, "int": KindInt, "number": KindNumber, "bool": KindBool}

var intTypes = map[string][2]string{
	"uint":   {"0", ""},
	"uint8":  {"0", "255"},
	"byte":   {"0", "255"},
	"uint16": {"0", "65535"},
	"uint32": {"0", "4294967295"},
	"uint64": {"0", "18446744073709551615"},
	"int8":   {"-128", "127"},
	"int16":  {"-32768", "32767"},
	"int32":  {"-2147483648", "2147483647"},
	"rune":   {"0", "1114111"},
	"int64":  {"-9223372036854775808", "9223372036854775807"},
}

func parseConjunction(cs []ast.Expr) (*Constraint, any, error) {
	c := &Constraint{MinRunes: -1, MaxRunes: -1}
	var lit any
	setKind := func(k Kind, e ast.Expr) error {
		if c.Kind == 0 || c.Kind == k {
			c.Kind = k
			return nil
		}
		if (c.Kind == KindNumber && k == KindInt) || (c.Kind == KindInt && k == KindNumber) {
			c.Kind = KindInt
			return nil
		}
		return fmt.Errorf("%s conflicts with type %s", formatExpr(e), c.Kind)
	}
	for _, e := range cs {
		e = unwrap(e)
		switch x := e.(type) {
		case *ast.Ident:
			if k, ok := basicKinds[x.Name]; ok {
				if err := setKind(k, x); err != nil {
					return nil, nil, err
				}
				continue
			}
			switch x.Name {
			case "_":
			default:
				r, ok := intTypes[x.Name]
				if !ok {
					return nil, nil, fmt.Errorf("unsupported constraint %s", x.Name)
				}
				if err := setKind(KindInt, x); err != nil {
					return nil, nil, err
				}
				lo, _ := new(big.Rat).SetString(r[0])
				c.Min = tighterMin(c.Min, newBound(lo, false))
				if r[1] != "" {
					hi, _ := new(big.Rat).SetString(r[1])
					c.Max = tighterMax(c.Max, newBound(hi, false))
				}
			}
		case *ast.BasicLit, *ast.UnaryExpr:
			if u, ok := x.(*ast.UnaryExpr); ok && u.Op != token.SUB && u.Op != token.ADD {
				if err := parseBound(c, u, setKind); err != nil {
					return nil, nil, err
				}
				continue
			}
			v, k, err := literalOf(x)
			if err != nil {
				return nil, nil, err
			}
			if err := setKind(k, x); err != nil {
				return nil, nil, err
			}
			if c.HasLiteral && !equalValues(c.Literal, v) {
				return nil, nil, errImpossible // this alternative conflicts with a narrowing literal
			}
			c.Literal, c.HasLiteral, lit = v, true, v
		case *ast.BinaryExpr:
			if x.Op != token.OR {
				return nil, nil, fmt.Errorf("unsupported constraint %s", formatExpr(x))
			}
			var vals []any
			for _, d := range disjuncts(x) {
				if u, ok := unwrap(d).(*ast.UnaryExpr); ok && u.Op == token.MUL {
					d = u.X // a default inside a narrowing enumeration
				}
				v, k, err := literalOf(d)
				if err != nil {
					return nil, nil, fmt.Errorf("unsupported constraint %s: only enumerations of literals can be combined", formatExpr(x))
				}
				if err := setKind(k, d); err != nil {
					return nil, nil, err
				}
				vals = append(vals, v)
			}
			c.OneOf = append(c.OneOf, vals)
		case *ast.CallExpr:
			name, args, err := callOf(x)
			if err != nil {
				return nil, nil, err
			}
			switch {
			case (name == "strings.MinRunes" || name == "strings.MaxRunes") && len(args) == 1:
				n, ok := args[0].(int64)
				if !ok || n < 0 {
					return nil, nil, fmt.Errorf("%s needs a non-negative integer", name)
				}
				if err := setKind(KindString, x); err != nil {
					return nil, nil, err
				}
				if name == "strings.MinRunes" {
					c.MinRunes = max(c.MinRunes, int(n))
				} else if c.MaxRunes < 0 || int(n) < c.MaxRunes {
					c.MaxRunes = int(n)
				}
			case name == "time.Format" && len(args) == 1 && args[0] == "2006-01-02":
				if err := setKind(KindString, x); err != nil {
					return nil, nil, err
				}
				c.Formats = appendUnique(c.Formats, "date")
			default:
				return nil, nil, fmt.Errorf("unsupported constraint %s", formatExpr(x))
			}
		default:
			return nil, nil, fmt.Errorf("unsupported constraint %s", formatExpr(x))
		}
	}
	if c.Kind == 0 {
		return nil, nil, fmt.Errorf("no type given (use string, int, number or bool)")
	}
	if c.HasLiteral && len(c.OneOf) > 0 {
		for _, vals := range c.OneOf {
			if !containsValue(vals, c.Literal) {
				return nil, nil, errImpossible
			}
		}
		c.OneOf = nil // the literal is a member of every enumeration
	}
	if c.Kind == KindInt && c.HasLiteral {
		if _, ok := c.Literal.(int64); !ok {
			return nil, nil, fmt.Errorf("%v is not an integer", c.Literal)
		}
	}
	return c, lit, nil
}

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

func parseBound(c *Constraint, u *ast.UnaryExpr, setKind func(Kind, ast.Expr) error) error {
	switch u.Op {
	case token.MAT, token.NMAT:
		v, k, err := literalOf(u.X)
		if err != nil || k != KindString {
			return fmt.Errorf("%s: pattern must be a string literal", formatExpr(u))
		}
		s := v.(string)
		re, err := regexp.Compile(s)
		if err != nil {
			return fmt.Errorf("invalid pattern %q: %v", s, err)
		}
		if err := setKind(KindString, u); err != nil {
			return err
		}
		if u.Op == token.MAT {
			c.Patterns = append(c.Patterns, re)
		} else if s == ibanMarker {
			c.Formats = appendUnique(c.Formats, "iban")
		} else if s == attachmentMarker {
			c.Formats = appendUnique(c.Formats, "attachment")
		} else if m := nameMarker.FindStringSubmatch(s); m != nil {
			c.Name = m[1]
		} else {
			c.NotMatch = append(c.NotMatch, re)
		}
		return nil
	case token.GEQ, token.GTR, token.LEQ, token.LSS, token.NEQ:
		v, k, err := literalOf(u.X)
		if err != nil {
			return fmt.Errorf("%s: bound must be a literal", formatExpr(u))
		}
		if u.Op == token.NEQ {
			if err := setKind(k, u); err != nil {
				return err
			}
			c.NotEqual = append(c.NotEqual, v)
			return nil
		}
		if k != KindInt && k != KindNumber {
			return fmt.Errorf("%s: only numeric bounds are supported", formatExpr(u))
		}
		if err := setKind(KindNumber, u); err != nil {
			return err
		}
		r := toRat(v)
		switch u.Op {
		case token.GEQ:
			c.Min = tighterMin(c.Min, newBound(r, false))
		case token.GTR:
			c.Min = tighterMin(c.Min, newBound(r, true))
		case token.LEQ:
			c.Max = tighterMax(c.Max, newBound(r, false))
		case token.LSS:
			c.Max = tighterMax(c.Max, newBound(r, true))
		}
		return nil
	}
	return fmt.Errorf("unsupported constraint %s", formatExpr(u))
}

func tighterMin(a, b *Bound) *Bound {
	if a == nil {
		return b
	}
	switch a.Value.Cmp(b.Value) {
	case -1:
		return b
	case 0:
		if b.Exclusive {
			return b
		}
	}
	return a
}

func tighterMax(a, b *Bound) *Bound {
	if a == nil {
		return b
	}
	switch a.Value.Cmp(b.Value) {
	case 1:
		return b
	case 0:
		if b.Exclusive {
			return b
		}
	}
	return a
}

func toRat(v any) *big.Rat {
	switch v := v.(type) {
	case int64:
		return new(big.Rat).SetInt64(v)
	case *big.Int:
		return new(big.Rat).SetInt(v)
	case float64:
		r, _ := new(big.Rat).SetString(strconv.FormatFloat(v, 'g', -1, 64))
		return r
	case *big.Rat:
		return v
	}
	return new(big.Rat)
}

// literalOf evaluates a literal: a string, number, bool or null,
// possibly negated.
func literalOf(e ast.Expr) (any, Kind, error) {
	e = unwrap(e)
	neg := false
	if u, ok := e.(*ast.UnaryExpr); ok && (u.Op == token.SUB || u.Op == token.ADD) {
		neg = u.Op == token.SUB
		e = unwrap(u.X)
	}
	if id, ok := e.(*ast.Ident); ok {
		switch id.Name {
		case "true", "false":
			return id.Name == "true", KindBool, nil
		case "null":
			return nil, KindNull, nil
		}
	}
	b, ok := e.(*ast.BasicLit)
	if !ok {
		return nil, 0, fmt.Errorf("%s is not a literal", formatExpr(e))
	}
	switch b.Kind {
	case token.STRING:
		if neg {
			return nil, 0, fmt.Errorf("cannot negate a string")
		}
		s, err := literal.Unquote(b.Value)
		if err != nil {
			return nil, 0, err
		}
		return s, KindString, nil
	case token.TRUE, token.FALSE:
		return b.Kind == token.TRUE, KindBool, nil
	case token.NULL:
		return nil, KindNull, nil
	case token.INT:
		s, err := numText(b.Value, neg)
		if err != nil {
			return nil, 0, err
		}
		i, ok := new(big.Int).SetString(s, 0)
		if !ok {
			return nil, 0, fmt.Errorf("invalid integer %s", b.Value)
		}
		if i.IsInt64() {
			return i.Int64(), KindInt, nil
		}
		return i, KindInt, nil
	case token.FLOAT:
		s, err := numText(b.Value, neg)
		if err != nil {
			return nil, 0, err
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, 0, err
		}
		return f, KindNumber, nil
	}
	return nil, 0, fmt.Errorf("unsupported literal %s", b.Value)
}

// numText normalises a CUE number literal (1_000, 0x10, 1e3) to the text
// Go parses, with a sign.
func numText(lit string, neg bool) (string, error) {
	var ni literal.NumInfo
	if err := literal.ParseNum(lit, &ni); err != nil {
		return "", err
	}
	if neg {
		return "-" + ni.String(), nil
	}
	return ni.String(), nil
}

// callOf decodes a call of a builtin with literal arguments.
func callOf(c *ast.CallExpr) (string, []any, error) {
	sel, ok := c.Fun.(*ast.SelectorExpr)
	if !ok {
		return "", nil, fmt.Errorf("unsupported call %s", formatExpr(c))
	}
	pkg, ok := sel.X.(*ast.Ident)
	if !ok {
		return "", nil, fmt.Errorf("unsupported call %s", formatExpr(c))
	}
	name := pkg.Name + "." + identName(sel.Sel)
	var args []any
	for _, a := range c.Args {
		v, _, err := literalOf(a)
		if err != nil {
			return "", nil, fmt.Errorf("%s: arguments must be literals", formatExpr(c))
		}
		args = append(args, v)
	}
	return name, args, nil
}

func identName(l ast.Label) string {
	if id, ok := l.(*ast.Ident); ok {
		return id.Name
	}
	return fmt.Sprint(l)
}

func containsValue(vals []any, v any) bool {
	for _, x := range vals {
		if equalValues(x, v) {
			return true
		}
	}
	return false
}

func equalValues(a, b any) bool {
	switch a := a.(type) {
	case *big.Int:
		if b, ok := b.(*big.Int); ok {
			return a.Cmp(b) == 0
		}
		return false
	}
	return a == b
}

// explainProblems rewrites the problems CUE reports for a spec that does
// not unify with the spec language into the designer's terms:
//
//   - a value outside an enumeration of the spec language (a widget, say)
//     is one problem at the designer's value that lists the allowed
//     values, not one per alternative at the spec language's line;
//   - a field a closed definition does not allow names the field and
//     the nearest allowed one.
//
// raw are CUE's errors with all their positions (the designer's value is
// among them); root is the package value.
func explainProblems(ce *CheckError, raw []cueerrors.Error, root cue.Value) *CheckError {
	out := &CheckError{}
	for i := 0; i < len(ce.Problems); i++ {
		p := ce.Problems[i]
		if p.Code != "cue" || p.Path == "" {
			out.Problems = append(out.Problems, p)
			continue
		}
		if n := emptyDisjunction(p.Message); n > 0 {
			if q, ok := explainDisjunction(p.Path, raw); ok {
				out.Problems = append(out.Problems, q)
				for j := 0; j < n && i+1 < len(ce.Problems) && ce.Problems[i+1].Path == p.Path; j++ {
					i++
				}
				continue
			}
		}
		if p.Message == "field not allowed" && root.Exists() {
			p.Message = explainNotAllowed(p.Path, root)
		}
		out.Problems = append(out.Problems, p)
	}
	return out
}

// emptyDisjunction returns N for CUE's "N errors in empty disjunction:",
// or 0.
func emptyDisjunction(msg string) int {
	var n int
	if _, err := fmt.Sscanf(msg, "%d errors in empty disjunction:", &n); err != nil {
		return 0
	}
	return n
}

// explainDisjunction turns CUE's errors for a value that matches no
// alternative of an enumeration at path into one problem at the value.
func explainDisjunction(path string, raw []cueerrors.Error) (Problem, bool) {
	var pairs [][2]string
	var pos Pos
	for _, e := range raw {
		if strings.Join(e.Path(), ".") != path {
			continue
		}
		format, args := e.Msg()
		if strings.HasSuffix(format, "errors in empty disjunction:") {
			continue
		}
		if !strings.HasPrefix(format, "conflicting values %s and %s") || len(args) < 2 {
			return Problem{}, false
		}
		pairs = append(pairs, [2]string{fmt.Sprint(args[0]), fmt.Sprint(args[1])})
		for _, q := range cueerrors.Positions(e) {
			if q.IsValid() && !strings.Contains(q.Filename(), "cue.mod") {
				pos = Pos{File: q.Filename(), Line: q.Line(), Col: q.Column()}
			}
		}
	}
	if len(pairs) < 2 || pos.File == "" {
		return Problem{}, false
	}
	// The designer's value is the one every alternative conflicts with;
	// CUE names it first or second.
	value, allowed := "", []string{}
	for side := 0; side < 2 && value == ""; side++ {
		allowed = allowed[:0]
		for _, pr := range pairs {
			if pr[side] != pairs[0][side] {
				allowed = nil
				break
			}
			allowed = append(allowed, pr[1-side])
		}
		if allowed != nil {
			value = pairs[0][side]
		}
	}
	if value == "" {
		return Problem{}, false
	}
	for _, a := range allowed {
		if !isLiteral(a) {
			return Problem{}, false
		}
	}
	sort.Strings(allowed)
	msg := fmt.Sprintf("%s: %s is not allowed; use one of %s", designerPath(path), value, strings.Join(allowed, ", "))
	return Problem{Pos: pos, Path: path, Code: "cue", Message: msg}, true
}

// isLiteral reports whether s is CUE's rendering of a scalar literal.
func isLiteral(s string) bool {
	if _, err := strconv.Unquote(s); err == nil {
		return true
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return true
	}
	return s == "true" || s == "false" || s == "null"
}

// explainNotAllowed describes a field at path that a closed definition
// does not allow, with the nearest allowed name.
func explainNotAllowed(path string, root cue.Value) string {
	i := strings.LastIndexByte(path, '.')
	if i < 0 {
		return fmt.Sprintf("field %q is not allowed here", path)
	}
	parent, name := path[:i], path[i+1:]
	msg := fmt.Sprintf("%s: field %q is not allowed", designerPath(parent), name)
	if !root.Exists() {
		return msg
	}
	var names []string
	if it, err := root.LookupPath(cue.ParsePath(parent)).Fields(cue.Optional(true)); err == nil {
		for it.Next() {
			if n := it.Selector().Unquoted(); n != name {
				names = append(names, n)
			}
		}
	}
	if s := closest(name, names); s != "" {
		msg += "; did you mean " + s + "?"
	}
	return msg
}

// designerPath drops the leading "service." of a CUE path: the designer
// writes the service's fields inside it.
func designerPath(path string) string {
	if p, ok := strings.CutPrefix(path, "service."); ok {
		return p
	}
	return path
}
