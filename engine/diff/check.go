package diff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/messages"
)

// maxDocs bounds the documents checked per side.
const maxDocs = 2000

// sample is a document valid under the version it was made for.
type sample struct {
	origin string
	doc    map[string]any
	today  time.Time
	res    *engine.Result // the evaluation under that version
}

// samples returns the valid documents of v: its valid spec-test inputs
// (or, without any, one document built from the data model), and
// variations of each that change one value, add or drop one optional
// field or resize one list, as far as they stay valid.
func samples(v *Version, today time.Time) []sample {
	s := v.Service
	var bases []sample
	for _, t := range s.Tests {
		if !t.Valid {
			continue
		}
		day := t.Today
		if day.IsZero() {
			day = today
		}
		doc := copyDoc(t.Input)
		if res := s.Evaluate(doc, engine.Options{Today: day}); res.Valid() {
			bases = append(bases, sample{origin: fmt.Sprintf("test %q", t.Name), doc: doc, today: day, res: res})
		}
	}
	if len(bases) == 0 {
		if doc, res := minimal(s, today); res.Valid() {
			bases = append(bases, sample{origin: "generated", doc: doc, today: today, res: res})
		}
	}
	out := append([]sample(nil), bases...)
	seen := map[string]bool{}
	for _, b := range bases {
		seen[key(b.doc)] = true
	}
	for _, b := range bases {
		for _, vr := range variations(s.Data, b.doc, nil) {
			if len(out) >= maxDocs {
				return out
			}
			doc := copyDoc(b.doc)
			vr.apply(doc)
			k := key(doc)
			if seen[k] {
				continue
			}
			seen[k] = true
			opt := engine.Options{Today: b.today}
			res := s.Evaluate(doc, opt)
			if onlyRequired(res) {
				// The value made another answer required: give it.
				doc, res = repair(s, doc, opt, 4)
			}
			if res.Valid() {
				out = append(out, sample{origin: b.origin + " with " + vr.what, doc: doc, today: b.today, res: res})
			}
		}
	}
	return out
}

func key(doc map[string]any) string {
	b, _ := json.Marshal(doc)
	return string(b)
}

// copyDoc deep-copies a document through JSON, numbers as json.Number.
func copyDoc(doc map[string]any) map[string]any {
	var m map[string]any
	_ = json.Unmarshal([]byte(key(doc)), &m)
	return normalizeNumbers(m).(map[string]any)
}

// normalizeNumbers turns float64 values that are integers into int64,
// so that documents print as they were written.
func normalizeNumbers(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = normalizeNumbers(x)
		}
	case []any:
		for i, x := range v {
			v[i] = normalizeNumbers(x)
		}
	case float64:
		if v == float64(int64(v)) && v < 1<<53 && v > -(1<<53) {
			return int64(v)
		}
	}
	return v
}

// variation is one change to a document.
type variation struct {
	what string
	path []any // keys (string) and indexes (int)
	val  any
	del  bool
}

func (vr variation) apply(doc map[string]any) {
	var cur any = doc
	for i, k := range vr.path {
		last := i == len(vr.path)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				if vr.del {
					delete(c, k.(string))
				} else {
					c[k.(string)] = vr.val
				}
				return
			}
			cur = c[k.(string)]
		case []any:
			if last {
				c[k.(int)] = vr.val
				return
			}
			cur = c[k.(int)]
		default:
			return
		}
	}
}

func pathString(path []any) string {
	var b strings.Builder
	for _, k := range path {
		switch k := k.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(k)
		case int:
			fmt.Fprintf(&b, "[%d]", k)
		}
	}
	return b.String()
}

