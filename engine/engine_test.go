package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func kitaDoc() map[string]any {
	return map[string]any{
		"applicant": map[string]any{"givenName": "Jürgen", "familyName": "Müller", "birthDate": "1985-06-01"},
		"address":   map[string]any{"street": "Römerberg", "houseNumber": "23", "postalCode": "60311", "city": "Frankfurt am Main"},
		"children": []any{
			map[string]any{"name": "Lena", "birthDate": "2020-03-01", "careType": "kindergarten", "monthlyFee": json.Number("18000")},
		},
		"income":  json.Number("2400000"),
		"iban":    "DE89370400440532013000",
		"consent": true,
	}
}

// TestEvaluateKita covers the pipeline case by case: each case changes a
// valid document and names exactly the errors expected.
func TestEvaluateKita(t *testing.T) {
	s := kita(t)
	child := func(m map[string]any) map[string]any { return m["children"].([]any)[0].(map[string]any) }
	tests := []struct {
		name   string
		change func(m map[string]any)
		want   []string // path (code)
		office string
	}{
		{"valid", func(m map[string]any) {}, nil, "jugendamt-frankfurt"},
		{"default office", func(m map[string]any) { m["address"].(map[string]any)["postalCode"] = "65719" }, nil, "jugendamt-main-taunus"},
		{"missing group is reported member by member", func(m map[string]any) { delete(m, "applicant") },
			[]string{"applicant.birthDate (required)", "applicant.familyName (required)", "applicant.givenName (required)"}, ""},
		{"type", func(m map[string]any) { m["income"] = "viel" }, []string{"income (type)"}, ""},
		{"float is not int", func(m map[string]any) { m["income"] = json.Number("3.0") }, []string{"income (type)"}, ""},
		{"max", func(m map[string]any) { child(m)["monthlyFee"] = json.Number("200001") }, []string{"children[0].monthlyFee (max)"}, ""},
		{"min", func(m map[string]any) { m["income"] = json.Number("-1") }, []string{"income (min)"}, ""},
		{"huge number", func(m map[string]any) { m["income"] = json.Number("100000000000000000000000") }, []string{"income (max)"}, ""},
		{"pattern", func(m map[string]any) { m["address"].(map[string]any)["postalCode"] = "6031" }, []string{"address.postalCode (pattern)"}, ""},
		{"date", func(m map[string]any) { child(m)["birthDate"] = "2020-02-30" }, []string{"children[0].birthDate (date)"}, ""},
		{"enum", func(m map[string]any) { child(m)["careType"] = "Kita" }, []string{"children[0].careType (enum)"}, ""},
		{"empty name: required, as in the form", func(m map[string]any) { child(m)["name"] = "" }, []string{"children[0].name (required)"}, ""},
		{"maxLength counts runes", func(m map[string]any) { child(m)["name"] = strings.Repeat("ä", 80) }, nil, "jugendamt-frankfurt"},
		{"minItems", func(m map[string]any) { m["children"] = []any{} }, []string{"children (minItems)"}, ""},
		{"required list", func(m map[string]any) { delete(m, "children") }, []string{"children (required)"}, ""},
		{"iban check digits", func(m map[string]any) { m["iban"] = "DE00370400440532013000" }, []string{"iban (iban)"}, ""},
		{"iban required when covered", func(m map[string]any) { delete(m, "iban") }, []string{"iban (required)"}, ""},
		{"iban hidden and dropped above the limit", func(m map[string]any) {
			m["income"] = json.Number("5000000")
			m["iban"] = "kaputt"
		}, nil, "jugendamt-frankfurt"},
		{"consent must be true", func(m map[string]any) { m["consent"] = false }, []string{"consent (enum)"}, ""},
		{"consent must be given", func(m map[string]any) { delete(m, "consent") }, []string{"consent (required)"}, ""},
		{"unknown field", func(m map[string]any) { m["bonus"] = 1 }, []string{"bonus (unknownField)"}, ""},
		{"reserved names are unknown fields too", func(m map[string]any) { m["item"] = 1; m["today"] = 2 }, []string{"item (unknownField)", "today (unknownField)"}, ""},
		{"check rule", func(m map[string]any) { child(m)["birthDate"] = "2010-01-01" }, []string{"children[0].birthDate (kind-zu-alt)"}, ""},
		{"null", func(m map[string]any) { m["income"] = nil }, []string{"income (type)"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := kitaDoc()
			tt.change(doc)
			r := s.Evaluate(doc, Options{Today: time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)})
			var got []string
			for _, e := range r.Errors {
				got = append(got, e.Path+" ("+e.Code+")")
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors\n got  %v\n want %v", got, tt.want)
			}
			if tt.office != "" && r.Office != tt.office {
				t.Errorf("office %q, want %q", r.Office, tt.office)
			}
		})
	}
}

