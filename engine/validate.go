package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// FieldError is one problem with a document: where it is, a stable code,
// and parameters for the message. It carries no text: messages are
// produced from the code by a catalogue (package messages), so the engine
// stays language-neutral.
type FieldError struct {
	// Path locates the value, with list indexes: "children[1].birthDate".
	Path string `json:"path"`
	// Code is one of the Code constants, or the id of a check rule.
	Code string `json:"code"`
	// Params are the constraint's parameters, e.g. {"min": 1}.
	Params map[string]any `json:"params,omitempty"`
}

// The stable error codes of the validation plan.
const (
	CodeRequired  = "required"
	CodeType      = "type"
	CodeMin       = "min"
	CodeMax       = "max"
	CodeMinLength = "minLength"
	CodeMaxLength = "maxLength"
	CodePattern   = "pattern"
	CodeEnum      = "enum"
	CodeMinItems  = "minItems"
	CodeMaxItems  = "maxItems"
	// CodeUniqueItems: a list with list.UniqueItems() holds an entry twice.
	CodeUniqueItems  = "uniqueItems"
	CodeUnknownField = "unknownField"
	CodeIBAN         = "iban"
	CodeDate         = "date"
	CodeNotEqual     = "notEqual"
	// CodeAttachment: a file is named that was not uploaded for this
	// application.
	CodeAttachment = "attachment"
	// CodeAttachmentType: an uploaded file is not of a type the field
	// accepts (params: "accept", the content types).
	CodeAttachmentType = "attachmentType"
	// CodeAttachmentSize: an uploaded file is larger than the field
	// accepts (params: "maxBytes").
	CodeAttachmentSize = "attachmentSize"
	// CodeControl: a text holds a control character other than tab and
	// line break (NUL, escape, a lone carriage return, C1 controls…) or
	// an invisible format character (a bidirectional override, a zero
	// width space…; see CheckText).
	CodeControl = "control"
	// CodeEncoding: a text is not valid UTF-8.
	CodeEncoding = "encoding"
)

// ValidationError reports every problem found in a document at once.
type ValidationError struct {
	Errors []FieldError
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("invalid document:")
	for i, fe := range e.Errors {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(" ")
		b.WriteString(fe.Path)
		b.WriteString(": ")
		b.WriteString(fe.Code)
	}
	return b.String()
}

// pathElem is a lazily rendered document path.
type pathElem struct {
	parent *pathElem
	name   string
	index  int // -1 for a field name
}

func (p *pathElem) String() string {
	if p == nil {
		return ""
	}
	var b strings.Builder
	p.write(&b)
	return b.String()
}

// write renders the path, parents first. It recurses rather than
// collecting the elements, so that paths built on the stack stay there.
func (p *pathElem) write(b *strings.Builder) {
	if p.parent != nil {
		p.parent.write(b)
	}
	if p.index >= 0 {
		b.WriteByte('[')
		b.WriteString(strconv.Itoa(p.index))
		b.WriteByte(']')
		return
	}
	if b.Len() > 0 {
		b.WriteByte('.')
	}
	b.WriteString(p.name)
}

// validator walks the data model and a document side by side. The path
// it is at is a stack of segments, rendered only for an error or a rule
// lookup: a valid document costs no allocation.
type validator struct {
	errs []FieldError
	// ev, if set, is the evaluation whose rules hide fields (hidden ones
	// are neither required nor validated) and require optional ones.
	ev *evaluation
	// segs[:depth] is the current path; deeper paths than segs holds
	// continue in more (the data model's nesting is bounded, so this is
	// not expected).
	segs  [2*maxSchemaDepth + 4]pathSeg
	depth int
	more  []pathSeg
}

// pathSeg is one step of a path: a member name, or a list index.
type pathSeg struct {
	name  string
	index int // -1 for a member name
}

func (vd *validator) push(name string, index int) {
	if vd.depth < len(vd.segs) {
		vd.segs[vd.depth] = pathSeg{name: name, index: index}
	} else {
		vd.more = append(vd.more[:vd.depth-len(vd.segs)], pathSeg{name: name, index: index})
	}
	vd.depth++
}

func (vd *validator) pop() { vd.depth-- }

