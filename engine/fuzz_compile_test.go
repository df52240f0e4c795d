package engine

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// maxFuzzSpec bounds the size of a fuzzed spec file: larger inputs only
// make CUE slower, not the compiler more likely to break.
const maxFuzzSpec = 64 << 10

// FuzzCompile loads arbitrary spec source through the engine's loading
// path (LoadDir and Compile, as "amtsform check" does): a service.cue and
// a tests.cue in one directory. Whatever the designer writes, loading
// must not panic, and it returns either a service or an error; a
// *CheckError names at least one problem, each with a code and a message.
//
// The seeds are the examples and broken variants of a small service: a
// tuple in the data model, a misspelt group member and a misspelt
// constant in rules, an unknown widget, a misspelt ui attribute.
func FuzzCompile(f *testing.F) {
	dirs, _ := filepath.Glob("../examples/*")
	for _, dir := range dirs {
		svc, err := os.ReadFile(filepath.Join(dir, "service.cue"))
		if err != nil {
			continue
		}
		tests, _ := os.ReadFile(filepath.Join(dir, "tests.cue"))
		f.Add(string(svc), string(tests))
		f.Add(string(svc), "")
	}
	for _, repl := range []map[string]string{
		nil,
		{"DATA": "pair: [string, int]"},
		{"DATA": "kids?: [...{pair: [string, int]}]"},
		{"DATA": "open: [...]"},
		{"DATA": "deep: {a: {b: {c: {d: {e: {f: {g: {h: {i: {j: {k: {l: {m: {n: {o: {p: {q: int}}}}}}}}}}}}}}}}}"},
		{"income > 5": "applicant.birthDat > '2000'"},
		{"CONSTS": `limit: "incme > 5"`, "ROUTING": `{when: "\(limit)", to: "amt-a"}, {when: "!(\(limit))", to: "amt-b"},`},
		{"UI": `income: widget: "slider"`},
		{"UI": `note: widgt: "textarea"`},
		{"income > 5": "income > 'viel'"},
		{"income > 5": "sum(applicant, .x)"},
		{`"note"]`: `"note", "nix"]`},
	} {
		f.Add(brokenSpec(repl), "")
	}
	f.Add("package demo\n", "")
	f.Add("package demo\nservice: {\n", "")
	f.Add("package demo\nservice: data: [1, 2]\n", "package other\n")
	f.Fuzz(func(t *testing.T, service, tests string) {
		if len(service)+len(tests) > maxFuzzSpec {
			t.Skip()
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "service.cue"), []byte(service), 0o644); err != nil {
			t.Fatal(err)
		}
		if tests != "" {
			if err := os.WriteFile(filepath.Join(dir, "tests.cue"), []byte(tests), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		s, err := Load(dir)
		if (s == nil) == (err == nil) {
			t.Fatalf("Load returned service %v and error %v; want exactly one", s != nil, err)
		}
		var ce *CheckError
		if errors.As(err, &ce) {
			if len(ce.Problems) == 0 {
				t.Fatal("a *CheckError without problems")
			}
			for _, p := range ce.Problems {
				if p.Code == "" || strings.TrimSpace(p.Message) == "" {
					t.Fatalf("problem without code or message: %+v", p)
				}
			}
		}
	})
}
