package engine

import (
	"reflect"
	"testing"
)

// TestOverlayNarrows loads a service whose local overlay narrows shared
// enumerations and list bounds by CUE unification, and checks that the
// compiled plan follows the narrowed constraints and nothing wider.
func TestOverlayNarrows(t *testing.T) {
	s, err := Load("testdata/overlay")
	if err != nil {
		t.Fatal(err)
	}
	if got := enumValues(s.Data.Field("town")); !reflect.DeepEqual(got, []any{"a", "b"}) {
		t.Errorf("town values %v, want [a b]", got)
	}
	if got := s.Data.Field("kids").MaxItems; got != 5 {
		t.Errorf("kids max items %d, want 5", got)
	}
	if len(s.Tests) < 5 {
		t.Fatalf("%d tests", len(s.Tests))
	}
	for _, tc := range s.Tests {
		if diffs := tc.Run(s); len(diffs) > 0 {
			t.Errorf("%s: %v", tc.Name, diffs)
		}
	}
}

// TestOverlayNarrowsToOneValue narrows a shared enumeration to a single
// literal, as a municipality's overlay does for its own name (this was a
// "conflicting values" check error).
func TestOverlayNarrowsToOneValue(t *testing.T) {
	s, err := LoadPackages("../examples/installation/kelkheim/hundesteuer",
		map[string]string{"amtsform.example/hundesteuer": "../examples/hundesteuer"})
	if err != nil {
		t.Fatal(err)
	}
	n := s.Data.Field("municipality")
	for _, v := range []string{"kelkheim", "hofheim"} {
		res := s.Evaluate(map[string]any{"municipality": v}, Options{})
		bad := false
		for _, e := range res.Errors {
			if e.Path == "municipality" {
				bad = true
			}
		}
		if bad != (v != "kelkheim") {
			t.Errorf("municipality %q: error %v (node %+v)", v, bad, n)
		}
	}
}
