package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"cuelang.org/go/cue"
)

// SpecTest is a designer-written test of a service: an input document and
// what must come out of it.
type SpecTest struct {
	Name  string
	Pos   Pos
	Input map[string]any
	Today time.Time
	Valid bool
	// Errors, if not nil, are exactly the errors expected.
	Errors   []FieldError
	Route    string
	Computed map[string]any
	// Pages, if not nil, are exactly the visible pages.
	Pages   []string
	Hidden  []string
	Visible []string
}

type specTestJSON struct {
	Input    json.RawMessage            `json:"input"`
	Today    string                     `json:"today"`
	Valid    bool                       `json:"valid"`
	Errors   *[]FieldError              `json:"errors"`
	Route    string                     `json:"route"`
	Computed map[string]json.RawMessage `json:"computed"`
	Pages    *[]string                  `json:"pages"`
	Hidden   []string                   `json:"hidden"`
	Visible  []string                   `json:"visible"`
}

func compileTests(v cue.Value, ce *CheckError) []*SpecTest {
	if !v.Exists() {
		return nil
	}
	var out []*SpecTest
	it, err := v.Fields()
	if err != nil {
		return nil
	}
	for it.Next() {
		tv := it.Value()
		t := &SpecTest{Name: it.Selector().Unquoted(), Pos: posOf(tv)}
		b, err := tv.MarshalJSON()
		if err != nil {
			ce.add(posOf(tv), "tests."+t.Name, "test", "tests.%s: %v", t.Name, err)
			continue
		}
		var j specTestJSON
		if err := json.Unmarshal(b, &j); err != nil {
			ce.add(posOf(tv), "tests."+t.Name, "test", "tests.%s: %v", t.Name, err)
			continue
		}
		d := json.NewDecoder(bytes.NewReader(j.Input))
		d.UseNumber()
		if err := d.Decode(&t.Input); err != nil {
			ce.add(posOf(tv), "tests."+t.Name, "test", "tests.%s.input: %v", t.Name, err)
			continue
		}
		if j.Today != "" {
			t.Today, _ = time.Parse("2006-01-02", j.Today)
		}
		t.Valid, t.Route, t.Hidden, t.Visible = j.Valid, j.Route, j.Hidden, j.Visible
		if j.Errors != nil {
			t.Errors = append([]FieldError{}, *j.Errors...)
		}
		if j.Pages != nil {
			t.Pages = append([]string{}, *j.Pages...)
		}
		if len(j.Computed) > 0 {
			t.Computed = map[string]any{}
			for k, raw := range j.Computed {
				var x any
				d := json.NewDecoder(bytes.NewReader(raw))
				d.UseNumber()
				_ = d.Decode(&x)
				t.Computed[k] = normalize(x)
			}
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Run runs the test against s and returns one line per difference between
// what was expected and what came out; none means the test passed.
func (t *SpecTest) Run(s *Service) []string {
	today := t.Today
	if today.IsZero() {
		today = time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	}
	r := s.Evaluate(t.Input, Options{Today: today})
	var diffs []string
	if r.Valid() != t.Valid {
		if t.Valid {
			diffs = append(diffs, fmt.Sprintf("valid: expected the document to be valid, got errors %s", formatErrors(r.Errors)))
		} else {
			diffs = append(diffs, "valid: expected errors, the document is valid")
		}
	}
	if t.Errors != nil {
		want, got := errorSet(t.Errors), errorSet(r.Errors)
		var missing, extra []string
		for k := range want {
			if !got[k] {
				missing = append(missing, k)
			}
		}
		for k := range got {
			if !want[k] {
				extra = append(extra, k)
			}
		}
		sort.Strings(missing)
		sort.Strings(extra)
		for _, m := range missing {
			diffs = append(diffs, "errors: expected "+m+", not reported")
		}
		for _, e := range extra {
			diffs = append(diffs, "errors: unexpected "+e)
		}
	}
	if t.Route != "" && r.Office != t.Route {
		diffs = append(diffs, fmt.Sprintf("route: expected %q, got %q", t.Route, r.Office))
	}
	keys := make([]string, 0, len(t.Computed))
	for k := range t.Computed {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		want := t.Computed[k]
		got, ok := r.Computed[k]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("computed %s: expected %v, not computed", k, want))
		} else if !reflect.DeepEqual(got, want) {
			diffs = append(diffs, fmt.Sprintf("computed %s: expected %v, got %v", k, want, got))
		}
	}
	if t.Pages != nil && strings.Join(t.Pages, ",") != strings.Join(r.Pages, ",") {
		diffs = append(diffs, fmt.Sprintf("pages: expected [%s], got [%s]", strings.Join(t.Pages, " "), strings.Join(r.Pages, " ")))
	}
	hidden := map[string]bool{}
	for _, h := range r.Hidden {
		hidden[h] = true
	}
	for _, h := range t.Hidden {
		if !hidden[h] {
			diffs = append(diffs, fmt.Sprintf("hidden: expected %s to be hidden, it is visible", h))
		}
	}
	for _, v := range t.Visible {
		if hidden[v] {
			diffs = append(diffs, fmt.Sprintf("visible: expected %s to be visible, it is hidden", v))
		}
	}
	return diffs
}

func errorSet(errs []FieldError) map[string]bool {
	m := map[string]bool{}
	for _, e := range errs {
		m[e.Path+" ("+e.Code+")"] = true
	}
	return m
}

func formatErrors(errs []FieldError) string {
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = e.Path + " (" + e.Code + ")"
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
