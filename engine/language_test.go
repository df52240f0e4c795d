package engine

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// langBase is a small service with a multiple choice, a code list of its
// own, a shipped code list and an attachment with rules; the tests below
// replace its markers (see brokenSpec) to vary it.
const langBase = `package demo

import (
	"list"
	"amtsform.dev/spec"
)

#Schulen: spec.#CodeList & {entries: [
	{code: "gs-nord", label: {de: "Grundschule Nord", en: "North primary school"}},
	{code: "gs-sued", label: {de: "Grundschule Süd", en: "South primary school"}},
]}

service: spec.#Service & {
	id: "demo", version: "1.0.0", reference: "DEMO", authority: "buergeramt", retentionDays: 30
	title: {de: "Demo", en: "Demo"}
	data: {
		classes: [...("sport" | "musik" | "kunst")] & list.UniqueItems() & list.MinItems(1) & list.MaxItems(2)
		school:  #Schulen.values
		country?: spec.#Country
		photo?:  spec.#Attachment
		scans?:  [...spec.#Attachment] & list.MaxItems(3)
		plz?:    spec.#PostalCode
	}
	ui: {
		classes: {label: {de: "Kurse", en: "Classes"}, options: {sport: {de: "Sport", en: "Sports"}, musik: {de: "Musik", en: "Music"}, kunst: {de: "Kunst", en: "Art"}}}
		school: {label: {de: "Schule", en: "School"}, options: #Schulen.options}
		country: spec.#CountryUI
		photo: {label: {de: "Foto", en: "Photo"}, accept: ["image/jpeg"], maxBytes: 5000000}
		scans: {label: {de: "Scans", en: "Scans"}, accept: ["application/pdf", "image/png"]}
		plz: {label: {de: "PLZ", en: "Postal code"}, messages: pattern: {de: "Fünf Ziffern", en: "Five digits"}}
	}
	pages: [{id: "start", title: {de: "Start", en: "Start"}, fields: ["classes", "school", "country", "photo", "scans", "plz"]}]
	routing: [{to: "amt"}]
	workflow: spec.#StandardWorkflow
}
`

func langService(t *testing.T, repl map[string]string) *Service {
	t.Helper()
	src := langBase
	for k, v := range repl {
		if !strings.Contains(src, k) {
			t.Fatalf("no %q in the base spec", k)
		}
		src = strings.Replace(src, k, v, 1)
	}
	s, err := Load(writeSpec(t, src))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestMultiSelect: a list of options with list.UniqueItems() is a
// checkbox group; the plan checks its bounds and that no option is
// ticked twice.
func TestMultiSelect(t *testing.T) {
	s := langService(t, nil)
	tests := []struct {
		classes any
		want    string
	}{
		{[]any{"sport"}, ""},
		{[]any{"sport", "kunst"}, ""},
		{[]any{}, "classes:minItems"},
		{nil, "classes:required"},
		{[]any{"sport", "sport"}, "classes:uniqueItems"},
		{[]any{"sport", "musik", "kunst"}, "classes:maxItems"},
		{[]any{"sport", "ballett"}, "classes[1]:enum"},
		{"sport", "classes:type"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.classes), func(t *testing.T) {
			doc := map[string]any{"school": "gs-nord"}
			if tt.classes != nil {
				doc["classes"] = tt.classes
			}
			var got []string
			for _, e := range s.Data.CheckData(doc) {
				got = append(got, e.Path+":"+e.Code)
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("errors %v, want %q", got, tt.want)
			}
		})
	}
	f := s.Form.Pages[0].Fields[0]
	if f.Widget != "checkboxes" || len(f.Options) != 3 || f.Options[1].Value != "musik" || f.Options[1].Label.De != "Musik" {
		t.Errorf("classes: widget %q, options %+v; want a checkbox group of three labelled options", f.Widget, f.Options)
	}
	if f.Repeat == nil || f.Repeat.Min != 1 || f.Repeat.Max != 2 {
		t.Errorf("classes: repeat %+v, want min 1 and max 2", f.Repeat)
	}
	sch := s.JSONSchema()["properties"].(map[string]any)["classes"].(map[string]any)
	if sch["uniqueItems"] != true {
		t.Errorf("JSON Schema of classes: %v, want uniqueItems", sch)
	}
}