// TestComputedIgnoresClient shows that a client cannot set a computed value.
func TestComputedIgnoresClient(t *testing.T) {
	s := kita(t)
	doc := kitaDoc()
	doc["coveredFee"] = json.Number("999999")
	r := s.Evaluate(doc, Options{})
	if got := r.Data["coveredFee"]; got != int64(18000) {
		t.Fatalf("coveredFee = %v, want 18000", got)
	}
	if doc["coveredFee"] != json.Number("999999") {
		t.Fatal("Evaluate modified its input")
	}
	var ve *ValidationError
	if err := s.Validate(doc); err != nil || errors.As(err, &ve) {
		t.Fatalf("Validate: %v", err)
	}
}

func TestParseDocumentLimits(t *testing.T) {
	lim := Limits{MaxBytes: 200, MaxDepth: 3, MaxItems: 3, MaxKeys: 3, MaxString: 5, MaxNumbers: 5}
	tests := []struct {
		in       string
		tooLarge bool
		errPart  string
	}{
		{`{"a":1}`, false, ""},
		{`{"a":[1,2,3,4]}`, true, "at a"},
		{`{"a":{"b":{"c":{}}}}`, true, "nested deeper"},
		{`{"a":"123456"}`, true, "text longer"},
		{`{"a":1234567}`, true, "number longer"},
		{`{"a":1,"b":2,"c":3,"d":4}`, true, "more than 3 members"},
		{`{"a":1,"a":2}`, false, "member given twice"},
		{`{"a":`, false, "malformed"},
		{`[1]`, false, "expected a JSON object"},
		{`{"a":1} {}`, false, "after the document"},
		{`{"a":"` + strings.Repeat("x", 300) + `"}`, true, "larger than"},
	}
	for _, tt := range tests {
		_, err := ParseDocument(strings.NewReader(tt.in), lim)
		if tt.errPart == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.in, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.errPart) {
			t.Errorf("%.40s: error %v, want it to mention %q", tt.in, err, tt.errPart)
			continue
		}
		if errors.Is(err, ErrTooLarge) != tt.tooLarge {
			t.Errorf("%.40s: errors.Is(ErrTooLarge) = %v", tt.in, !tt.tooLarge)
		}
	}
}

func TestValidIBAN(t *testing.T) {
	for in, want := range map[string]bool{
		"DE89370400440532013000": true,
		"GB82WEST12345698765432": true,
		"DE89370400440532013001": false,
		"DE8937040044053201300":  false,
		"de89370400440532013000": false,
	} {
		if got := validIBAN(in); got != want {
			t.Errorf("validIBAN(%q) = %v", in, got)
		}
	}
}

func TestAddMonthsClampsToMonthEnd(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"2026-05-31", -3, "2026-02-28"},
		{"2024-05-31", -3, "2024-02-29"},
		{"2026-01-15", 1, "2026-02-15"},
		{"2026-12-31", 2, "2027-02-28"},
	} {
		d, _ := time.Parse("2006-01-02", tt.in)
		if got := addMonths(d, tt.n).Format("2006-01-02"); got != tt.want {
			t.Errorf("addMonths(%s, %d) = %s, want %s", tt.in, tt.n, got, tt.want)
		}
	}
}

