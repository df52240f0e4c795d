package registry

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/diff"
)

func TestCheckOverlay(t *testing.T) {
	pkgs := map[string]string{"land.hessen.example/kita": "../../examples/packages/kita"}
	for _, dir := range []string{"../../examples/packages/eltville", "../../examples/packages/idstein"} {
		v, err := diff.Load(dir, pkgs)
		if err != nil {
			t.Fatal(err)
		}
		if ps := CheckOverlay(dir, v.Value, pkgs); len(ps) > 0 {
			t.Errorf("%s: %v", dir, ps)
		}
	}
	dir := "../../examples/packages/broken/kita"
	v, err := diff.Load(dir, pkgs)
	if err != nil {
		t.Fatal(err)
	}
	ps := CheckOverlay(dir, v.Value, pkgs)
	root, _ := filepath.Abs("../..")
	want := []string{
		"broken/kita/service.cue:8:18: data.children[].monthlyFee: the overlay loosens the shared service: <=300000 here is wider than uint & <=200000 at " + root + "/examples/packages/kita/service.cue:58:16, which stays in force; an overlay can only narrow",
		"broken/kita/service.cue:10:3: data.income: the overlay loosens the shared service: int here is wider than uint & <=100000000 at " + root + "/examples/packages/kita/service.cue:61:13",
		"broken/kita/service.cue:10:3: data.income: the overlay cannot remove a required field: declared optional here, required by the shared service at " + root + "/examples/packages/kita/service.cue:61:3",
	}
	if len(ps) != len(want) {
		t.Errorf("%d problems, want %d: %v", len(ps), len(want), ps)
	}
	for i, p := range ps {
		if i < len(want) && !strings.HasSuffix(p.String(), want[i]) && !strings.Contains(p.String(), want[i]) {
			t.Errorf("problem %d:\n got %s\nwant …%s", i, p, want[i])
		}
	}
}

// TestOverlayRefusals: every way an overlay can try to change the shared
// service is refused with the overlay's and the shared position.
func TestOverlayRefusals(t *testing.T) {
	kita, _ := filepath.Abs("../../examples/packages/kita")
	pkgs := map[string]string{"land.hessen.example/kita": kita}
	for _, tt := range []struct {
		name, body, code, want string
	}{
		{"widened enum", `data: children: [...{careType: "krippe" | "kindergarten" | "hort" | "tagespflege"}]`,
			"overlayLoosens", `data.children[].careType: the overlay loosens the shared service: "krippe" | "kindergarten" | "hort" | "tagespflege" here is wider than`},
		{"widened bound", `data: income: <=200000000`, "overlayLoosens", "data.income: the overlay loosens the shared service: <=200000000 here is wider than uint & <=100000000 at " + kita + "/service.cue:61:13"},
		{"required made optional", `data: applicant?: _`, "overlayRemovesRequired", "data.applicant: the overlay cannot remove a required field: declared optional here, required by the shared service at " + kita + "/service.cue:"},
		{"changed type", `data: income: string`, "overlayContradicts", "data.income: the overlay contradicts the shared service: conflicting values string and int"},
		{"overridden rule", `rules: compute: coveredFee: "0"`, "overlayContradicts", "rules.compute.coveredFee: the overlay contradicts the shared service: conflicting values"},
		{"overridden route", `routing: [{to: "jugendamt"}]`, "overlayContradicts", "routing: the overlay contradicts the shared service: incompatible list lengths"},
		{"overridden workflow", `workflow: initial: "neu"`, "overlayContradicts", "workflow.initial: the overlay contradicts the shared service: conflicting values"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			src := "package kita\n\nimport shared \"land.hessen.example/kita\"\n\nservice: shared.#Kita & {\n\t" + tt.body + "\n}\n"
			if err := os.WriteFile(filepath.Join(dir, "service.cue"), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			var ps []engine.Problem
			if v, err := diff.Load(dir, pkgs); err == nil {
				ps = CheckOverlay(dir, v.Value, pkgs)
			} else {
				ps = Conflicts(dir, pkgs)
			}
			for _, p := range ps {
				if p.Code == tt.code && strings.Contains(p.Message, tt.want) && strings.HasPrefix(p.Pos.File, dir) &&
					(strings.Contains(p.Message, kita) || tt.code == "overlayRemovesRequired") {
					return
				}
			}
			t.Errorf("no %s problem with %q among %v", tt.code, tt.want, ps)
		})
	}
}