// variations lists the single-point changes of the value m of struct n.
func variations(n *engine.Node, m map[string]any, path []any) []variation {
	var out []variation
	for _, f := range n.Fields {
		fp := append(append([]any{}, path...), f.Name)
		x, ok := m[f.Name]
		if !ok {
			if v := minimalValue(f); v != nil {
				out = append(out, variation{what: pathString(fp) + " given", path: fp, val: v})
			}
			for _, c := range candidates(f) {
				out = append(out, variation{what: pathString(fp) + " = " + compact(c), path: fp, val: c})
			}
			continue
		}
		if !f.Required() {
			out = append(out, variation{what: pathString(fp) + " left out", path: fp, del: true})
		}
		switch f.Kind {
		case engine.KindStruct:
			if sub, ok := x.(map[string]any); ok {
				out = append(out, variations(f, sub, fp)...)
			}
		case engine.KindList:
			l, ok := x.([]any)
			if !ok || len(l) == 0 {
				if v := minimalValue(f.Elem); v != nil {
					out = append(out, variation{what: pathString(fp) + " with one entry", path: fp, val: []any{v}})
				}
				continue
			}
			for _, k := range []int{f.MinItems, f.MaxItems} {
				if k >= 0 && k != len(l) && k <= 20 {
					out = append(out, variation{what: fmt.Sprintf("%s with %d entries", pathString(fp), k), path: fp, val: resize(l, k)})
				}
			}
			ep := append(fp, 0)
			switch e := l[0].(type) {
			case map[string]any:
				if f.Elem.Kind == engine.KindStruct {
					out = append(out, variations(f.Elem, e, ep)...)
				}
			default:
				for _, c := range candidates(f.Elem) {
					out = append(out, variation{what: pathString(ep) + " = " + compact(c), path: ep, val: c})
				}
			}
		default:
			for _, c := range candidates(f) {
				out = append(out, variation{what: pathString(fp) + " = " + compact(c), path: fp, val: c})
			}
		}
	}
	return out
}

// resize returns l with k entries, repeating the first.
func resize(l []any, k int) []any {
	out := make([]any, k)
	for i := range out {
		if i < len(l) {
			out[i] = l[i]
		} else {
			out[i] = copyAny(l[0])
		}
	}
	return out
}

func copyAny(v any) any {
	return copyDoc(map[string]any{"v": v})["v"]
}

func compact(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 40 {
		return string(b[:37]) + "…"
	}
	return string(b)
}

// candidates returns values at the edges of a scalar's constraints and a
// few common shapes; the caller keeps those the version accepts.
func candidates(n *engine.Node) []any {
	var out []any
	for _, c := range n.Alts {
		if c.HasLiteral {
			out = append(out, c.Literal)
			continue
		}
		switch c.Kind {
		case engine.KindInt, engine.KindNumber:
			out = append(out, int64(0), int64(1))
			if c.Min != nil {
				out = append(out, edge(c.Min, 1))
			}
			if c.Max != nil {
				out = append(out, edge(c.Max, -1))
			}
			if c.Min == nil && c.Max == nil {
				out = append(out, int64(-1), int64(1000000))
			}
		case engine.KindBool:
			out = append(out, true, false)
		case engine.KindString:
			lo, hi := max(c.MinRunes, 1), c.MaxRunes
			out = append(out, strings.Repeat("a", lo))
			if hi >= 0 && hi != lo {
				out = append(out, strings.Repeat("a", hi))
			}
			out = append(out, "Ab", "12", "60311", "a@b.de", "+49 6192 2020", "HH-AB 123", "2026-01-15", "1990-06-30",
				"DE89370400440532013000", "123456789012345", "Attachment01")
		}
	}
	return out
}

// edge returns the integer closest to the bound inside it; dir is 1 for
// a minimum, -1 for a maximum.
func edge(b *engine.Bound, dir int64) any {
	v := b.Value
	if !v.IsInt() || !v.Num().IsInt64() {
		f, _ := v.Float64()
		return f
	}
	x := v.Num().Int64()
	if b.Exclusive {
		x += dir
	}
	return x
}

// minimalValue returns a value for a node built from its first
// candidates: required members only, lists with their fewest entries.
func minimalValue(n *engine.Node) any {
	switch n.Kind {
	case engine.KindStruct:
		m := map[string]any{}
		for _, f := range n.Fields {
			if f.Required() {
				if v := minimalValue(f); v != nil {
					m[f.Name] = v
				}
			}
		}
		return m
	case engine.KindList:
		l := []any{}
		for range max(n.MinItems, 1) {
			if v := minimalValue(n.Elem); v != nil {
				l = append(l, v)
			}
		}
		if n.MaxItems >= 0 && len(l) > n.MaxItems {
			l = l[:n.MaxItems]
		}
		return l
	}
	if c := candidates(n); len(c) > 0 {
		return c[0]
	}
	return nil
}