// path renders the current path: "children[1].birthDate".
func (vd *validator) path() string {
	if vd.depth <= len(vd.segs) {
		return renderPath(vd.segs[:vd.depth])
	}
	return renderPath(append(vd.segs[:len(vd.segs):len(vd.segs)], vd.more[:vd.depth-len(vd.segs)]...))
}

// renderPath writes segments as a path: "children[1].birthDate".
func renderPath(segs []pathSeg) string {
	var b strings.Builder
	for _, sg := range segs {
		if sg.index >= 0 {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(sg.index))
			b.WriteByte(']')
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(sg.name)
	}
	return b.String()
}

// skip reports whether the value at a node is hidden by a rule.
func (vd *validator) skip(n *Node) bool {
	ev := vd.ev
	return ev != nil && len(ev.hidden) > 0 && ev.s.hideable[n.Path] && ev.hidden[vd.path()]
}

// required reports whether the optional node at the current path is
// required by a rule.
func (vd *validator) required() bool {
	ev := vd.ev
	return ev != nil && len(ev.required) > 0 && ev.required[vd.path()]
}

func (vd *validator) add(code string, params map[string]any) {
	vd.errs = append(vd.errs, FieldError{Path: vd.path(), Code: code, Params: params})
}

// CheckData validates doc against the data model alone — types,
// constraints, required and unknown fields — without rules. It returns all
// errors, sorted by path.
func (n *Node) CheckData(doc map[string]any) []FieldError {
	var vd validator
	vd.structFields(n, doc)
	sortErrors(vd.errs)
	return vd.errs
}

func sortErrors(errs []FieldError) {
	slices.SortStableFunc(errs, func(a, b FieldError) int { return strings.Compare(a.Path, b.Path) })
}

func (vd *validator) structFields(n *Node, m map[string]any) {
	known := 0
	for _, f := range n.Fields {
		v, ok := m[f.Name]
		if ok {
			known++
		}
		vd.push(f.Name, -1)
		switch {
		case vd.ev != nil && vd.skip(f):
		case !ok:
			vd.missing(f)
		default:
			vd.value(f, v)
		}
		vd.pop()
	}
	if known < len(m) {
		var unknown []string
		for k := range m {
			if n.fieldx[k] == nil {
				unknown = append(unknown, k)
			}
		}
		sort.Strings(unknown)
		for _, k := range unknown {
			vd.push(k, -1)
			vd.add(CodeUnknownField, nil)
			vd.pop()
		}
	}
}

// missing handles an absent field: a required scalar or list is an error;
// a required group is checked member by member, as if empty.
func (vd *validator) missing(f *Node) {
	if f.HasDefault {
		return
	}
	if f.Optional && !vd.required() {
		return
	}
	switch f.Kind {
	case KindStruct:
		if f.Optional {
			vd.add(CodeRequired, nil)
			return
		}
		vd.structFields(f, nil)
	case KindList:
		if f.MinItems > 0 || f.Optional {
			vd.add(CodeRequired, nil)
		}
	default:
		vd.add(CodeRequired, nil)
	}
}

func (vd *validator) value(n *Node, v any) {
	switch n.Kind {
	case KindStruct:
		m, ok := v.(map[string]any)
		if !ok {
			vd.add(CodeType, map[string]any{"type": "struct"})
			return
		}
		vd.structFields(n, m)
	case KindList:
		l, ok := v.([]any)
		if !ok {
			vd.add(CodeType, map[string]any{"type": "list"})
			return
		}
		if n.MinItems >= 0 && len(l) < n.MinItems {
			vd.add(CodeMinItems, map[string]any{"min": n.MinItems})
		}
		if n.MaxItems >= 0 && len(l) > n.MaxItems {
			vd.add(CodeMaxItems, map[string]any{"max": n.MaxItems})
		}
		if n.UniqueItems {
			if i := firstDuplicate(l); i >= 0 {
				vd.add(CodeUniqueItems, map[string]any{"index": i})
			}
		}
		for i, e := range l {
			vd.push("", i)
			if e == nil && n.Elem.Kind != KindNull {
				vd.add(CodeType, map[string]any{"type": n.Elem.Kind.String()})
			} else {
				vd.value(n.Elem, e)
			}
			vd.pop()
		}
	default:
		if n.accept != nil && n.accept(v) {
			return
		}
		if code, params := n.checkScalar(v); code != "" {
			if code == CodeMinLength && v == "" && !n.Optional {
				// An empty text where one is required is unanswered, as
				// the form (which drops empty inputs) reports it too.
				code, params = CodeRequired, nil
			}
			vd.add(code, params)
		}
	}
}