// TestFormJSON keeps the renderer contract stable: the form model of every
// example serialises, and every field has a label in both languages.
func TestFormJSON(t *testing.T) {
	for _, dir := range exampleDirs(t) {
		s, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := json.Marshal(s.Form); err != nil {
			t.Fatal(err)
		}
		var walk func(fs []*Field)
		walk = func(fs []*Field) {
			for _, f := range fs {
				if f.Label.De == "" || f.Label.En == "" {
					t.Errorf("%s: %s has no bilingual label", s.ID, f.Path)
				}
				walk(f.Fields)
			}
		}
		for _, p := range s.Form.Pages {
			walk(p.Fields)
		}
		if len(s.Hash) != 64 {
			t.Errorf("%s: hash %q", s.ID, s.Hash)
		}
	}
}

// brokenBase is a small valid service; the cases of TestCompileProblems
// replace its markers to break it in one way each.
const brokenBase = `package demo

import "amtsform.dev/spec"

// CONSTS
service: spec.#Service & {
	id: "demo", version: "1.0.0", reference: "DEMO", authority: "buergeramt", retentionDays: 30
	title: {de: "Demo", en: "Demo"}
	data: {
		applicant: spec.#Person
		income:    int
		note?:     string
		// DATA
	}
	ui: {
		applicant: {
			label: {de: "Person", en: "Person"}
			fields: {
				givenName: label: {de: "Vorname", en: "Given name"}
				familyName: label: {de: "Nachname", en: "Family name"}
				birthDate: label: {de: "Geburtsdatum", en: "Date of birth"}
			}
		}
		income: label: {de: "Einkommen", en: "Income"}
		note: label: {de: "Notiz", en: "Note"}
		// UI
	}
	pages: [{id: "start", title: {de: "Start", en: "Start"}, fields: ["applicant", "income", "note"]}]
	rules: show: note: "income > 5"
	routing: [
		// ROUTING
		{to: "amt"},
	]
	workflow: spec.#StandardWorkflow
}
`

