package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/record"
)

// storedState is what a tampering attempt must leave unchanged.
type storedState struct {
	draftVersion int64
	draftData    map[string]any
	draftPage    string
	submissions  []string
}

func snapshot(t *testing.T, ts *testServer, token string) storedState {
	t.Helper()
	ctx := context.Background()
	d, err := ts.store.GetDraft(ctx, testTenant, token)
	if err != nil {
		t.Fatal(err)
	}
	subs, err := ts.store.ListSubmissions(ctx, record.InboxQuery{Tenant: testTenant, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	st := storedState{draftVersion: d.Version, draftData: d.Data, draftPage: d.Page}
	for _, s := range subs {
		st.submissions = append(st.submissions, s.Ref)
	}
	return st
}

// TestAPITampering sends what a manipulated client might and checks
// each gets a clear 4xx problem and changes nothing stored; values for
// hidden and computed fields are accepted but dropped or recomputed, as
// the engine defines.
func TestAPITampering(t *testing.T) {
	ts := newTestServer(t, withConfig(func(c *Config) { c.Tenants = []string{testTenant, "beispielstadt"} }))
	base := "/api/v1/" + testTenant
	var d draftJSON
	readJSON(t, ts.do(t, "POST", base+"/services/kita-gebuehren/drafts", nil), &d)
	var pr pageResult
	readJSON(t, ts.do(t, "PUT", base+"/drafts/"+d.Token+"/pages/person", map[string]any{"applicant": anna, "address": hofheim}), &pr)
	if !pr.Complete {
		t.Fatalf("setup: %+v", pr)
	}
	page := func(p string) string { return base + "/drafts/" + d.Token + "/pages/" + p }
	submit := base + "/services/kita-gebuehren/submissions"
	withField := func(k string, v any) map[string]any {
		doc := kitaDoc()
		doc[k] = v
		return doc
	}
	huge := `{"applicant":{"givenName":"` + strings.Repeat("x", 2<<20) + `"}}`

	cases := []struct {
		name        string
		method, url string
		body        any
		headers     []string
		status      int
		problem     string // suffix of the problem type
		errPath     string // an error expected in the problem's list
	}{
		{"unknown top-level field on submit", "POST", submit, withField("isAdmin", true), nil, 422, "validation", "isAdmin"},
		{"unknown nested field on submit", "POST", submit, withField("applicant", map[string]any{"givenName": "A", "familyName": "B", "birthDate": "1990-01-01", "title": "Dr."}), nil, 422, "validation", "applicant.title"},
		{"unknown nested field on a page", "PUT", page("person"), map[string]any{"applicant": map[string]any{"givenName": "A", "familyName": "B", "birthDate": "1990-01-01", "role": "admin"}, "address": hofheim}, nil, 422, "validation", "applicant.role"},
		{"unknown field in a list entry on a page", "PUT", page("kinder"), map[string]any{"children": []any{map[string]any{"name": "Mia", "birthDate": "2023-05-02", "careType": "krippe", "monthlyFee": 1, "x": 1}}}, nil, 422, "validation", "children[0].x"},
		{"field of another page", "PUT", page("person"), map[string]any{"applicant": anna, "address": hofheim, "income": 1}, nil, 422, "validation", "income"},
		{"made-up field on a page", "PUT", page("person"), map[string]any{"applicant": anna, "address": hofheim, "status": "approved"}, nil, 422, "validation", "status"},
		{"page out of order", "PUT", page("einkommen"), map[string]any{"income": 1, "consent": true}, nil, 409, "page-not-reached", ""},
		{"unknown page", "PUT", page("admin"), map[string]any{}, nil, 404, "", ""},
		{"another tenant's draft: read", "GET", "/api/v1/beispielstadt/drafts/" + d.Token, nil, nil, 404, "not-found", ""},
		{"another tenant's draft: save", "PUT", "/api/v1/beispielstadt/drafts/" + d.Token + "/pages/person", map[string]any{"applicant": anna, "address": hofheim}, nil, 404, "not-found", ""},
		{"another tenant's draft: submit", "POST", "/api/v1/beispielstadt/drafts/" + d.Token + "/submit", nil, nil, 404, "not-found", ""},
		{"made-up draft token", "PUT", base + "/drafts/" + record.NewToken() + "/pages/person", map[string]any{"applicant": anna, "address": hofheim}, nil, 404, "not-found", ""},
		{"unknown tenant", "GET", "/api/v1/nirgendwo/services", nil, nil, 404, "", ""},
		{"unknown service", "POST", base + "/services/nope/submissions", kitaDoc(), nil, 404, "not-found", ""},
		{"oversized body on submit", "POST", submit, huge, nil, 413, "too-large", ""},
		{"oversized body on a page", "PUT", page("person"), huge, nil, 413, "too-large", ""},
		{"deeply nested body", "POST", submit, strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40), nil, 413, "too-large", ""},
		{"wrong content type on submit", "POST", submit, string(mustJSON(t, kitaDoc())), []string{"Content-Type", "text/plain"}, 415, "", ""},
		{"form-encoded page", "PUT", page("person"), "applicant=x", []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "", ""},
		{"JSON upload instead of multipart", "POST", base + "/drafts/" + d.Token + "/attachments", `{"file":"JVBERi0="}`, nil, 415, "", ""},
		{"malformed JSON on submit", "POST", submit, `{"applicant": {`, nil, 400, "malformed-document", ""},
		{"malformed JSON on a page", "PUT", page("person"), `{"applicant": }`, nil, 400, "malformed-document", ""},
		{"not an object", "POST", submit, `[1,2,3]`, nil, 400, "malformed-document", ""},
		{"member given twice", "POST", submit, `{"income": 1, "income": 2}`, nil, 400, "malformed-document", ""},
		{"trailing data", "POST", submit, `{} {}`, nil, 400, "malformed-document", ""},
		{"empty body", "POST", submit, "", nil, 400, "malformed-document", ""},
		{"stale If-Match", "PUT", page("person"), map[string]any{"applicant": anna, "address": hofheim}, []string{"If-Match", `"1"`}, 409, "", ""},
		{"bad If-Match", "PUT", page("person"), map[string]any{"applicant": anna, "address": hofheim}, []string{"If-Match", `"abc"`}, 400, "", ""},
		{"reserved idempotency key", "POST", submit, kitaDoc(), []string{"Idempotency-Key", "draft:" + d.Token}, 400, "", ""},
		{"wrong status secret", "GET", base + "/submissions/KITA-2026-000001?secret=guess", nil, nil, 404, "", ""},
	}
	before := snapshot(t, ts, d.Token)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := ts.do(t, tc.method, tc.url, tc.body, tc.headers...)
			var p problemJSON
			readJSON(t, resp, &p)
			if resp.StatusCode != tc.status || p.Status != tc.status {
				t.Fatalf("status %d (problem %d), want %d: %+v", resp.StatusCode, p.Status, tc.status, p)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
				t.Errorf("content type %q", ct)
			}
			if tc.problem != "" && !strings.HasSuffix(p.Type, "/"+tc.problem) {
				t.Errorf("problem type %q, want …/%s", p.Type, tc.problem)
			}
			if tc.errPath != "" && !hasError(p.Errors, tc.errPath, engine.CodeUnknownField) {
				t.Errorf("errors %+v lack %s", p.Errors, tc.errPath)
			}
			if after := snapshot(t, ts, d.Token); !reflect.DeepEqual(after, before) {
				t.Fatalf("stored state changed:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}

	// A value for a hidden field is accepted and dropped: with this
	// income no fee is covered, so iban is hidden.
	ctx := context.Background()
	var sub submissionJSON
	resp := ts.do(t, "POST", submit, withField("iban", "DE89370400440532013000"))
	readJSON(t, resp, &sub)
	if resp.StatusCode != 201 {
		t.Fatalf("hidden field: %d %+v", resp.StatusCode, sub)
	}
	stored, err := ts.store.GetSubmission(ctx, testTenant, sub.Reference)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := stored.Data["iban"]; ok {
		t.Errorf("hidden iban stored: %v", stored.Data)
	}
	// A computed value sent by the client is ignored and recomputed.
	resp = ts.do(t, "POST", submit, withField("coveredFee", 999999))
	readJSON(t, resp, &sub)
	if resp.StatusCode != 201 {
		t.Fatalf("computed field: %d", resp.StatusCode)
	}
	stored, err = ts.store.GetSubmission(ctx, testTenant, sub.Reference)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Data["coveredFee"] != int64(0) || stored.Computed["coveredFee"] != int64(0) {
		t.Errorf("client's computed value kept: data %v computed %v", stored.Data["coveredFee"], stored.Computed)
	}
	// On a page too: coveredFee is on the income page.
	readJSON(t, ts.do(t, "PUT", page("kinder"), map[string]any{"children": []any{mia}}), &pr)
	readJSON(t, ts.do(t, "PUT", page("einkommen"), map[string]any{"income": 4500000, "consent": true, "coveredFee": 999999}), &pr)
	if pr.Computed["coveredFee"] != float64(0) || !pr.Complete {
		t.Errorf("page with a computed value: %+v", pr)
	}
	dr, _ := ts.store.GetDraft(ctx, testTenant, d.Token)
	if _, ok := dr.Data["coveredFee"]; ok {
		t.Errorf("computed value kept in the draft: %v", dr.Data)
	}
}

// TestAPIValidate checks the validate endpoint: the whole document or a
// page, messages in the language asked for, nothing stored.
func TestAPIValidate(t *testing.T) {
	ts := newTestServer(t)
	url := "/api/v1/" + testTenant + "/services/kita-gebuehren/validate"
	var res validationResult
	readJSON(t, ts.do(t, "POST", url, kitaDoc()), &res)
	if !res.Valid || len(res.Errors) != 0 || res.Office != "jugendamt-main-taunus" || res.Computed["coveredFee"] != float64(0) ||
		!reflect.DeepEqual(res.Hidden, []string{"iban"}) || len(res.Pages) != 3 {
		t.Fatalf("valid document: %+v", res)
	}
	doc := kitaDoc()
	doc["children"] = []any{map[string]any{"name": "Lena", "birthDate": "2010-01-30", "careType": "krippe", "monthlyFee": 9500}}
	delete(doc, "consent")
	for _, tc := range []struct{ header, want string }{
		{"en-US,en;q=0.9", "Children born before 2014 can only be in after-school care."},
		{"de-DE", "Kinder, die vor 2014 geboren sind, können nur im Hort betreut werden."},
		{"fr, en;q=0.2, de;q=0.8", "Kinder, die vor 2014 geboren sind, können nur im Hort betreut werden."},
		{"", "Kinder, die vor 2014 geboren sind, können nur im Hort betreut werden."},
	} {
		resp := ts.do(t, "POST", url, doc, "Accept-Language", tc.header)
		readJSON(t, resp, &res)
		if res.Valid || !hasError(res.Errors, "children[0].birthDate", "kind-zu-alt") || !hasError(res.Errors, "consent", "required") {
			t.Fatalf("invalid document: %+v", res)
		}
		for _, e := range res.Errors {
			if e.Path == "children[0].birthDate" && e.Message != tc.want {
				t.Errorf("Accept-Language %q: message %q, want %q", tc.header, e.Message, tc.want)
			}
		}
	}
	// Only the page asked for counts.
	readJSON(t, ts.do(t, "POST", url+"?page=person", doc), &res)
	if !res.Valid || len(res.Errors) != 0 {
		t.Fatalf("page person: %+v", res)
	}
	readJSON(t, ts.do(t, "POST", url+"?page=kinder&lang=en", doc), &res)
	if res.Valid || len(res.Errors) != 1 || res.Errors[0].Message != "Children born before 2014 can only be in after-school care." {
		t.Fatalf("page kinder: %+v", res)
	}
	if resp := ts.do(t, "POST", url+"?page=nope", doc); resp.StatusCode != 404 {
		t.Fatalf("unknown page: %d", resp.StatusCode)
	}
	subs, _ := ts.store.ListSubmissions(context.Background(), record.InboxQuery{Tenant: testTenant})
	if len(subs) != 0 {
		t.Fatalf("validate stored %d submissions", len(subs))
	}
}

// TestAPISubmitRateLimit: submits beyond cfg.SubmitRate per client and
// minute get 429 problems.
func TestAPISubmitRateLimit(t *testing.T) {
	ts := newTestServer(t, withConfig(func(c *Config) { c.SubmitRate = 2 }))
	url := "/api/v1/" + testTenant + "/services/kita-gebuehren/submissions"
	var codes []int
	for i := 0; i < 3; i++ {
		resp := ts.do(t, "POST", url, kitaDoc())
		codes = append(codes, resp.StatusCode)
		if i == 2 {
			var p problemJSON
			readJSON(t, resp, &p)
			if p.Status != 429 || resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("429 problem: %+v", p)
			}
		}
	}
	if !reflect.DeepEqual(codes, []int{201, 201, 429}) {
		t.Fatalf("statuses %v", codes)
	}
	// Other API calls are not limited.
	if resp := ts.do(t, "GET", "/api/v1/"+testTenant+"/services", nil); resp.StatusCode != 200 {
		t.Fatalf("services: %d", resp.StatusCode)
	}
}

// TestAPIUploadLimits: a file beyond the store's limit is 413, and
// nothing is kept.
func TestAPIUploadLimits(t *testing.T) {
	ts := newTestServer(t)
	base := "/api/v1/" + testTenant
	var d draftJSON
	readJSON(t, ts.do(t, "POST", base+"/services/kita-gebuehren/drafts", nil), &d)
	// The test store takes files up to 2 MiB (testhelp_test.go).
	big := append(tinyPDF(), bytes.Repeat([]byte("%"), 3<<20)...)
	body, ct := multipartFile(t, "big.pdf", big)
	resp := ts.do(t, "POST", base+"/drafts/"+d.Token+"/attachments", body, "Content-Type", ct)
	var p problemJSON
	readJSON(t, resp, &p)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.HasSuffix(p.Type, "/too-large") {
		t.Fatalf("big upload: %d %+v", resp.StatusCode, p)
	}
	body, ct = multipartFile(t, "x.pdf", nil)
	var b bytes.Buffer
	b.WriteString(strings.Replace(body.String(), `name="file"`, `name="other"`, 1))
	resp = ts.do(t, "POST", base+"/drafts/"+d.Token+"/attachments", &b, "Content-Type", ct)
	if resp.StatusCode != 400 {
		t.Fatalf("no file part: %d", resp.StatusCode)
	}
	var raw json.RawMessage
	readJSON(t, ts.do(t, "GET", base+"/drafts/"+d.Token, nil), &raw)
}

// TestLanguageOrder: the start page stays German unless Accept-Language
// names a supported language; under /api every problem, whichever path
// produced it (the handler's 422, the error handler's 404), is in the
// same language, and the page cookie does not change it.
func TestLanguageOrder(t *testing.T) {
	ts := newTestServer(t)
	start := "/" + testTenant + "/kita-gebuehren/"
	for accept, want := range map[string]string{
		"":                          `<html lang="de">`,
		"fr-CH, fr;q=0.9, it;q=0.8": `<html lang="de">`,
		"en-GB, en;q=0.9":           `<html lang="en">`,
		"fr, en;q=0.3, de;q=0.7":    `<html lang="de">`,
	} {
		body := readBody(t, ts.do(t, "GET", start, nil, "Accept-Language", accept))
		if !strings.Contains(body, want) {
			t.Errorf("start page with Accept-Language %q: no %s", accept, want)
		}
	}
	doc := kitaDoc()
	delete(doc, "consent")
	submit := "/api/v1/" + testTenant + "/services/kita-gebuehren/submissions"
	missing := "/api/v1/" + testTenant + "/drafts/" + record.NewToken()
	for _, tc := range []struct {
		headers          []string
		lang, title422   string
		title404, consen string
	}{
		{[]string{"Cookie", "lang=en"}, "de", "Angaben unvollständig oder fehlerhaft", "Seite nicht gefunden", "Bitte"},
		{[]string{"Cookie", "lang=en", "Accept-Language", "en"}, "en", "Unprocessable content", "Not found", "Please"},
		{[]string{"Accept-Language", "de;q=0.2, en;q=0.8"}, "en", "Unprocessable content", "Not found", "Please"},
	} {
		resp := ts.do(t, "POST", submit, doc, tc.headers...)
		var p problemJSON
		readJSON(t, resp, &p)
		if resp.StatusCode != 422 || p.Title != tc.title422 || resp.Header.Get("Content-Language") != tc.lang {
			t.Errorf("%v: 422 %q %q", tc.headers, p.Title, resp.Header.Get("Content-Language"))
		}
		for _, e := range p.Errors {
			if e.Path == "consent" && !strings.HasPrefix(e.Message, tc.consen) {
				t.Errorf("%v: consent message %q", tc.headers, e.Message)
			}
		}
		resp = ts.do(t, "GET", missing, nil, tc.headers...)
		readJSON(t, resp, &p)
		if resp.StatusCode != 404 || p.Title != tc.title404 || resp.Header.Get("Content-Language") != tc.lang {
			t.Errorf("%v: 404 %q %q", tc.headers, p.Title, resp.Header.Get("Content-Language"))
		}
	}
}
