package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/amtsform/amtsform/engine"
)

// pagesSpec is a small service with what the page tests need: a field
// with two checks, a same-page condition, an optional field whose hint
// says "(freiwillig)", a list with a hint, and a page whose title is the
// label of its first group ("Fahrschule").
const pagesSpec = `package seiten

import "amtsform.dev/spec"

service: spec.#Service & {
	id:            "seiten"
	version:       "1.0.0"
	reference:     "SEI"
	title:         {de: "Seitentest", en: "Page test"}
	authority:     "buergeramt"
	retentionDays: 30
	data: {
		school: {name: string}
		code:   string
		hasPermit: "ja" | "nein"
		permit?: string
		email?:  spec.#Email
		phones?: [...string]
		consent!: true
	}
	ui: {
		school: {label: {de: "Fahrschule", en: "Driving school"}, fields: name: label: {de: "Name der Fahrschule", en: "Name of the school"}}
		code: label: {de: "Kennziffer", en: "Code"}
		hasPermit: {
			label: {de: "Haben Sie eine Erlaubnis?", en: "Do you have a permit?"}
			widget: "radio"
			options: {ja: {de: "Ja", en: "Yes"}, nein: {de: "Nein", en: "No"}}
		}
		permit: label: {de: "Nummer der Erlaubnis", en: "Permit number"}
		email: {label: {de: "E-Mail-Adresse", en: "Email address"}, hint: {de: "Für Rückfragen (freiwillig)", en: "For questions (optional)"}}
		phones: {label: {de: "Telefonnummern", en: "Telephone numbers"}, hint: {de: "Bis zu drei Nummern", en: "Up to three numbers"}, item: {de: "Nummer", en: "Number"}}
		consent: {label: {de: "Ich bestätige.", en: "I confirm."}, widget: "checkbox"}
	}
	pages: [
		{id: "angaben", title: {de: "Fahrschule", en: "Driving school"}, fields: ["school", "code", "hasPermit", "permit", "email", "phones"]},
		{id: "ende", title: {de: "Abschluss", en: "Finish"}, fields: ["consent"]},
	]
	rules: {
		show: permit:    "hasPermit == 'ja'"
		require: permit: "hasPermit == 'ja'"
		check: [
			{id: "code-prefix", path: "code", assert: "code startsWith 'FS'", message: {de: "Die Kennziffer beginnt mit FS.", en: "The code starts with FS."}},
			{id: "code-length", path: "code", assert: "len(code) == 6", message: {de: "Die Kennziffer hat sechs Zeichen.", en: "The code has six characters."}},
		]
	}
	routing: [{to: "buergeramt-mitte"}]
	workflow: spec.#StandardWorkflow
}
`

func pagesService(t testing.TB) *engine.Service {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "service.cue"), []byte(pagesSpec), 0o600); err != nil {
		t.Fatal(err)
	}
	svc, err := engine.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

var shownRE = regexp.MustCompile(`name="_shown" value="([^"]*)"`)

// shown returns the list of shown fields the page form carries.
func (p page) shown(t *testing.T) string {
	t.Helper()
	m := shownRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no _shown on %s", p.url)
	}
	return m[1]
}

