package engine

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"unicode"
)

var (
	miniOnce sync.Once
	miniSvc  *Service
	miniErr  error
)

// mini returns a small service with one field of each numeric and text
// flavour, for table tests of single values.
func mini(t testing.TB) *Service {
	t.Helper()
	miniOnce.Do(func() {
		dir, err := os.MkdirTemp("", "amtsform-mini")
		if err != nil {
			miniErr = err
			return
		}
		defer os.RemoveAll(dir)
		src := `package mini

import (
	"strings"
	"amtsform.dev/spec"
)

service: spec.#Service & {
	id: "mini", version: "1.0.0", reference: "MINI", authority: "amt", retentionDays: 30
	title: {de: "Mini", en: "Mini"}
	data: {
		count?:   int
		cents?:   int & >=0 & <=1000
		ratio?:   number
		share?:   number & >0 & <=1
		name?:    string & strings.MaxRunes(50)
		note?:    string
		kind?:    "a" | "b"
		born?:    spec.#Date
	}
	ui: {
		count: label: {de: "Anzahl", en: "Count"}
		cents: label: {de: "Betrag", en: "Amount"}
		ratio: label: {de: "Verhältnis", en: "Ratio"}
		share: label: {de: "Anteil", en: "Share"}
		name: label: {de: "Name", en: "Name"}
		note: {label: {de: "Notiz", en: "Note"}, widget: "textarea"}
		kind: {label: {de: "Art", en: "Kind"}, options: {a: {de: "A", en: "A"}, b: {de: "B", en: "B"}}}
		born: label: {de: "Geboren", en: "Born"}
	}
	pages: [{id: "p", title: {de: "Seite", en: "Page"}, fields: ["count", "cents", "ratio", "share", "name", "note", "kind", "born"]}]
	routing: [{to: "amt"}]
	workflow: spec.#StandardWorkflow
}
`
		if err := os.WriteFile(filepath.Join(dir, "service.cue"), []byte(src), 0o644); err != nil {
			miniErr = err
			return
		}
		miniSvc, miniErr = Load(dir)
	})
	if miniErr != nil {
		t.Fatal(miniErr)
	}
	return miniSvc
}

// codesAt runs a one-field document through both CheckData and Evaluate
// and returns the codes each reports, as "path:code" lists.
func codesAt(t *testing.T, s *Service, field string, v any) (check, eval string) {
	t.Helper()
	doc := map[string]any{field: v}
	var c, e []string
	for _, fe := range s.Data.CheckData(doc) {
		c = append(c, fe.Path+":"+fe.Code)
	}
	for _, fe := range s.Evaluate(doc, Options{}).Errors {
		e = append(e, fe.Path+":"+fe.Code)
	}
	return strings.Join(c, " "), strings.Join(e, " ")
}

// TestNumbersOutOfRange: a number the engine cannot hold exactly is a
// field error on its path (type, or the bound it exceeds), in CheckData
// and in Evaluate alike, never a silently different value.
func TestNumbersOutOfRange(t *testing.T) {
	s := mini(t)
	tests := []struct {
		field, in, want string
	}{
		{"count", "12", ""},
		{"count", "9223372036854775807", ""},
		{"count", "9223372036854775808", "count:type"},
		{"count", "99999999999999999999", "count:type"},
		{"count", "-99999999999999999999", "count:type"},
		{"count", "1e400", "count:type"},
		{"cents", "99999999999999999999", "cents:max"},
		{"cents", "-99999999999999999999", "cents:min"},
		{"cents", "1000", ""},
		{"cents", "1001", "cents:max"},
		{"ratio", "1.5", ""},
		{"ratio", "5e-324", ""},
		{"ratio", "0e-400", ""},
		{"ratio", "-0.0", ""},
		{"ratio", "1e400", "ratio:type"},
		{"ratio", "-1e400", "ratio:type"},
		{"ratio", "1e-400", "ratio:type"},
		{"ratio", "1e999999999999", "ratio:type"},
		{"ratio", "0.1e-999999999999", "ratio:type"},
		{"ratio", "99999999999999999999", "ratio:type"},
		{"share", "1e400", "share:max"},
		{"share", "-1e400", "share:min"},
		{"share", "1e-400", "share:type"},
		{"share", "0.5", ""},
		{"share", "1e-300", ""},
	}
	for _, tt := range tests {
		check, eval := codesAt(t, s, tt.field, json.Number(tt.in))
		if check != tt.want {
			t.Errorf("CheckData %s=%s: got %q, want %q", tt.field, tt.in, check, tt.want)
		}
		if eval != tt.want {
			t.Errorf("Evaluate %s=%s: got %q, want %q", tt.field, tt.in, eval, tt.want)
		}
	}
}

// TestEvaluateKeepsUnrepresentableNumbers: Evaluate's data holds what was
// sent, not a rounded value, and can be written as JSON.
func TestEvaluateKeepsUnrepresentableNumbers(t *testing.T) {
	s := mini(t)
	for _, in := range []string{"1e400", "99999999999999999999", "1e-400"} {
		res := s.Evaluate(map[string]any{"ratio": json.Number(in)}, Options{})
		if got := fmt.Sprint(res.Data["ratio"]); got != in {
			t.Errorf("%s: data holds %s", in, got)
		}
		if _, err := json.Marshal(res); err != nil {
			t.Errorf("%s: result cannot be written: %v", in, err)
		}
		if res.Valid() {
			t.Errorf("%s: valid", in)
		}
	}
}

