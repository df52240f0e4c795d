package diff

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// today is the date the comparisons run on; the spec tests carry their own.
var today = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)

// TestGolden compares each prepared pair testdata/NAME/{old,new} and
// checks the verdicts and the report in testdata/NAME/report.golden.
func TestGolden(t *testing.T) {
	tests := []struct {
		pair                         string
		drafts, deliveries, severity Severity
	}{
		{"added-optional", None, Warn, Warn},
		{"new-required", Err, Warn, Err},
		{"widened-bound", None, Err, Err},
		{"narrowed-enum", Err, None, Err},
		{"removed-option", Err, None, Err},
		{"new-office", None, Err, Err},
		{"delivered-field", None, Err, Err},
		{"text-only", None, None, Info},
		{"renamed-field", Err, Warn, Err},
		{"unchanged", None, None, None},
	}
	for _, tt := range tests {
		t.Run(tt.pair, func(t *testing.T) {
			dir := filepath.Join("testdata", tt.pair)
			r := compareDirs(t, filepath.Join(dir, "old"), filepath.Join(dir, "new"))
			if r.Drafts.Severity != tt.drafts || r.Deliveries.Severity != tt.deliveries || r.Severity != tt.severity {
				t.Errorf("drafts %v, deliveries %v, overall %v; want %v, %v, %v",
					r.Drafts.Severity, r.Deliveries.Severity, r.Severity, tt.drafts, tt.deliveries, tt.severity)
			}
			var buf bytes.Buffer
			r.WriteText(&buf)
			golden(t, filepath.Join(dir, "report.golden"), buf.Bytes())
		})
	}
}

func compareDirs(t *testing.T, oldDir, newDir string) *Report {
	t.Helper()
	old, err := Load(oldDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	new, err := Load(newDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return Compare(old, new, Options{Today: today})
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("report differs from %s (go test -update rewrites it):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}