// minimal builds a document for a service without valid spec tests:
// the minimal value of its data model, repaired.
func minimal(s *engine.Service, today time.Time) (map[string]any, *engine.Result) {
	return repair(s, minimalValue(s.Data).(map[string]any), engine.Options{Today: today}, 50)
}

// repair replaces rejected values of doc, one error at a time, by the
// first value the service accepts there: the minimal value of a missing
// field or another candidate, for at most rounds errors. A variation that needs a second answer
// (another option that makes a field required) becomes valid this way.
func repair(s *engine.Service, doc map[string]any, opt engine.Options, rounds int) (map[string]any, *engine.Result) {
	res := s.Evaluate(doc, opt)
	stuck := map[string]bool{}
	for range rounds {
		var e *engine.FieldError
		for i := range res.Errors {
			if !stuck[res.Errors[i].Path] {
				e = &res.Errors[i]
				break
			}
		}
		if e == nil {
			break
		}
		path := parsePath(e.Path)
		var vals []any
		if n := nodeAt(s.Data, path); n != nil {
			if v := minimalValue(n); v != nil {
				vals = append(vals, v)
			}
			if n.Kind != engine.KindStruct && n.Kind != engine.KindList {
				vals = append(vals, candidates(n)...)
			}
		}
		stuck[e.Path] = true
		for _, v := range vals {
			try := copyDoc(doc)
			variation{path: path, val: v}.apply(try)
			if r := s.Evaluate(try, opt); !hasErrorAt(r, e.Path) {
				doc, res = try, r
				delete(stuck, e.Path)
				break
			}
		}
	}
	return doc, res
}

