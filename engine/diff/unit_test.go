package diff

import (
	"encoding/json"
	"math/big"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/amtsform/amtsform/engine"
)

func TestCmpBound(t *testing.T) {
	b := func(v int64, excl bool) *engine.Bound { return &engine.Bound{Value: big.NewRat(v, 1), Exclusive: excl} }
	tests := []struct {
		name  string
		o, n  *engine.Bound
		lower bool
		want  int
	}{
		{"same", b(1, false), b(1, false), true, 0},
		{"min raised", b(1, false), b(2, false), true, 1},
		{"min lowered", b(2, false), b(1, false), true, -1},
		{"max lowered", b(10, false), b(5, false), false, 1},
		{"max raised", b(10, false), b(20, false), false, -1},
		{"min made exclusive", b(1, false), b(1, true), true, 1},
		{"max made inclusive", b(10, true), b(10, false), false, -1},
		{"bound added", nil, b(0, false), true, 1},
		{"bound dropped", b(0, false), nil, false, -1},
		{"no bounds", nil, nil, true, 0},
	}
	for _, tt := range tests {
		if got := cmpBound(tt.o, tt.n, tt.lower); got != tt.want {
			t.Errorf("%s: cmpBound = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestParsePath(t *testing.T) {
	tests := []struct {
		in   string
		want []any
	}{
		{"zone", []any{"zone"}},
		{"applicant.birthDate", []any{"applicant", "birthDate"}},
		{"dogs[2].breed", []any{"dogs", 2, "breed"}},
		{"m[0][1]", []any{"m", 0, 1}},
	}
	for _, tt := range tests {
		if got := parsePath(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parsePath(%q) = %v, want %v", tt.in, got, tt.want)
		}
		if got := pathString(tt.want); got != tt.in {
			t.Errorf("pathString(%v) = %q, want %q", tt.want, got, tt.in)
		}
	}
}

// TestConfirm checks that an ERR change stays ERR only where a
// counterexample lies at, above or below its path.
func TestConfirm(t *testing.T) {
	tests := []struct {
		change string
		also   []string
		cex    string
		want   Severity
	}{
		{"zone", nil, "zone", Err},
		{"address", nil, "address.city", Err},
		{"dogs.breed", nil, "dogs[3].breed", Err},
		{"dogs.breed", nil, "dogs", Err},
		{"plate", []string{"licensePlate"}, "licensePlate", Err},
		{"plate", nil, "licensePlate", Warn},
		{"zone", nil, "zones", Warn},
		{"zone", nil, "", Warn},
	}
	for _, tt := range tests {
		r := &Report{
			Changes: []Change{{Path: tt.change, Drafts: Err, also: tt.also}},
			Drafts:  Side{Counterexamples: []Counterexample{{Path: tt.cex, Severity: Err}}},
		}
		confirm(r)
		if got := r.Changes[0].Drafts; got != tt.want {
			t.Errorf("change at %s, counterexample at %q: %v, want %v", tt.change, tt.cex, got, tt.want)
		}
	}
}

// TestSamplesValid checks that every generated document is valid under
// the version it was generated for, and that the generator varies the
// documents beyond the spec tests.
func TestSamplesValid(t *testing.T) {
	for _, dir := range []string{"testdata/added-optional/new", "testdata/narrowed-enum/old", "../../examples/kita-gebuehren", "../../examples/geburtsurkunde"} {
		v, err := Load(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		smps := samples(v, today)
		if len(smps) <= len(v.Service.Tests) {
			t.Errorf("%s: %d documents for %d tests", dir, len(smps), len(v.Service.Tests))
		}
		for _, s := range smps {
			if res := v.Service.Evaluate(s.doc, engine.Options{Today: s.today}); !res.Valid() {
				t.Errorf("%s: %s: invalid: %v", dir, s.origin, res.Errors)
			}
		}
	}
}

// TestMinimal checks that a service without spec tests still gets a
// valid document to start from.
func TestMinimal(t *testing.T) {
	v, err := Load(filepath.Join("testdata", "new-required", "new"), nil)
	if err != nil {
		t.Fatal(err)
	}
	doc, res := minimal(v.Service, today)
	if !res.Valid() {
		t.Fatalf("minimal document %v invalid: %v", doc, res.Errors)
	}
}

func TestJSON(t *testing.T) {
	r := compareDirs(t, "testdata/removed-option/old", "testdata/removed-option/new")
	var got struct {
		Severity string
		Changes  []map[string]any
		Drafts   struct {
			Severity        string
			Counterexamples []struct {
				Path, Code string
				Document   map[string]any
			}
		}
	}
	if err := json.Unmarshal(r.JSON(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Severity != "ERR" || got.Drafts.Severity != "ERR" || len(got.Changes) == 0 {
		t.Fatalf("got %+v", got)
	}
	c := got.Drafts.Counterexamples[0]
	if c.Path != "zone" || c.Code != "enum" || c.Document["zone"] != "westend" {
		t.Errorf("counterexample %+v, want zone (enum) in a document with zone westend", c)
	}
}