// firstDuplicate returns the index of the first entry of l that equals an
// earlier one, or -1. Numbers are equal by value (1, 1.0 and 1e0 are the
// same number), as CUE compares them.
func firstDuplicate(l []any) int {
	if len(l) < 2 {
		return -1
	}
	seen := make(map[string]bool, len(l))
	var b strings.Builder
	for i, e := range l {
		b.Reset()
		writeKey(&b, e)
		k := b.String()
		if seen[k] {
			return i
		}
		seen[k] = true
	}
	return -1
}

// writeKey writes a canonical form of a document value.
func writeKey(b *strings.Builder, v any) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for _, k := range keys {
			b.WriteString(strconv.Quote(k))
			b.WriteByte(':')
			writeKey(b, x[k])
			b.WriteByte(',')
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for _, e := range x {
			writeKey(b, e)
			b.WriteByte(',')
		}
		b.WriteByte(']')
	case string:
		b.WriteString(strconv.Quote(x))
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	default:
		if n, ok := toNum(v); ok {
			b.WriteByte('#')
			b.WriteString(n.rat().RatString())
			return
		}
		b.WriteString("?")
	}
}

// compilePlan compiles, once per service, the check of every scalar of
// the data model into a closure that answers only "valid": it does the
// work of checkScalar for a valid value without its generality, and
// leaves finding the error to checkScalar. Constraints it has no fast
// form for (number bounds, enumerations narrowed by overlays, !=) get
// none, and are checked by checkScalar alone.
func compilePlan(n *Node) {
	switch n.Kind {
	case KindStruct:
		for _, f := range n.Fields {
			compilePlan(f)
		}
	case KindList:
		if n.Elem != nil {
			compilePlan(n.Elem)
		}
	default:
		n.accept = acceptOf(n)
	}
}

func acceptOf(n *Node) func(any) bool {
	if len(n.Alts) == 0 {
		return nil
	}
	var lits []string
	for _, c := range n.Alts {
		if s, ok := c.Literal.(string); ok && c.HasLiteral && c.Kind == KindString {
			lits = append(lits, s)
		}
	}
	if len(lits) == len(n.Alts) {
		return func(v any) bool {
			s, ok := v.(string)
			return ok && slices.Contains(lits, s)
		}
	}
	alts := make([]func(any) bool, len(n.Alts))
	for i, c := range n.Alts {
		if alts[i] = c.acceptOf(); alts[i] == nil {
			return nil
		}
	}
	if len(alts) == 1 {
		return alts[0]
	}
	return func(v any) bool {
		for _, a := range alts {
			if a(v) {
				return true
			}
		}
		return false
	}
}

// acceptOf compiles one alternative; see compilePlan.
func (c *Constraint) acceptOf() func(any) bool {
	if len(c.OneOf) > 0 || len(c.NotEqual) > 0 {
		return nil
	}
	switch c.Kind {
	case KindNull:
		return func(v any) bool { return v == nil }
	case KindBool:
		if !c.HasLiteral {
			return func(v any) bool { _, ok := v.(bool); return ok }
		}
		lit, ok := c.Literal.(bool)
		if !ok {
			return nil
		}
		return func(v any) bool { b, ok := v.(bool); return ok && b == lit }
	case KindString:
		if c.HasLiteral {
			lit, ok := c.Literal.(string)
			if !ok {
				return nil
			}
			return func(v any) bool { s, ok := v.(string); return ok && s == lit }
		}
		return c.acceptString()
	case KindInt:
		if c.HasLiteral {
			return nil
		}
		lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
		if b := c.Min; b != nil {
			if !b.isI64 || (b.Exclusive && b.i64 == math.MaxInt64) {
				return nil
			}
			lo = b.i64
			if b.Exclusive {
				lo++
			}
		}
		if b := c.Max; b != nil {
			if !b.isI64 || (b.Exclusive && b.i64 == math.MinInt64) {
				return nil
			}
			hi = b.i64
			if b.Exclusive {
				hi--
			}
		}
		return func(v any) bool {
			var i int64
			switch x := v.(type) {
			case json.Number:
				var ok bool
				if i, ok = parseIntLiteral(string(x)); !ok {
					return false
				}
			case int64:
				i = x
			case int:
				i = int64(x)
			default:
				return false
			}
			return i >= lo && i <= hi
		}
	}
	return nil
}