// TestTextControlAndEncoding: control characters other than tab and line
// break, and invalid UTF-8, are field errors in free text, whichever way
// the text arrived (JSON \u0000, or the form path's raw bytes).
func TestTextControlAndEncoding(t *testing.T) {
	s := mini(t)
	tests := []struct {
		field, in, want string
	}{
		{"name", "Jürgen Müller", ""},
		{"note", "Zeile 1\nZeile 2\tmit Tab", ""},
		{"note", "Zeile 1\r\nZeile 2", ""},
		{"note", "Ende\r", "note:control"},
		{"note", "a\rb", "note:control"},
		{"name", "Jürgen\x00", "name:control"},
		{"name", "\x1b[31mrot", "name:control"},
		{"name", "DEL\x7f", "name:control"},
		{"name", "C1\u0085", "name:control"},
		{"name", "\u00a0Ä€😀", ""},
		{"name", "M\xfcller", "name:encoding"},
		{"name", "\xc3", "name:encoding"},
		{"name", "\xed\xa0\x80", "name:encoding"}, // a UTF-16 surrogate
		{"born", "2020-01-01\x00", "born:control"},
		// Invisible format characters that change what a reader sees.
		{"name", "Anna \u202eqqiM", "name:control"},                  // right-to-left override
		{"name", "KITA-2026-\u2067000123\u2069", "name:control"},     // right-to-left isolate
		{"name", "Mül\u200bler", "name:control"},                     // zero width space
		{"name", "\ufeffAnna", "name:control"},                       // byte order mark
		{"note", "Zeile 1\u2028Zeile 2", "note:control"},             // line separator
		{"note", "ok\U000e0049\U000e0047\U000e004e", "note:control"}, // tag characters
		// What people type stays allowed: marks of right-to-left writing,
		// zero width (non-)joiners, the soft hyphen.
		{"name", "محمد\u200f (Sohn)", ""},
		{"name", "می\u200cخواهم", ""},
		{"name", "👩\u200d💻 Schul\u00adweg", ""},
		{"kind", "a\x00", "kind:enum"},
	}
	for _, tt := range tests {
		check, eval := codesAt(t, s, tt.field, tt.in)
		if check != tt.want {
			t.Errorf("CheckData %s=%q: got %q, want %q", tt.field, tt.in, check, tt.want)
		}
		if eval != tt.want {
			t.Errorf("Evaluate %s=%q: got %q, want %q", tt.field, tt.in, eval, tt.want)
		}
	}
	// The JSON path: \u0000 arrives as NUL.
	doc, err := ParseDocument(strings.NewReader(`{"name":"a\u0000b"}`), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	errs := s.Evaluate(doc, Options{}).Errors
	if len(errs) != 1 || errs[0].Code != CodeControl || errs[0].Path != "name" {
		t.Errorf("JSON \\u0000: got %+v, want name:control", errs)
	}
}

// TestHiddenFormatClass: hiddenFormat and the class the JSON Schema
// refuses (textFormatClass) name the same runes.
func TestHiddenFormatClass(t *testing.T) {
	re := regexp.MustCompile(`[` + textFormatClass + `]`)
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if r >= 0xd800 && r <= 0xdfff {
			continue // surrogates are not runes of valid UTF-8
		}
		if got, want := hiddenFormat(r), re.MatchString(string(r)); got != want {
			t.Fatalf("U+%04X: hiddenFormat %v, class %v", r, got, want)
		}
	}
}

// TestAcceptAgreesWithCheck: a scalar's compiled check (accept) says
// valid exactly when checkScalar finds no error, for the values the
// differential test generates, on every example and the mini service.
func TestAcceptAgreesWithCheck(t *testing.T) {
	var svcs []*Service
	for _, dir := range exampleDirs(t) {
		s, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		svcs = append(svcs, s)
	}
	svcs = append(svcs, mini(t))
	compiled, tried := 0, 0
	for _, s := range svcs {
		g := &docGen{rnd: rand.New(rand.NewSource(2)), s: s, strict: true}
		var walk func(n *Node)
		walk = func(n *Node) {
			switch n.Kind {
			case KindStruct:
				for _, f := range n.Fields {
					walk(f)
				}
				return
			case KindList:
				walk(n.Elem)
				return
			}
			if n.accept == nil {
				return
			}
			compiled++
			for range 300 {
				v := g.badValue(n)
				if vv, ok := g.validValue(n); ok && g.rnd.Intn(3) == 0 {
					v = vv
				}
				tried++
				code, _ := n.checkScalar(v)
				if got := n.accept(v); got != (code == "") {
					t.Errorf("%s %s: %#v: accept %v, checkScalar %q", s.ID, n.Path, v, got, code)
				}
			}
		}
		walk(s.Data)
	}
	if compiled < 20 {
		t.Errorf("only %d scalars have a compiled check", compiled)
	}
	t.Logf("%d compiled scalars, %d values", compiled, tried)
}

// TestParseIntLiteral: the fast integer decoding agrees with toNum.
func TestParseIntLiteral(t *testing.T) {
	for _, s := range []string{"0", "-0", "7", "007", "-12", "+5", "", "-", "1.0", "1e3", "12a",
		"999999999999999999", "-999999999999999999", "9223372036854775807", "-9223372036854775808",
		"9223372036854775808", "-9223372036854775809", "99999999999999999999"} {
		i, ok := parseIntLiteral(s)
		x, isNum := toNum(json.Number(s))
		want := isNum && x.isInt && x.i64
		if ok != want || (ok && i != x.i) {
			t.Errorf("parseIntLiteral(%q) = %d, %v; toNum: %d, int64 %v", s, i, ok, x.i, want)
		}
	}
}