// writeSpec writes a service.cue with src into a fresh directory and
// returns the directory.
func writeSpec(t testing.TB, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "service.cue"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// brokenSpec replaces the markers of brokenBase: each key (DATA, UI,
// ROUTING, CONSTS, or any other text of the base) by its value.
func brokenSpec(repl map[string]string) string {
	src := brokenBase
	for k, v := range repl {
		if k == "DATA" || k == "UI" || k == "ROUTING" || k == "CONSTS" {
			k = "// " + k
		}
		src = strings.Replace(src, k, v, 1)
	}
	return src
}

// TestCompileProblems loads broken specs and names exactly the problems
// expected, as file:line:col: message with the file's base name.
func TestCompileProblems(t *testing.T) {
	if _, err := Load(writeSpec(t, brokenSpec(nil))); err != nil {
		t.Fatalf("the base spec does not load: %v", err)
	}
	tests := []struct {
		name string
		repl map[string]string
		want []string
	}{
		{"tuple", map[string]string{"DATA": "pair: [string, int]"}, []string{
			"service.cue:13:3: pair: only open lists of one type ([...T]) are supported",
			"service.cue:13:3: data.pair has no label: add ui.pair.label with de and en",
			"service.cue:13:3: data.pair is required but on no page, so nobody can enter it",
		}},
		{"tuple in a repeating group", map[string]string{
			"DATA":    "kids?: [...{pair: [string, int]}]",
			"UI":      `kids: {label: {de: "K", en: "K"}, fields: pair: label: {de: "P", en: "P"}}`,
			`"note"]`: `"note", "kids"]`,
		}, []string{
			"service.cue:13:15: kids.pair: only open lists of one type ([...T]) are supported",
		}},
		{"misspelt member of a group", map[string]string{"income > 5": "applicant.birthDat > '2000'"}, []string{
			"service.cue:29:32: rules.show.note: applicant has no field birthDat (fields: givenName, familyName, birthDate); did you mean birthDate?",
		}},
		{"misspelt member of a repeating group's entry", map[string]string{
			"DATA":       "kids?: [...{name: string, age: int}]",
			"UI":         `kids: {label: {de: "K", en: "K"}, fields: {name: label: {de: "N", en: "N"}, age: label: {de: "A", en: "A"}}}`,
			`"note"]`:    `"note", "kids"]`,
			"income > 5": "any(kids, .ag > 3)",
		}, []string{
			"service.cue:29:33: rules.show.note: an entry of kids has no field ag (fields: name, age); did you mean age?",
		}},
		{"groups of the same shape", map[string]string{
			"DATA":       "spouse?: spec.#Person",
			"UI":         `spouse: {label: {de: "P", en: "P"}, fields: {givenName: label: {de: "V", en: "G"}, familyName: label: {de: "N", en: "F"}, birthDate: label: {de: "G", en: "B"}}}`,
			`"note"]`:    `"note", "spouse"]`,
			"income > 5": "spouse.givenNam != ''",
		}, []string{
			"service.cue:29:29: rules.show.note: spouse has no field givenNam (fields: givenName, familyName, birthDate); did you mean givenName?",
		}},
		{"a member far from every field", map[string]string{"income > 5": "applicant.xyz == ''"}, []string{
			"service.cue:29:32: rules.show.note: applicant has no field xyz (fields: givenName, familyName, birthDate)",
		}},
		{"misspelt name", map[string]string{"income > 5": "Income > 5"}, []string{
			"service.cue:29:22: rules.show.note: unknown name Income; did you mean income?",
		}},
		{"misspelt constant used by three rules", map[string]string{
			"CONSTS":       `high: "incme > 5"`,
			"ROUTING":      `{when: "\(high)", to: "amt-a"}, {when: "!(\(high))", to: "amt-b"},`,
			`"income > 5"`: `"note != '' && \(high)"`,
		}, []string{
			"service.cue:5:8: high: unknown name incme; did you mean income? (used by rules.show.note and 2 other rules)",
		}},
		{"misspelt let constant", map[string]string{
			"CONSTS":  `let high = "incme > 5"`,
			"ROUTING": `{when: "\(high)", to: "amt-a"},`,
		}, []string{
			"service.cue:5:13: high: unknown name incme; did you mean income? (used by routing to amt-a)",
		}},
		{"a rule that is just a constant", map[string]string{
			"CONSTS":       `high: "incme > 5"`,
			`"income > 5"`: `high`,
		}, []string{
			"service.cue:5:8: high: unknown name incme; did you mean income? (used by rules.show.note)",
		}},
		{"columns after an interpolated number", map[string]string{
			"CONSTS":       `limit: 1000`,
			`"income > 5"`: `"income > \(limit) && incme > 2"`,
		}, []string{
			"service.cue:29:43: rules.show.note: unknown name incme; did you mean income?",
		}},
		{"unknown widget", map[string]string{"UI": `income: widget: "slider"`}, []string{
			`service.cue:26:19: ui.income.widget: "slider" is not allowed; use one of "checkbox", "checkboxes", "date", "email", "file", "money", "number", "radio", "select", "tel", "text", "textarea"`,
		}},
		{"widget of the wrong type", map[string]string{"UI": `income: widget: 3`}, []string{
			`service.cue:26:19: ui.income.widget: 3 is not allowed; use one of "checkbox", "checkboxes", "date", "email", "file", "money", "number", "radio", "select", "tel", "text", "textarea"`,
		}},
		{"misspelt ui attribute", map[string]string{"UI": `note: widgt: "textarea"`}, []string{
			`service.cue:26:9: ui.note: field "widgt" is not allowed; did you mean widget?`,
		}},
		{"misspelt service attribute", map[string]string{"retentionDays: 30": "retentionDays: 30, referenc: \"X\""}, []string{
			`service.cue:7:95: service: field "referenc" is not allowed; did you mean reference?`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeSpec(t, brokenSpec(tt.repl)))
			var ce *CheckError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v, want a *CheckError", err)
			}
			var got []string
			for _, p := range ce.Problems {
				got = append(got, fmt.Sprintf("%s:%d:%d: %s", filepath.Base(p.Pos.File), p.Pos.Line, p.Pos.Col, p.Message))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems\n got  %q\n want %q", got, tt.want)
			}
		})
	}
}
