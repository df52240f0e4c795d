package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// kitaWithInternal is the Kita example with an internal computed value:
// totalFee, the sum of the fees, helps no one outside the server.
func kitaWithInternal(t *testing.T, internal string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"service.cue", "tests.cue"} {
		b, err := os.ReadFile(filepath.Join("..", "examples", "kita-gebuehren", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	extra := `package kita

service: data: totalFee?: int
service: ui: totalFee: label: {de: "Summe der Beiträge", en: "Sum of the fees"}
service: rules: compute: totalFee: "sum(children, .monthlyFee)"
service: rules: internal: ["` + internal + `"]
`
	if err := os.WriteFile(filepath.Join(dir, "internal.cue"), []byte(extra), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestInternalComputed: an internal computed value is computed and kept
// with the submission, but neither in the published JSON Schema nor in
// the delivered data; only computed values can be internal.
func TestInternalComputed(t *testing.T) {
	svc, err := Load(kitaWithInternal(t, "totalFee"))
	if err != nil {
		t.Fatal(err)
	}
	if !svc.IsInternal("totalFee") || svc.IsInternal("coveredFee") {
		t.Fatal("internal values not read")
	}
	props := svc.JSONSchema()["properties"].(map[string]any)
	if _, ok := props["totalFee"]; ok {
		t.Error("the schema names the internal value")
	}
	if _, ok := props["coveredFee"]; !ok {
		t.Error("the schema lost a delivered computed value")
	}
	var doc map[string]any
	for _, tc := range svc.Tests {
		if tc.Valid {
			doc = tc.Input
			break
		}
	}
	res := svc.Evaluate(doc, Options{Today: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)})
	if !res.Valid() {
		t.Fatal(res.Err())
	}
	if _, ok := res.Data["totalFee"]; !ok {
		t.Fatal("the internal value is not computed")
	}
	out := svc.Delivered("fachverfahren", res.Data)
	if _, ok := out["totalFee"]; ok {
		t.Error("the internal value is delivered")
	}
	if _, ok := out["coveredFee"]; !ok {
		t.Error("a computed value that is not internal is not delivered")
	}
	if _, ok := res.Data["totalFee"]; !ok {
		t.Error("Delivered changed the stored data")
	}

	_, err = Load(kitaWithInternal(t, "income"))
	if err == nil || !strings.Contains(err.Error(), "rules.internal") {
		t.Fatalf("an internal value that is not computed: %v", err)
	}
}