// TestCodeLists: a #CodeList of the package and the shipped lists become
// enumerations with their labels, in the order written (countries by
// their German name, Germany first).
func TestCodeLists(t *testing.T) {
	s := langService(t, nil)
	fields := s.Form.Pages[0].Fields
	school, country := fields[1], fields[2]
	if len(school.Options) != 2 || school.Options[1].Value != "gs-sued" || school.Options[1].Label.En != "South primary school" {
		t.Errorf("school options %+v", school.Options)
	}
	if school.Widget != "radio" {
		t.Errorf("school widget %q, want radio", school.Widget)
	}
	if country.Widget != "select" || len(country.Options) < 240 {
		t.Fatalf("country: widget %q with %d options, want a select of every state", country.Widget, len(country.Options))
	}
	var first []string
	for _, o := range country.Options[:4] {
		first = append(first, fmt.Sprint(o.Value, "=", o.Label.De))
	}
	if want := "DE=Deutschland AF=Afghanistan EG=Ägypten AX=Ålandinseln"; strings.Join(first, " ") != want {
		t.Errorf("first countries %q, want %q", strings.Join(first, " "), want)
	}
	if got := s.Data.CheckData(map[string]any{"classes": []any{"sport"}, "school": "gs-west", "country": "XY"}); len(got) != 2 || got[0].Code != CodeEnum || got[1].Code != CodeEnum {
		t.Errorf("errors %v, want enum for country and school", got)
	}
	// An overlay narrows a code list like any enumeration; CUE decides
	// which values remain ("QQ" is no country).
	s = langService(t, map[string]string{
		"plz?:    spec.#PostalCode": "plz?: spec.#PostalCode\n\t\tnear?: spec.#Country & (\"DE\" | \"AT\" | \"QQ\")",
		"plz: {label":               "near: spec.#CountryUI, plz: {label",
	})
	if got := enumValues(s.Data.Field("near")); fmt.Sprint(got) != "[DE AT]" {
		t.Errorf("narrowed countries %v, want [DE AT]", got)
	}
}

// TestNationalities: #Nationality takes every state's code and, at the
// end of the select, "XXA" stateless and "XXX" undetermined (ICAO Doc
// 9303), labelled in German and English.
func TestNationalities(t *testing.T) {
	s := langService(t, map[string]string{
		"plz?:    spec.#PostalCode": "plz?: spec.#PostalCode\n\t\tnat: spec.#Nationality",
		"plz: {label":               "nat: spec.#NationalityUI, plz: {label",
		`"scans", "plz"]`:           `"scans", "plz", "nat"]`,
	})
	var nat *Field
	for _, f := range s.Form.Pages[0].Fields {
		if f.Path == "nat" {
			nat = f
		}
	}
	if nat == nil {
		t.Fatal("no field nat on the page")
	}
	n := len(nat.Options)
	if nat.Widget != "select" || n < 250 || nat.Options[0].Value != "DE" {
		t.Fatalf("nat: widget %q with %d options, first %v", nat.Widget, n, nat.Options[0].Value)
	}
	var last []string
	for _, o := range nat.Options[n-2:] {
		last = append(last, fmt.Sprint(o.Value, "=", o.Label.De, "/", o.Label.En))
	}
	if want := "XXA=Staatenlos/Stateless XXX=Ungeklärt/Undetermined"; strings.Join(last, " ") != want {
		t.Errorf("last options %q, want %q", strings.Join(last, " "), want)
	}
	base := map[string]any{"classes": []any{"sport"}, "school": "gs-nord"}
	for code, want := range map[string]int{"XXA": 0, "XXX": 0, "FR": 0, "XX": 1, "xxa": 1} {
		doc := map[string]any{"nat": code}
		for k, v := range base {
			doc[k] = v
		}
		if got := s.Data.CheckData(doc); len(got) != want {
			t.Errorf("nat %q: errors %v, want %d", code, got, want)
		}
	}
}

// TestAttachmentRules: accept and maxBytes are in the form model and
// CheckUpload enforces them per file; list.MaxItems bounds the number.
func TestAttachmentRules(t *testing.T) {
	s := langService(t, nil)
	tests := []struct {
		path, typ string
		size      int64
		want      string
	}{
		{"photo", "image/jpeg", 4_000_000, ""},
		{"photo", "image/png", 1000, "photo:attachmentType:[image/jpeg]"},
		{"photo", "image/jpeg", 5_000_001, "photo:attachmentSize:5000000"},
		{"scans[2]", "application/pdf", 30_000_000, ""},
		{"scans[0]", "image/jpeg", 10, "scans[0]:attachmentType:[application/pdf image/png]"},
		{"plz", "image/jpeg", 10, "plz:unknownField:<nil>"},
	}
	for _, tt := range tests {
		got := ""
		if e := s.CheckUpload(tt.path, tt.typ, tt.size); e != nil {
			var p any
			switch e.Code {
			case CodeAttachmentType:
				p = e.Params["accept"]
			case CodeAttachmentSize:
				p = e.Params["maxBytes"]
			}
			got = fmt.Sprintf("%s:%s:%v", e.Path, e.Code, p)
		}
		if got != tt.want {
			t.Errorf("CheckUpload(%s, %s, %d) = %q, want %q", tt.path, tt.typ, tt.size, got, tt.want)
		}
	}
	photo := s.Form.Pages[0].Fields[3]
	if !reflect.DeepEqual(photo.Accept, []string{"image/jpeg"}) || photo.MaxBytes != 5000000 {
		t.Errorf("photo: accept %v, maxBytes %d", photo.Accept, photo.MaxBytes)
	}
	scan := s.Form.Pages[0].Fields[4].Fields[0]
	if len(scan.Accept) != 2 {
		t.Errorf("an entry of scans accepts %v, want the list's types", scan.Accept)
	}
	doc := map[string]any{"classes": []any{"sport"}, "school": "gs-nord", "scans": []any{"aaaaaaaa", "bbbbbbbb", "cccccccc", "dddddddd"}}
	if got := s.Data.CheckData(doc); len(got) != 1 || got[0].Path != "scans" || got[0].Code != CodeMaxItems {
		t.Errorf("four scans: %v, want scans (maxItems)", got)
	}
}

