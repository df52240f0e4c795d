package engine

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// ecmaCases are RE2 patterns of the kind designers write, with strings
// on which the dialects disagree when a pattern is copied unchanged.
var ecmaCases = []struct {
	re      string
	samples []string
}{
	{`^[^@\s]+@[^@\s]+\.[^@\s]+$`, []string{"anna@example.org", "anna\u00a0s@example.org", "a b@c.de", "a@b\u2028.de", "a\tb@c.de", "a@b.c"}},
	{`^\s*$`, []string{"", " ", "\u00a0", "\u2028", "\t\n", "x"}},
	{`^.+$`, []string{"a", "a\rb", "a\u2028b", "a\nb", ""}},
	{`(?s)^.+$`, []string{"a\nb", "\u2029"}},
	{`^[[:alpha:]]+$`, []string{"abc", "äbc", "ABC", "a1"}},
	{`(?i)^de[0-9]{2}$`, []string{"DE12", "de12", "De12", "dE1"}},
	{`\Ahallo\z`, []string{"hallo", "hallo\n", "xhallo"}},
	{`^(?P<plz>[0-9]{5})$`, []string{"65719", "6571", "657190"}},
	{`^[\p{L} '\-]{1,100}$`, []string{"Anna-Lena", "Ødegård", "O'Brien", "Anna1", "Zoë Ünal"}},
	{`^\d{3}-\w+\b$`, []string{"123-abc", "123-äbc", "12-abc", "123-ab c"}},
	{`^a|b$`, []string{"ab", "xb", "ax", "x"}},
	{`^(ab)*?c{2,}$`, []string{"cc", "ababccc", "abc", "c"}},
	{`^[\x00-\x1f]$`, []string{"\x00", "\x1f", " "}},
	{`^[^a]$`, []string{"b", "a", "𝄞", "\u00a0"}},
}

// TestECMAPatternMatchesLikeRE2 checks that each translated pattern is
// valid Go regexp syntax matching what the original matches, and — when
// node is installed — that ECMA-262 (with the u flag, as ajv compiles
// patterns) matches the same strings.
func TestECMAPatternMatchesLikeRE2(t *testing.T) {
	type probe struct {
		Pattern string   `json:"pattern"`
		Samples []string `json:"samples"`
	}
	var probes []probe
	var want [][]bool
	for _, c := range ecmaCases {
		p, err := ecmaPattern(c.re)
		if err != nil {
			t.Fatalf("%s: %v", c.re, err)
		}
		orig, again := regexp.MustCompile(c.re), regexp.MustCompile(p)
		var w []bool
		for _, s := range c.samples {
			if orig.MatchString(s) != again.MatchString(s) {
				t.Errorf("%s → %s: RE2 reads %q differently", c.re, p, s)
			}
			w = append(w, orig.MatchString(s))
		}
		probes = append(probes, probe{p, c.samples})
		want = append(want, w)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Log("node not installed: ECMA-262 side not checked")
		return
	}
	in, _ := json.Marshal(probes)
	cmd := exec.Command(node, "-e", `
const probes = JSON.parse(require('fs').readFileSync(0, 'utf8'));
console.log(JSON.stringify(probes.map(p => { const re = new RegExp(p.pattern, 'u'); return p.samples.map(s => re.test(s)); })));`)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v: %s", err, out)
	}
	var got [][]bool
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("node output %s: %v", out, err)
	}
	for i, c := range ecmaCases {
		for j, s := range c.samples {
			if got[i][j] != want[i][j] {
				t.Errorf("%s → %s: ECMA-262 says %v for %q, RE2 %v", c.re, probes[i].Pattern, got[i][j], s, want[i][j])
			}
		}
	}
	// The untranslated email pattern is the documented divergence: make
	// sure the test would see it.
	if !strings.Contains(probes[0].Pattern, "\\x0E") {
		t.Errorf("email pattern not spelt out: %s", probes[0].Pattern)
	}
}

func TestECMAPatternRejectsMultiLine(t *testing.T) {
	if _, err := ecmaPattern(`(?m)^a$`); err == nil {
		t.Error("(?m) anchors were translated")
	}
}
