package registry

import (
	"path/filepath"
	"strings"
	"testing"

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