func (c *Constraint) acceptString() func(any) bool {
	minRunes, maxRunes := c.MinRunes, c.MaxRunes
	var match, notMatch []func(string) bool
	for _, re := range c.Patterns {
		match = append(match, matcherFor(re))
	}
	for _, re := range c.NotMatch {
		notMatch = append(notMatch, matcherFor(re))
	}
	date, iban := slices.Contains(c.Formats, "date"), slices.Contains(c.Formats, "iban")
	return func(v any) bool {
		s, ok := v.(string)
		if !ok {
			return false
		}
		n, code := CheckText(s)
		if code != "" || (minRunes >= 0 && n < minRunes) || (maxRunes >= 0 && n > maxRunes) {
			return false
		}
		for _, m := range match {
			if !m(s) {
				return false
			}
		}
		for _, m := range notMatch {
			if m(s) {
				return false
			}
		}
		return (!date || validDate(s)) && (!iban || validIBAN(s))
	}
}

// checkScalar returns the code of the first failed constraint, or "".
// Parameters are built only for the error it reports.
func (n *Node) checkScalar(v any) (string, map[string]any) {
	if len(n.Alts) == 1 {
		return n.Alts[0].check(v, true)
	}
	allLiteral := true
	var first *Constraint
	for _, a := range n.Alts {
		if code, _ := a.check(v, false); code == "" {
			return "", nil
		}
		if !a.HasLiteral {
			allLiteral = false
			if first == nil {
				first = a
			}
		}
	}
	if allLiteral {
		if _, ok := kindOf(v, n.Kind); !ok {
			return CodeType, map[string]any{"type": n.Kind.String()}
		}
		vals := make([]any, len(n.Alts))
		for i, a := range n.Alts {
			vals[i] = a.Literal
		}
		return CodeEnum, map[string]any{"values": vals}
	}
	return first.check(v, true)
}

// num is a document number, exact where it matters.
type num struct {
	isInt bool
	i     int64
	i64   bool // i holds the value
	f     float64
	text  string
	// out is set for a number the engine cannot hold: an integer beyond
	// int64, or a fraction beyond float64 (overflowing to ±Inf or
	// underflowing to 0 although it is not 0). Such numbers are reported,
	// never rounded into a different, perhaps valid, value.
	out bool
}

// maxExactExponent bounds the decimal exponent rat expands exactly:
// beyond it (only for numbers of float64 range written with many
// digits) the float64 value is used, so that "1e999999999" cannot make
// the validator compute a huge power of ten.
const maxExactExponent = 400

func (x num) rat() *big.Rat {
	if x.i64 {
		return new(big.Rat).SetInt64(x.i)
	}
	if exponentOf(x.text) <= maxExactExponent {
		if r, ok := new(big.Rat).SetString(x.text); ok {
			return r
		}
	}
	r := new(big.Rat)
	if !math.IsInf(x.f, 0) && !math.IsNaN(x.f) {
		r.SetFloat64(x.f)
	}
	return r
}

// exponentOf returns the magnitude of the exponent of a number literal,
// 0 if it has none, or a large value if the exponent does not fit.
func exponentOf(s string) int {
	i := strings.IndexAny(s, "eE")
	if i < 0 {
		return 0
	}
	e := s[i+1:]
	if e != "" && (e[0] == '+' || e[0] == '-') {
		e = e[1:]
	}
	if len(e) > 6 {
		return math.MaxInt32
	}
	n, err := strconv.Atoi(e)
	if err != nil {
		return math.MaxInt32
	}
	return n
}