// TestFieldMessages: a field's own message for a built-in code is found
// by document path; a shipped group names itself in its errors.
func TestFieldMessages(t *testing.T) {
	s := langService(t, nil)
	if m, ok := s.FieldMessage("plz", CodePattern); !ok || m.De != "Fünf Ziffern" {
		t.Errorf("FieldMessage(plz, pattern) = %v, %v", m, ok)
	}
	if _, ok := s.FieldMessage("plz", CodeRequired); ok {
		t.Error("FieldMessage(plz, required): a message nobody gave")
	}
	errs := s.Data.CheckData(map[string]any{"classes": []any{"sport"}, "school": "gs-nord", "plz": "6031"})
	if len(errs) != 1 || errs[0].Code != CodePattern || errs[0].Params["name"] != "postalCode" {
		t.Errorf("plz 6031: %v, want pattern with name postalCode", errs)
	}
}

// TestLanguageProblems: the new constructs' mistakes are check problems.
func TestLanguageProblems(t *testing.T) {
	tests := []struct {
		name string
		repl map[string]string
		want string
	}{
		{"an option of a multiple choice without label", map[string]string{`, kunst: {de: "Kunst", en: "Art"}`: ""},
			`ui.classes.options: no label for value kunst`},
		{"a message for a code that is not built in", map[string]string{"messages: pattern:": "messages: plz:"},
			`ui.plz.messages: "plz" is not a built-in error code (check rules bring their own message)`},
		{"accept on a field that is not an attachment", map[string]string{`plz: {label: {de: "PLZ", en: "Postal code"}`: `plz: {label: {de: "PLZ", en: "Postal code"}, maxBytes: 10`},
			`ui.plz: accept and maxBytes apply to attachments (spec.#Attachment) only`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := langBase
			for k, v := range tt.repl {
				src = strings.Replace(src, k, v, 1)
			}
			_, err := Load(writeSpec(t, src))
			var ce *CheckError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v, want a *CheckError", err)
			}
			var got []string
			for _, p := range ce.Problems {
				got = append(got, filepath.Base(p.Pos.File)+": "+p.Message)
			}
			if len(got) != 1 || !strings.HasSuffix(got[0], tt.want) {
				t.Errorf("problems %q, want one ending in %q", got, tt.want)
			}
		})
	}
}

// ruleBase exercises how rules treat unanswered and invalid values.
const ruleBase = `package demo

import (
	"list"
	"amtsform.dev/spec"
)

service: spec.#Service & {
	id: "demo", version: "1.0.0", reference: "DEMO", authority: "buergeramt", retentionDays: 30
	title: {de: "Demo", en: "Demo"}
	data: {
		country?:   spec.#Country
		residence?: string
		email?:     spec.#Email
		phone?:     spec.#Phone
		birthDate?: spec.#Date
		plz?:       spec.#PostalCode
		classes?:   [...("sport" | "musik" | "kunst")] & list.UniqueItems()
		sportNote?: string
		age?:       int
	}
	ui: {
		country: spec.#CountryUI
		residence: label: {de: "Wohnsitz", en: "Residence"}
		email: label: {de: "E-Mail", en: "Email"}
		phone: label: {de: "Telefon", en: "Phone"}
		birthDate: label: {de: "Geburtsdatum", en: "Date of birth"}
		plz: label: {de: "PLZ", en: "Postal code"}
		classes: {label: {de: "Kurse", en: "Classes"}, options: {sport: {de: "Sport", en: "Sports"}, musik: {de: "Musik", en: "Music"}, kunst: {de: "Kunst", en: "Art"}}}
		sportNote: label: {de: "Hinweis", en: "Note"}
		age: label: {de: "Alter", en: "Age"}
	}
	pages: [{id: "start", title: {de: "Start", en: "Start"}, fields: ["country", "residence", "email", "phone", "birthDate", "plz", "classes", "sportNote"]}]
	rules: {
		show: residence: "country != 'DE'"
		show: sportNote: "'sport' in classes"
		require: phone: "!answered(email)"
		compute: age: "years(birthDate, today)"
		check: [
			{id: "geburt-zukunft", path: "birthDate", assert: "birthDate <= today", guard: true, message: {de: "Zukunft", en: "Future"}},
			{id: "zu-jung", path: "birthDate", assert: "years(birthDate, today) >= 6", message: {de: "Zu jung", en: "Too young"}},
			{id: "kein-ballett-mit-kunst", path: "classes", assert: "item != 'kunst' || (country ?? 'DE') == 'DE'", message: {de: "Kunst nur im Inland", en: "Art only at home"}},
		]
	}
	routing: [
		{when: "plz startsWith '60'", to: "amt-frankfurt"},
		{to: "amt"},
	]
	workflow: spec.#StandardWorkflow
}
`

