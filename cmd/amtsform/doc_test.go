package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// The -update flag, registered here unless another test file of this
// package registers it.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files in testdata")
	}
}

func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// TestDocGolden checks amtsform doc on the shared Kita service and one
// overlay against testdata/doc (go test -run TestDocGolden -update).
func TestDocGolden(t *testing.T) {
	tests := []struct {
		golden string
		args   []string
	}{
		{"kita.md", []string{"../../examples/packages/kita"}},
		{"eltville.md", []string{"--installation", "../../examples/packages", "../../examples/packages/eltville"}},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		if code := run(append([]string{"doc"}, tt.args...), &out, &errb); code != 0 {
			t.Fatalf("doc %v: exit %d: %s", tt.args, code, errb.String())
		}
		file := filepath.Join("testdata", "doc", tt.golden)
		if updating() {
			os.MkdirAll(filepath.Dir(file), 0o755)
			if err := os.WriteFile(file, out.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("%v (run with -update)", err)
		}
		if !bytes.Equal(out.Bytes(), want) {
			t.Errorf("doc %v differs from %s (run with -update):\n%s", tt.args, file, out.String())
		}
	}
}