// kindOf reports whether v has kind k and, for numbers, decodes it.
func kindOf(v any, k Kind) (num, bool) {
	switch k {
	case KindString:
		_, ok := v.(string)
		return num{}, ok
	case KindBool:
		_, ok := v.(bool)
		return num{}, ok
	case KindNull:
		return num{}, v == nil
	case KindInt, KindNumber:
		x, ok := toNum(v)
		if !ok {
			return x, false
		}
		if k == KindInt && !x.isInt {
			return x, false
		}
		return x, true
	}
	return num{}, false
}

func toNum(v any) (num, bool) {
	switch v := v.(type) {
	case json.Number:
		s := string(v)
		if isIntLiteral(s) {
			i, err := strconv.ParseInt(s, 10, 64)
			if err == nil {
				return num{isInt: true, i: i, i64: true, f: float64(i), text: s}, true
			}
			f, _ := strconv.ParseFloat(s, 64)
			return num{isInt: true, f: f, text: s, out: true}, true
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return num{}, false
		}
		out := err != nil || (f == 0 && !zeroLiteral(s))
		return num{f: f, text: s, out: out}, true
	case int:
		return num{isInt: true, i: int64(v), i64: true, f: float64(v), text: strconv.Itoa(v)}, true
	case int64:
		return num{isInt: true, i: v, i64: true, f: float64(v), text: strconv.FormatInt(v, 10)}, true
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return num{}, false
		}
		return num{f: v, text: strconv.FormatFloat(v, 'g', -1, 64)}, true
	}
	return num{}, false
}

// zeroLiteral reports whether a number literal denotes zero: its digits
// before the exponent are all 0.
func zeroLiteral(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == 'e' || c == 'E':
			return true
		case c >= '1' && c <= '9':
			return false
		}
	}
	return true
}

// parseIntLiteral returns the value of an integer literal (isIntLiteral)
// that fits int64, as toNum decodes it.
func parseIntLiteral(s string) (int64, bool) {
	digits := s
	if digits != "" && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 18 {
		// No digits, or possibly beyond int64: the general way.
		if !isIntLiteral(s) {
			return 0, false
		}
		i, err := strconv.ParseInt(s, 10, 64)
		return i, err == nil
	}
	var i int64
	for k := 0; k < len(digits); k++ {
		c := digits[k]
		if c < '0' || c > '9' {
			return 0, false
		}
		i = i*10 + int64(c-'0')
	}
	if len(digits) < len(s) {
		i = -i
	}
	return i, true
}

