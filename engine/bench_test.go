package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"cuelang.org/go/cue"
)

// benchDoc returns a valid document of the example: for the Kita service
// one with three children, otherwise the first valid spec test input.
func benchDoc(b *testing.B, s *Service) map[string]any {
	b.Helper()
	if s.ID == "kita-gebuehren" {
		kid := func(name, born string) map[string]any {
			return map[string]any{"name": name, "birthDate": born, "careType": "kindergarten", "monthlyFee": json.Number("18000")}
		}
		return map[string]any{
			"applicant": map[string]any{"givenName": "Jürgen", "familyName": "Müller", "birthDate": "1985-06-01"},
			"address":   map[string]any{"street": "Römerberg", "houseNumber": "23", "postalCode": "60311", "city": "Frankfurt am Main"},
			"children":  []any{kid("Lena", "2020-03-01"), kid("Paul", "2021-08-15"), kid("Mia", "2022-11-30")},
			"income":    json.Number("2400000"),
			"iban":      "DE89370400440532013000",
			"consent":   true,
		}
	}
	for _, t := range s.Tests {
		if t.Valid && len(s.Data.CheckData(t.Input)) == 0 {
			return t.Input
		}
	}
	b.Skip("no valid document")
	return nil
}

// BenchmarkValidate compares, on the same documents, the compiled plan
// (data model only, and the whole pipeline with rules) with CUE
// unification of the closed data model.
func BenchmarkValidate(b *testing.B) {
	for _, dir := range exampleDirs(b) {
		src, err := LoadDir(dir)
		if err != nil {
			b.Fatal(err)
		}
		s, err := Compile(src)
		if err != nil {
			b.Fatal(err)
		}
		doc := benchDoc(b, s)
		if errs := s.Data.CheckData(doc); len(errs) > 0 {
			b.Fatalf("%s: benchmark document invalid: %v", s.ID, errs)
		}
		raw, _ := json.Marshal(doc)
		oracle := newCUEOracle(b, src)
		name := filepath.Base(dir)
		b.Run(name+"/plan", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if errs := s.Data.CheckData(doc); len(errs) != 0 {
					b.Fatal(errs)
				}
			}
		})
		b.Run(name+"/evaluate", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.Evaluate(doc, Options{})
			}
		})
		b.Run(name+"/cue", func(b *testing.B) {
			for b.Loop() {
				v := oracle.schema.Unify(oracle.ctx.CompileBytes(raw))
				if err := v.Validate(cue.Concrete(true)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkValidateRatio measures plan, whole pipeline and CUE in one
// loop, timing each side separately, and reports how many times faster
// the plan is than CUE (x-faster) for the Kita example. The sides are
// interleaved so that all three see the same machine state; it finishes
// with -benchtime=1x.
func BenchmarkValidateRatio(b *testing.B) {
	src, err := LoadDir("../examples/kita-gebuehren")
	if err != nil {
		b.Fatal(err)
	}
	s, err := Compile(src)
	if err != nil {
		b.Fatal(err)
	}
	doc := benchDoc(b, s)
	raw, _ := json.Marshal(doc)
	oracle := newCUEOracle(b, src)
	// Each side runs a batch per iteration, so that the clock's
	// resolution does not dominate the plan's sub-microsecond runs.
	const batch = 50
	var plan, full, cueTime time.Duration
	for b.Loop() {
		t0 := time.Now()
		for range batch {
			if errs := s.Data.CheckData(doc); len(errs) != 0 {
				b.Fatal(errs)
			}
		}
		t1 := time.Now()
		for range batch {
			s.Evaluate(doc, Options{})
		}
		t2 := time.Now()
		if err := oracle.schema.Unify(oracle.ctx.CompileBytes(raw)).Validate(cue.Concrete(true)); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		plan += t1.Sub(t0)
		full += t2.Sub(t1)
		cueTime += t3.Sub(t2)
	}
	n := float64(b.N)
	planNs := float64(plan.Nanoseconds()) / (n * batch)
	fullNs := float64(full.Nanoseconds()) / (n * batch)
	cueNs := float64(cueTime.Nanoseconds()) / n
	b.ReportMetric(cueNs/planNs, "x-faster-plan")
	b.ReportMetric(cueNs/fullNs, "x-faster-evaluate")
	b.ReportMetric(planNs, "plan-ns")
	b.ReportMetric(fullNs, "evaluate-ns")
	b.ReportMetric(cueNs, "cue-ns")
}

// BenchmarkCompile200 compiles a generated service with 200 fields.
func BenchmarkCompile200(b *testing.B) {
	dir := b.TempDir()
	writeGenerated(b, dir, 200)
	for b.Loop() {
		if _, err := Load(dir); err != nil {
			b.Fatal(err)
		}
	}
}

// writeGenerated writes a service with n fields of mixed kinds, spread
// over pages of 20, with a show rule for every tenth field.
func writeGenerated(t testing.TB, dir string, n int) {
	var data, ui, rules, pages bytes.Buffer
	var page []string
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("f%03d", i)
		switch i % 5 {
		case 0:
			fmt.Fprintf(&data, "\t\t%s: string & strings.MinRunes(1) & strings.MaxRunes(%d)\n", name, 50+i)
		case 1:
			fmt.Fprintf(&data, "\t\t%s: int & >=0 & <=%d\n", name, 1000+i)
		case 2:
			fmt.Fprintf(&data, "\t\t%s: \"a\" | \"b\" | \"c\"\n", name)
			fmt.Fprintf(&ui, "\t\t%s: options: {a: {de: \"A\", en: \"A\"}, b: {de: \"B\", en: \"B\"}, c: {de: \"C\", en: \"C\"}}\n", name)
		case 3:
			fmt.Fprintf(&data, "\t\t%s?: spec.#Date\n", name)
			fmt.Fprintf(&rules, "\t\t%s: \"f%03d > 10\"\n", name, i-2)
		case 4:
			fmt.Fprintf(&data, "\t\t%s: bool | *false\n", name)
		}
		fmt.Fprintf(&ui, "\t\t%s: label: {de: \"Feld %d\", en: \"Field %d\"}\n", name, i, i)
		page = append(page, fmt.Sprintf("%q", name))
		if len(page) == 20 || i == n-1 {
			fmt.Fprintf(&pages, "\t\t{id: \"p%d\", title: {de: \"Seite\", en: \"Page\"}, fields: [%s]},\n", i/20, strings.Join(page, ", "))
			page = nil
		}
	}
	src := fmt.Sprintf(`package gen

import (
	"strings"
	"amtsform.dev/spec"
)

service: spec.#Service & {
	id: "generiert", version: "1.0.0", reference: "GEN", authority: "buergeramt", retentionDays: 30
	title: {de: "Generiert", en: "Generated"}
	data: {
%s	}
	ui: {
%s	}
	pages: [
%s	]
	rules: show: {
%s	}
	routing: [{to: "amt"}]
	workflow: spec.#StandardWorkflow
}
`, data.String(), ui.String(), pages.String(), rules.String())
	if err := os.WriteFile(filepath.Join(dir, "service.cue"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestGenerated200 makes sure the generated spec used by the benchmark
// compiles, so that the benchmark measures a real compile.
func TestGenerated200(t *testing.T) {
	dir := t.TempDir()
	writeGenerated(t, dir, 200)
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(s.Data.Fields); got != 200 {
		t.Fatalf("got %d fields, want 200", got)
	}
}

// peerDoc reads the Kita document with three children that the peer
// benchmark (bench/) validates with ajv.
func peerDoc(b *testing.B) []byte {
	b.Helper()
	raw, err := os.ReadFile("../bench/testdata/kita-3-children.json")
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

// BenchmarkPlan validates the peer benchmark's document with the
// compiled plan alone, reporting allocations: a valid document should
// cost none.
func BenchmarkPlan(b *testing.B) {
	s := kita(b)
	doc, err := ParseDocument(bytes.NewReader(peerDoc(b)), Limits{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if errs := s.Data.CheckData(doc); len(errs) != 0 {
			b.Fatal(errs)
		}
	}
}

// BenchmarkPlanVsAjv runs bench/peer.sh, which times the plan and ajv on
// the same document, and reports both and their ratio. It needs node
// and bench/node_modules (npm ci in bench/); without them it is skipped.
func BenchmarkPlanVsAjv(b *testing.B) {
	if _, err := exec.LookPath("node"); err != nil {
		b.Skip("node not installed")
	}
	if _, err := os.Stat("../bench/node_modules/ajv"); err != nil {
		b.Skip("bench/node_modules missing: run npm ci in bench/")
	}
	var planNs, ajvNs float64
	for b.Loop() {
		out, err := exec.Command("../bench/peer.sh").CombinedOutput()
		if err != nil {
			b.Fatalf("peer.sh: %v\n%s", err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				continue
			}
			switch f[0] {
			case "plan":
				planNs = v
			case "ajv":
				ajvNs = v
			}
		}
		if planNs == 0 || ajvNs == 0 {
			b.Fatalf("peer.sh printed no numbers:\n%s", out)
		}
	}
	b.ReportMetric(planNs, "plan-ns")
	b.ReportMetric(ajvNs, "ajv-ns")
	b.ReportMetric(planNs/ajvNs, "plan/ajv")
}

// BenchmarkParseDocument reads the Kita document with three children with
// ParseDocument and, in the same loop, with json.Unmarshal into an any,
// timing each, and reports their ratio (parse/json: at most 1 is the
// goal) and both times. Allocations are those of both together.
func BenchmarkParseDocument(b *testing.B) {
	raw := peerDoc(b)
	var parse, std time.Duration
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		if _, err := ParseDocument(bytes.NewReader(raw), Limits{}); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		parse += t1.Sub(t0)
		std += t2.Sub(t1)
	}
	b.ReportMetric(float64(parse.Nanoseconds())/float64(std.Nanoseconds()), "parse/json")
	b.ReportMetric(float64(parse.Nanoseconds())/float64(b.N), "parse-ns")
	b.ReportMetric(float64(std.Nanoseconds())/float64(b.N), "json-ns")
}

// BenchmarkEvaluate parses the Kita document with three children and
// evaluates it as the API does (handed over, Options.Owned) and as other
// callers do (copied first); "copy-view" also has the rules read a copy,
// as every evaluation did before they could read the document itself.
func BenchmarkEvaluate(b *testing.B) {
	s := kita(b)
	raw := peerDoc(b)
	today := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, bc := range []struct {
		name string
		opt  Options
	}{
		{"owned", Options{Today: today, Owned: true}},
		{"copy", Options{Today: today}},
		{"copy-view", Options{Today: today, copyView: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				doc, err := ParseDocument(bytes.NewReader(raw), Limits{})
				if err != nil {
					b.Fatal(err)
				}
				if r := s.Evaluate(doc, bc.opt); !r.Valid() {
					b.Fatal(r.Errors)
				}
			}
		})
	}
}