// parsePath splits a document path ("dogs[0].name") into keys and indexes.
func parsePath(p string) []any {
	var out []any
	for _, seg := range strings.Split(p, ".") {
		name, rest, _ := strings.Cut(seg, "[")
		out = append(out, name)
		for rest != "" {
			var i int
			num, after, _ := strings.Cut(rest, "]")
			fmt.Sscan(num, &i)
			out = append(out, i)
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return out
}

// nodeAt returns the node of a document path, or nil.
func nodeAt(n *engine.Node, path []any) *engine.Node {
	for _, k := range path {
		switch k := k.(type) {
		case string:
			if n.Kind != engine.KindStruct {
				return nil
			}
			if n = n.Field(k); n == nil {
				return nil
			}
		case int:
			if n.Kind != engine.KindList {
				return nil
			}
			n = n.Elem
		}
	}
	return n
}

// onlyRequired reports whether a result has errors, all of them
// missing values.
func onlyRequired(r *engine.Result) bool {
	for _, e := range r.Errors {
		if e.Code != engine.CodeRequired {
			return false
		}
	}
	return len(r.Errors) > 0
}

func hasErrorAt(r *engine.Result, p string) bool {
	for _, e := range r.Errors {
		if e.Path == p {
			return true
		}
	}
	return false
}

// checkDrafts evaluates every valid document of old under new.
func checkDrafts(old, new *Version, opt Options) Side {
	var side Side
	for _, smp := range samples(old, opt.Today) {
		side.Checked++
		res := new.Service.Evaluate(smp.doc, engine.Options{Today: smp.today})
		if res.Valid() {
			continue
		}
		side.Broken++
		for _, e := range res.Errors {
			msg := messages.For(new.Service, "en", e)
			side.add(Counterexample{Origin: smp.origin, Path: e.Path, Code: e.Code, Message: msg, Severity: Err, Document: smp.doc})
		}
	}
	return side
}

// checkDeliveries validates the delivered data of every valid document
// of new against old's JSON Schema, and checks that old routes to the
// office new chooses.
func checkDeliveries(old, new *Version, opt Options, receivers Severity) Side {
	var side Side
	sch, err := compileSchema(old.Service.JSONSchema())
	if err != nil {
		// The engine writes the schema; failing to compile it is a bug.
		panic(fmt.Sprintf("diff: the JSON Schema of %s %s does not compile: %v", old.Service.ID, old.Service.Version, err))
	}
	known := offices(old)
	for _, smp := range samples(new, opt.Today) {
		side.Checked++
		broken := false
		data := copyDoc(new.Service.WithoutInternal(smp.res.Data)) // as delivered
		inst, _ := jsonschema.UnmarshalJSON(strings.NewReader(key(data)))
		if err := sch.Validate(inst); err != nil {
			broken = true
			for _, e := range schemaErrors(err) {
				side.add(Counterexample{Origin: smp.origin, Path: e.path, Code: e.code, Message: e.msg, Severity: receivers, Document: data})
			}
		}
		switch office := smp.res.Office; {
		case !known[office]:
			broken = true
			side.add(Counterexample{Origin: smp.origin, Path: "routing", Code: "office", Message: fmt.Sprintf("routed to %s, which %s never routes to", office, old.Service.Version), Severity: Err, Document: smp.doc})
		default:
			if r := old.Service.Evaluate(smp.doc, engine.Options{Today: smp.today}); r.Valid() && r.Office != office {
				broken = true
				side.add(Counterexample{Origin: smp.origin, Path: "routing", Code: "office", Message: fmt.Sprintf("routed to %s instead of %s", office, r.Office), Severity: Warn, Document: smp.doc})
			}
		}
		if broken {
			side.Broken++
		}
	}
	return side
}

// add records a counterexample, one per distinct path (without list
// indexes), code and severity.
func (s *Side) add(c Counterexample) {
	s.Severity = max(s.Severity, c.Severity)
	for _, x := range s.Counterexamples {
		if engine.StripIndexes(x.Path) == engine.StripIndexes(c.Path) && x.Code == c.Code && x.Severity == c.Severity {
			return
		}
	}
	s.Counterexamples = append(s.Counterexamples, c)
	sort.SliceStable(s.Counterexamples, func(i, j int) bool {
		return s.Counterexamples[i].Severity > s.Counterexamples[j].Severity
	})
}

func compileSchema(schema map[string]any) (*jsonschema.Schema, error) {
	b, err := json.Marshal(schema)
	if err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("urn:amtsform:old.json", doc); err != nil {
		return nil, err
	}
	return c.Compile("urn:amtsform:old.json")
}

var printer = message.NewPrinter(language.English)

type schemaErr struct{ path, code, msg string }

// schemaErrors returns the data path, keyword and message of each
// innermost error.
func schemaErrors(err error) []schemaErr {
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return []schemaErr{{"", "schema", err.Error()}}
	}
	var out []schemaErr
	var walk func(ve *jsonschema.ValidationError)
	walk = func(ve *jsonschema.ValidationError) {
		for _, c := range ve.Causes {
			walk(c)
		}
		if len(ve.Causes) > 0 {
			return
		}
		var b strings.Builder
		for _, seg := range ve.InstanceLocation {
			if seg != "" && seg[0] >= '0' && seg[0] <= '9' {
				fmt.Fprintf(&b, "[%s]", seg)
				continue
			}
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(seg)
		}
		var props []string
		switch k := ve.ErrorKind.(type) {
		case *kind.AdditionalProperties:
			props = k.Properties
		case *kind.Required:
			props = k.Missing
		}
		code := "schema"
		if kp := ve.ErrorKind.KeywordPath(); len(kp) > 0 {
			code = kp[len(kp)-1]
		}
		msg := ve.ErrorKind.LocalizedString(printer)
		if len(props) == 0 {
			out = append(out, schemaErr{b.String(), code, msg})
		}
		sort.Strings(props)
		for _, p := range props {
			path := p
			if b.Len() > 0 {
				path = b.String() + "." + p
			}
			out = append(out, schemaErr{path, code, msg})
		}
	}
	walk(ve)
	return out
}