func isIntLiteral(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '-' {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// check returns the code of the first constraint v fails, or "", and the
// error's parameters. With params false, the parameters of the cheap
// early failures (type, literal, enumeration), which the alternatives of
// an enumeration meet on every valid value, are not built.
func (c *Constraint) check(v any, params bool) (string, map[string]any) {
	code, p := c.checkValue(v, params)
	if code != "" && c.Name != "" && params {
		if p == nil {
			p = map[string]any{}
		}
		p["name"] = c.Name
	}
	return code, p
}

// checkValue is check without the group's name.
func (c *Constraint) checkValue(v any, params bool) (string, map[string]any) {
	if c.Kind == KindString {
		// Texts, the most common values, skip the number decoding.
		s, ok := v.(string)
		switch {
		case !ok:
		case c.HasLiteral:
			if lit, isStr := c.Literal.(string); isStr && lit == s {
				return "", nil
			}
		case len(c.OneOf) == 0:
			return c.checkString(s)
		}
	}
	x, ok := kindOf(v, c.Kind)
	if !ok {
		if !params {
			return CodeType, nil
		}
		return CodeType, map[string]any{"type": c.Kind.String()}
	}
	if x.out && !x.isInt {
		// Beyond float64: only the sign is known for sure.
		switch {
		case x.f > 0 && c.Max != nil:
			return CodeMax, map[string]any{"max": c.Max.Number(), "exclusive": c.Max.Exclusive}
		case x.f < 0 && c.Min != nil:
			return CodeMin, map[string]any{"min": c.Min.Number(), "exclusive": c.Min.Exclusive}
		}
		return CodeType, map[string]any{"type": c.Kind.String()}
	}
	if c.HasLiteral {
		if !literalEqual(c.Literal, v, x) {
			if !params {
				return CodeEnum, nil
			}
			return CodeEnum, map[string]any{"values": []any{c.Literal}}
		}
		return "", nil
	}
	for _, vals := range c.OneOf {
		member := false
		for _, lit := range vals {
			if literalEqual(lit, v, x) {
				member = true
				break
			}
		}
		if !member {
			if !params {
				return CodeEnum, nil
			}
			return CodeEnum, map[string]any{"values": vals}
		}
	}
	switch c.Kind {
	case KindInt, KindNumber:
		if c.Min != nil {
			if cmp := compareBound(x, c.Min); cmp < 0 || (cmp == 0 && c.Min.Exclusive) {
				return CodeMin, map[string]any{"min": c.Min.Number(), "exclusive": c.Min.Exclusive}
			}
		}
		if c.Max != nil {
			if cmp := compareBound(x, c.Max); cmp > 0 || (cmp == 0 && c.Max.Exclusive) {
				return CodeMax, map[string]any{"max": c.Max.Number(), "exclusive": c.Max.Exclusive}
			}
		}
		for _, ne := range c.NotEqual {
			if literalEqual(ne, v, x) {
				return CodeNotEqual, map[string]any{"value": ne}
			}
		}
		if x.out {
			// An integer beyond int64 that no bound rejected.
			return CodeType, map[string]any{"type": c.Kind.String()}
		}
	case KindString:
		return c.checkString(v.(string))
	case KindBool:
		for _, ne := range c.NotEqual {
			if ne == v {
				return CodeNotEqual, map[string]any{"value": ne}
			}
		}
	}
	return "", nil
}

// checkString applies the constraints of a text beyond its type.
func (c *Constraint) checkString(s string) (string, map[string]any) {
	n, code := CheckText(s)
	if code != "" {
		return code, nil
	}
	if c.MinRunes >= 0 || c.MaxRunes >= 0 {
		if c.MinRunes >= 0 && n < c.MinRunes {
			return CodeMinLength, map[string]any{"min": c.MinRunes}
		}
		if c.MaxRunes >= 0 && n > c.MaxRunes {
			return CodeMaxLength, map[string]any{"max": c.MaxRunes}
		}
	}
	for _, re := range c.Patterns {
		if !re.MatchString(s) {
			return CodePattern, map[string]any{"pattern": re.String()}
		}
	}
	for _, re := range c.NotMatch {
		if re.MatchString(s) {
			return CodePattern, map[string]any{"notPattern": re.String()}
		}
	}
	for _, f := range c.Formats {
		switch f {
		case "date":
			if !validDate(s) {
				return CodeDate, nil
			}
		case "iban":
			if !validIBAN(s) {
				return CodeIBAN, nil
			}
		}
	}
	for _, ne := range c.NotEqual {
		if ne == s {
			return CodeNotEqual, map[string]any{"value": ne}
		}
	}
	return "", nil
}

func compareBound(x num, b *Bound) int {
	if x.i64 && b.isI64 {
		switch {
		case x.i < b.i64:
			return -1
		case x.i > b.i64:
			return 1
		}
		return 0
	}
	return x.rat().Cmp(b.Value)
}

func literalEqual(lit, v any, x num) bool {
	switch l := lit.(type) {
	case string:
		s, ok := v.(string)
		return ok && s == l
	case bool:
		b, ok := v.(bool)
		return ok && b == l
	case nil:
		return v == nil
	case int64:
		return x.i64 && x.isInt && x.i == l
	case *big.Int:
		return x.isInt && x.rat().Cmp(new(big.Rat).SetInt(l)) == 0
	case float64:
		return !x.isInt && x.rat().Cmp(toRat(l)) == 0
	}
	return false
}

// CheckText counts the characters of a text and returns CodeEncoding if
// it is not valid UTF-8, CodeControl if it holds a control character,
// or "". Tab and line feed are allowed, and a carriage return directly
// before a line feed: browsers send line breaks of a textarea as CR LF.
// It is the rule for citizens' texts, and for any other text that people
// read (a caseworker's note, a receiver's reject reason).
//
// Invisible format characters that change what a reader sees count as
// control characters too (see hiddenFormat): the bidirectional
// embeddings, overrides and isolates, which can make "KITA-2026-000123"
// display as something else or a name appear reversed, and the
// characters that hide text or split a word invisibly. The marks of
// right-to-left writing (U+200E, U+200F, U+061C), the zero-width
// joiners of Arabic, Persian, Indic scripts and emoji (U+200C, U+200D)
// and the soft hyphen stay allowed: people type them.
func CheckText(s string) (chars int, code string) {
	n := 0
	for i := 0; i < len(s); i++ {
		n++
		c := s[i]
		switch {
		case c >= 0x20 && c < 0x7f:
			continue
		case c == '\t' || c == '\n':
			continue
		case c == '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				continue
			}
			return n, CodeControl
		case c < 0x80:
			return n, CodeControl // C0 controls and DEL
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return n, CodeEncoding
		}
		if r >= 0x80 && r <= 0x9f {
			return n, CodeControl // C1 controls
		}
		if hiddenFormat(r) {
			return n, CodeControl
		}
		i += size - 1
	}
	return n, ""
}

// hiddenFormats are the invisible format characters CheckText refuses:
// zero width space (U+200B), line and paragraph separator (U+2028,
// U+2029), the bidirectional embeddings and overrides (U+202A–U+202E),
// word joiner and invisible operators (U+2060–U+2064), the bidirectional
// isolates (U+2066–U+2069), the deprecated format characters
// (U+206A–U+206F), zero width no-break space or byte order mark
// (U+FEFF), the interlinear annotation characters (U+FFF9–U+FFFB) and
// the tag characters (U+E0000–U+E007F), which carry text no one sees.
// textFormatClass is the same set for the JSON Schema.
var hiddenFormats = &unicode.RangeTable{
	R16: []unicode.Range16{
		{Lo: 0x200b, Hi: 0x200b, Stride: 1},
		{Lo: 0x2028, Hi: 0x202e, Stride: 1},
		{Lo: 0x2060, Hi: 0x2064, Stride: 1},
		{Lo: 0x2066, Hi: 0x206f, Stride: 1},
		{Lo: 0xfeff, Hi: 0xfeff, Stride: 1},
		{Lo: 0xfff9, Hi: 0xfffb, Stride: 1},
	},
	R32: []unicode.Range32{{Lo: 0xe0000, Hi: 0xe007f, Stride: 1}},
}

// hiddenFormat reports whether r is one of hiddenFormats.
func hiddenFormat(r rune) bool {
	return r >= 0x200b && unicode.Is(hiddenFormats, r)
}

// textFormatClass is the character class of hiddenFormats in RE2 syntax.
var textFormatClass = func() string {
	var b strings.Builder
	add := func(lo, hi uint32) { fmt.Fprintf(&b, `\x{%X}-\x{%X}`, lo, hi) }
	for _, r := range hiddenFormats.R16 {
		add(uint32(r.Lo), uint32(r.Hi))
	}
	for _, r := range hiddenFormats.R32 {
		add(r.Lo, r.Hi)
	}
	return b.String()
}()

// validIBAN checks the ISO 13616 mod-97 check digits of an IBAN that
// already matches the #IBAN pattern.
func validIBAN(s string) bool {
	if len(s) < 5 {
		return false
	}
	// The remainder is taken only when it grows large: the same result
	// as taking it after every digit, with fewer divisions.
	rem, ok := mod97(0, s[4:])
	if !ok {
		return false
	}
	rem, ok = mod97(rem, s[:4]) // the country and check digits go last
	return ok && rem%97 == 1
}

// mod97 continues the mod-97 remainder rem over the digits and letters
// (A = 10 … Z = 35) of s; the remainder is reduced only when it grows
// large, which gives the same result with fewer divisions.
func mod97(rem uint64, s string) (uint64, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			rem = rem*10 + uint64(c-'0')
		case c >= 'A' && c <= 'Z':
			rem = rem*100 + uint64(c-'A') + 10
		default:
			return 0, false
		}
		if rem >= 1<<50 {
			rem %= 97
		}
	}
	return rem, true
}