// TestRulesOnUnansweredAndInvalid: a rule that reads an unanswered or
// invalid field does not apply (show: hidden, require: not required,
// check: not run, compute: not computed, routing rule: skipped), unless
// it asks with answered(x) or x ?? fallback.
func TestRulesOnUnansweredAndInvalid(t *testing.T) {
	s, err := Load(writeSpec(t, ruleBase))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		doc    map[string]any
		errors string
		hidden string // of residence and sportNote
		office string
		age    any
	}{
		{"nothing answered", map[string]any{}, "phone:required", "residence sportNote", "amt", nil},
		{"Germany", map[string]any{"country": "DE", "email": "a@b.de"}, "", "residence sportNote", "amt", nil},
		{"abroad", map[string]any{"country": "AT", "email": "a@b.de"}, "", "sportNote", "amt", nil},
		{"no country", map[string]any{"country": "XY", "email": "a@b.de"}, "country:enum", "residence sportNote", "amt", nil},
		{"an invalid email does not answer it", map[string]any{"email": "kein@"}, "email:pattern phone:required", "residence sportNote", "amt", nil},
		{"routed by a valid postal code", map[string]any{"email": "a@b.de", "plz": "60311"}, "", "residence sportNote", "amt-frankfurt", nil},
		{"not by a four-digit one", map[string]any{"email": "a@b.de", "plz": "6031"}, "plz:pattern", "residence sportNote", "amt", nil},
		{"old enough", map[string]any{"email": "a@b.de", "birthDate": "2018-01-01"}, "", "residence sportNote", "amt", int64(8)},
		{"too young", map[string]any{"email": "a@b.de", "birthDate": "2022-01-01"}, "birthDate:zu-jung", "residence sportNote", "amt", int64(4)},
		{"born in the future: one error, not two", map[string]any{"email": "a@b.de", "birthDate": "2027-01-01"}, "birthDate:geburt-zukunft", "residence sportNote", "amt", int64(-1)},
		{"an impossible date: no rule reads it", map[string]any{"email": "a@b.de", "birthDate": "2020-02-30"}, "birthDate:date", "residence sportNote", "amt", nil},
		{"sport ticked", map[string]any{"email": "a@b.de", "classes": []any{"musik", "sport"}}, "", "residence", "amt", nil},
		{"ticked twice: the list is not answered", map[string]any{"email": "a@b.de", "classes": []any{"sport", "sport"}}, "classes:uniqueItems", "residence sportNote", "amt", nil},
		{"a check blames one entry", map[string]any{"email": "a@b.de", "country": "AT", "classes": []any{"sport", "musik", "kunst"}}, "classes[2]:kein-ballett-mit-kunst", "", "amt", nil},
		{"?? reads an unanswered field", map[string]any{"email": "a@b.de", "classes": []any{"kunst"}}, "", "residence sportNote", "amt", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.Evaluate(tt.doc, Options{Today: time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)})
			var errs []string
			for _, e := range r.Errors {
				errs = append(errs, e.Path+":"+e.Code)
			}
			if got := strings.Join(errs, " "); got != tt.errors {
				t.Errorf("errors %q, want %q", got, tt.errors)
			}
			var hidden []string
			for _, h := range r.Hidden {
				if h == "residence" || h == "sportNote" {
					hidden = append(hidden, h)
				}
			}
			if got := strings.Join(hidden, " "); got != tt.hidden {
				t.Errorf("hidden %q, want %q", got, tt.hidden)
			}
			if r.Office != tt.office {
				t.Errorf("office %q, want %q", r.Office, tt.office)
			}
			if got := r.Computed["age"]; got != tt.age {
				t.Errorf("age %v, want %v", got, tt.age)
			}
		})
	}
}