// TestCitizenEveryError (issue 9 item 7): a field with two failed checks
// shows both, in the error summary (each linking to the field) and
// inline, both tied to the input by aria-describedby.
func TestCitizenEveryError(t *testing.T) {
	ts := newTestServer(t, withServices(pagesService(t)))
	b := newBrowser(t, ts.URL(t))
	p := b.startDraft("seiten")
	p.must(t, 200, "/angaben")
	p = b.post(p.action(t), vals("_csrf", p.csrf(t), "_shown", p.shown(t), "school.name", "Fahrschule Meier", "code", "AB", "hasPermit", "nein"))
	p.must(t, 422, "/angaben", "Die Kennziffer beginnt mit FS.", "Die Kennziffer hat sechs Zeichen.")
	summary := p.body[strings.Index(p.body, `class="error-summary"`):strings.Index(p.body, "</ul>")]
	for _, want := range []string{
		`<a href="#f-code">Kennziffer: Die Kennziffer beginnt mit FS.</a>`,
		`<a href="#f-code">Kennziffer: Die Kennziffer hat sechs Zeichen.</a>`,
	} {
		if !strings.Contains(summary, want) {
			t.Errorf("error summary lacks %s:\n%s", want, summary)
		}
	}
	for _, want := range []string{
		`<p class="error-message" id="f-code-error"><span class="visually-hidden">Fehler:</span> Die Kennziffer beginnt mit FS.</p>`,
		`<p class="error-message" id="f-code-error-2"><span class="visually-hidden">Fehler:</span> Die Kennziffer hat sechs Zeichen.</p>`,
		`aria-describedby="f-code-error f-code-error-2"`,
	} {
		if !strings.Contains(p.body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
}

// TestCitizenSameNoJS (issue 9 item 8, without JavaScript): choosing "Ja"
// reveals the permit number on the same page; sending the page shows it
// without a "required" error (the citizen never saw the field), with a
// notice; sending it again without the number shows the error; and the
// draft cannot be submitted without it.
func TestCitizenSamePageConditionNoJS(t *testing.T) {
	ts := newTestServer(t, withServices(pagesService(t)))
	b := newBrowser(t, ts.URL(t))
	p := b.startDraft("seiten")
	p.must(t, 200, "/angaben", `data-path="permit" hidden disabled>`, `data-visibility="`)
	csrf, action := p.csrf(t), p.action(t)
	if strings.Contains(p.shown(t), "permit") {
		t.Fatalf("hidden permit listed as shown: %q", p.shown(t))
	}
	answers := vals("_csrf", csrf, "school.name", "Fahrschule Meier", "code", "FS1234", "hasPermit", "ja")

	p = b.post(action, with(answers, "_shown", p.shown(t)))
	p.must(t, 200, "/angaben", `data-path="permit">`, "weitere Fragen hinzugekommen", `value="FS1234"`)
	if strings.Contains(p.body, "error-summary") || strings.Contains(p.body, "error-message") {
		t.Fatalf("errors shown for the revealed field the citizen never saw:\n%s", p.body)
	}
	if !strings.Contains(" "+p.shown(t)+" ", " permit ") {
		t.Fatalf("revealed permit not listed as shown: %q", p.shown(t))
	}
	// The review is not open: the page is incomplete.
	b.get(strings.TrimSuffix(action, "/angaben")+"/review").must(t, 200, "/angaben")

	// Sent again (now it was shown) without the number: the error.
	p = b.post(action, with(answers, "_shown", p.shown(t)))
	p.must(t, 422, "/angaben", `href="#f-permit"`, `id="f-permit-error"`)

	// Submitting the draft as it is goes back to the page.
	b.post(strings.TrimSuffix(action, "/angaben")+"/review", vals("_csrf", csrf)).must(t, 200, "/angaben")

	p = b.post(action, with(answers, "_shown", p.shown(t), "permit", "E-123"))
	p.must(t, 200, "/ende")
}

// TestCitizenVisibilityEndpoint (issue 9 item 8, with JavaScript): the
// page script posts the current answers to …/{page}/visibility and gets
// which conditional fields to show, by the service's rules; a field the
// script revealed is read when the page is sent (not refused as foreign),
// and its errors are shown. The endpoint needs the CSRF token and stores
// nothing.
func TestCitizenVisibilityEndpoint(t *testing.T) {
	ts := newTestServer(t, withServices(pagesService(t)))
	b := newBrowser(t, ts.URL(t))
	p := b.startDraft("seiten")
	csrf, action := p.csrf(t), p.action(t)
	token := strings.Split(p.url.Path, "/")[4]
	before, err := ts.store.GetDraft(context.Background(), testTenant, token)
	if err != nil {
		t.Fatal(err)
	}

	ask := func(form url.Values) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("POST", b.abs(action+"/visibility"), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8")
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	st, v := ask(vals("_csrf", csrf, "_shown", "school.name code hasPermit", "hasPermit", "ja", "code", "x"))
	if st != 200 || !reflectList(v["shown"], "permit") || !reflectList(v["hidden"]) {
		t.Fatalf("visibility for ja: %d %v", st, v)
	}
	if f, _ := v["fields"].(string); !strings.Contains(" "+f+" ", " permit ") {
		t.Fatalf("fields for ja: %q", f)
	}
	st, v = ask(vals("_csrf", csrf, "hasPermit", "nein"))
	if st != 200 || !reflectList(v["hidden"], "permit") || !reflectList(v["shown"]) {
		t.Fatalf("visibility for nein: %d %v", st, v)
	}
	if st, _ := ask(vals("hasPermit", "ja")); st != 403 {
		t.Fatalf("visibility without CSRF token: %d, want 403", st)
	}
	after, _ := ts.store.GetDraft(context.Background(), testTenant, token)
	if after.Version != before.Version || len(after.Data) != 0 {
		t.Fatalf("the visibility endpoint stored something: v%d → v%d, %v", before.Version, after.Version, after.Data)
	}

	// The script revealed the permit field and put it in _shown; the
	// citizen left it empty: its error is shown at once.
	answers := vals("_csrf", csrf, "school.name", "Fahrschule Meier", "code", "FS1234", "hasPermit", "ja")
	p = b.post(action, with(answers, "_shown", "school.name code hasPermit permit email phones", "permit", ""))
	p.must(t, 422, "/angaben", `href="#f-permit"`)
	// Filled in, the page is saved.
	p = b.post(action, with(answers, "_shown", "school.name code hasPermit permit email phones", "permit", "E-1"))
	p.must(t, 200, "/ende")
}

func reflectList(v any, want ...string) bool {
	l, ok := v.([]any)
	if !ok || len(l) != len(want) {
		return false
	}
	for i, x := range l {
		if x != want[i] {
			return false
		}
	}
	return true
}

// TestCitizenPageRoughEdges (issue 9 item 9): the h1 is not repeated by
// the first group's legend (the legend is the heading), "(freiwillig)"
// appears once on an optional field with such a hint, a list's hint is
// not repeated on every entry, and the review does not repeat the page
// title as the first group's heading.
func TestCitizenPageRoughEdges(t *testing.T) {
	ts := newTestServer(t, withServices(pagesService(t)))
	b := newBrowser(t, ts.URL(t))
	p := b.startDraft("seiten")
	p.must(t, 200, "/angaben")
	if n := strings.Count(p.body, ">Fahrschule<"); n != 1 {
		t.Errorf("\"Fahrschule\" as heading or legend %d times, want once", n)
	}
	if !regexp.MustCompile(`<legend class="legend legend-l"><h1 class="heading-l legend-heading">Fahrschule</h1></legend>`).MatchString(p.body) {
		t.Errorf("the first group's legend is not the page heading")
	}
	if n := strings.Count(p.body, "<h1"); n != 1 {
		t.Errorf("%d h1 elements, want 1", n)
	}
	email := p.body[strings.Index(p.body, `for="f-email"`):]
	email = email[:strings.Index(email, `name="email"`)]
	if n := strings.Count(email, "freiwillig"); n != 1 {
		t.Errorf("\"freiwillig\" %d times on the email field, want once:\n%s", n, email)
	}
	if !strings.Contains(email, `<div class="hint" id="f-email-hint">Für Rückfragen</div>`) {
		t.Errorf("email hint not kept without \"(freiwillig)\":\n%s", email)
	}

	csrf, action := p.csrf(t), p.action(t)
	list := vals("_csrf", csrf, "school.name", "Fahrschule Meier", "code", "FS1234", "hasPermit", "nein",
		"_n:phones", "2", "phones[0]", "0611 1", "phones[1]", "0611 2")
	p = b.post(action, with(list, "action", "add:phones"))
	p.must(t, 200, "/angaben", `name="phones[2]"`)
	if n := strings.Count(p.body, "Bis zu drei Nummern"); n != 1 {
		t.Errorf("the list's hint appears %d times, want once", n)
	}

	p = b.post(action, with(list, "_shown", p.shown(t)))
	p.must(t, 200, "/ende")
	p = b.post(p.action(t), vals("_csrf", csrf, "consent", "true"))
	p.must(t, 200, "/review", "Fahrschule Meier")
	if n := strings.Count(p.body, ">Fahrschule<"); n != 1 {
		t.Errorf("review: \"Fahrschule\" as a heading %d times, want once (the section title)", n)
	}
	if !strings.Contains(p.body, `<div class="summary-row depth-0"><dt class="summary-key">Name der Fahrschule</dt>`) {
		t.Errorf("review: the group's rows are not moved up a level")
	}
}
