package engine

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestJSONSchemaAgreesWithThePlan validates the spec-test inputs and
// generated documents of every example with an independent JSON Schema
// validator against the exported schema, and requires the verdict of the
// compiled plan (the data model without rules) wherever JSON Schema can
// express the constraint: everything but IBAN check digits and calendar
// dates (a day that does not exist in its month).
func TestJSONSchemaAgreesWithThePlan(t *testing.T) {
	type target struct {
		name string
		load func() (*Service, error)
	}
	var targets []target
	for _, dir := range exampleDirs(t) {
		targets = append(targets, target{filepath.Base(dir), func() (*Service, error) { return Load(dir) }})
	}
	targets = append(targets, target{"kelkheim overlay", func() (*Service, error) {
		return LoadPackages("../examples/installation/kelkheim/hundesteuer", map[string]string{"amtsform.example/hundesteuer": "../examples/hundesteuer"})
	}})
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			s, err := tg.load()
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(s.JSONSchema())
			if err != nil {
				t.Fatal(err)
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			c := jsonschema.NewCompiler()
			if err := c.AddResource("schema.json", doc); err != nil {
				t.Fatal(err)
			}
			sch, err := c.Compile("schema.json")
			if err != nil {
				t.Fatalf("the exported schema does not compile: %v", err)
			}
			g := &docGen{rnd: rand.New(rand.NewSource(2)), s: s, strict: true}
			docs := g.corpus(g.seeds(), 600)
			for _, tc := range s.Tests {
				docs = append(docs, tc.Input)
			}
			// Strings that RE2 and ECMA-262 read differently.
			for _, tc := range s.Tests {
				if tc.Valid {
					docs = append(docs, withStrings(tc.Input, "Anna\u00a0Lena"), withStrings(tc.Input, "a\u2028b"),
						withStrings(tc.Input, "Anna \u202eqqiM"), withStrings(tc.Input, "ok\U000e0049"), withStrings(tc.Input, "می\u200cخواهم\u200f"))
				}
			}
			checked, disagree := 0, 0
			for _, d := range docs {
				raw, err := json.Marshal(d)
				if err != nil {
					t.Fatal(err)
				}
				parsed, err := ParseDocument(bytes.NewReader(raw), Limits{})
				if err != nil {
					continue
				}
				var plan []string
				inexpressible := false
				for _, e := range s.Data.CheckData(parsed) {
					if e.Code == CodeIBAN || e.Code == CodeDate || (e.Code == CodeType && integralNumber(valueAtPath(parsed, e.Path))) {
						inexpressible = true
					}
					plan = append(plan, e.Path+" ("+e.Code+")")
				}
				if inexpressible {
					continue
				}
				inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
				if err != nil {
					t.Fatal(err)
				}
				verr := sch.Validate(inst)
				checked++
				if (verr == nil) != (len(plan) == 0) {
					disagree++
					if disagree <= 5 {
						t.Errorf("document %s\n  plan:   %v\n  schema: %v", raw, plan, verr)
					}
				}
			}
			t.Logf("%d documents compared, %d disagreements", checked, disagree)
			if checked < 300 {
				t.Errorf("only %d documents compared", checked)
			}
		})
	}
}

// integralNumber reports a number such as 3.0 or 1e3: an integer to JSON
// Schema, not to the server (documented on JSONSchema).
func integralNumber(v any) bool {
	n, ok := v.(json.Number)
	if !ok {
		return false
	}
	f, err := n.Float64()
	return err == nil && f == float64(int64(f))
}

// valueAtPath returns the value at a document path such as dogs[1].name.
func valueAtPath(doc map[string]any, path string) any {
	var cur any = doc
	for _, seg := range strings.Split(path, ".") {
		name, idx := seg, ""
		if i := strings.IndexByte(seg, '['); i >= 0 {
			name, idx = seg[:i], seg[i:]
		}
		m, _ := cur.(map[string]any)
		cur = m[name]
		for idx != "" {
			j := strings.IndexByte(idx, ']')
			n, err := strconv.Atoi(idx[1:j])
			l, _ := cur.([]any)
			if err != nil || n >= len(l) {
				return nil
			}
			cur, idx = l[n], idx[j+1:]
		}
	}
	return cur
}

// withStrings returns a copy of doc with every string that is not an
// enumeration value or a date extended by s.
func withStrings(doc map[string]any, s string) map[string]any {
	var walk func(v any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			m := make(map[string]any, len(x))
			for k, e := range x {
				m[k] = walk(e)
			}
			return m
		case []any:
			l := make([]any, len(x))
			for i, e := range x {
				l[i] = walk(e)
			}
			return l
		case string:
			if strings.Contains(x, "-") && len(x) == 10 {
				return x // a date
			}
			return x + s
		}
		return v
	}
	return walk(doc).(map[string]any)
}
