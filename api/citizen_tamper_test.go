package api

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/record"
)

// TestCitizenTampering posts what no rendered page would send. Each post
// gets a clear 4xx and leaves the stored draft exactly as it was.
func TestCitizenTampering(t *testing.T) {
	ts := newTestServer(t, withServices(uploadService(t)), withConfig(func(c *Config) { c.BodyLimit = 256 << 10 }))
	base := ts.URL(t)
	ctx := context.Background()

	// A browser with a Kita draft whose first two pages are done: the
	// income page is next, and the IBAN is hidden (income unknown).
	b := newBrowser(t, base)
	p := b.startDraft("kita-gebuehren")
	csrf := p.csrf(t)
	token := strings.Split(p.url.Path, "/")[4]
	kita := "/" + testTenant + "/kita-gebuehren/d/" + token + "/"
	b.post(kita+"person", with(personPage, "_csrf", csrf)).must(t, 200, "/kinder")
	children := vals("_csrf", csrf, "_n:children", "1", "children[0].name", "Lena", "children[0].birthDate", "2021-05-01",
		"children[0].careType", "krippe", "children[0].monthlyFee", "250")
	b.post(kita+"kinder", children).must(t, 200, "/einkommen")

	// A fresh draft, for the page-order cases.
	fresh := b.startDraft("kita-gebuehren")
	freshToken := strings.Split(fresh.url.Path, "/")[4]
	// A draft of another service.
	other, _, err := ts.intake.NewDraft(ctx, testTenant, "hundesteuer")
	if err != nil {
		t.Fatal(err)
	}
	// A draft of the upload service.
	up := b.startDraft("nachweis")
	upToken := strings.Split(up.url.Path, "/")[4]

	// Another browser: its own cookie, so its own CSRF token.
	b2 := newBrowser(t, base)
	p2 := b2.get("/" + testTenant + "/kita-gebuehren/")
	otherCSRF := p2.csrf(t)

	big := strings.Repeat("x", 300<<10)
	// Beyond engine.DefaultLimits (as the JSON API reads documents) but
	// within the body limit.
	long := strings.Repeat("x", engine.DefaultLimits.MaxString+1)
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	_ = mw.WriteField("_csrf", csrf)
	_ = mw.WriteField("name", long)
	_ = mw.Close()
	cases := []struct {
		name   string
		client *browser
		token  string // draft whose stored state must not change
		path   string
		ctype  string
		body   string
		header []string
		want   int
		says   string
	}{
		{name: "hidden field", token: token, path: kita + "einkommen", want: 400, says: "iban",
			ctype: "application/x-www-form-urlencoded", body: vals("_csrf", csrf, "income", "", "consent", "true", "iban", "DE89370400440532013000").Encode()},
		{name: "computed field", token: token, path: kita + "einkommen", want: 400, says: "coveredFee",
			ctype: "application/x-www-form-urlencoded", body: vals("_csrf", csrf, "income", "1000", "coveredFee", "99999").Encode()},
		{name: "unknown field", token: token, path: kita + "person", want: 400, says: "isAdmin",
			ctype: "application/x-www-form-urlencoded", body: with(personPage, "_csrf", csrf, "isAdmin", "true").Encode()},
		{name: "unknown member of a group", token: token, path: kita + "person", want: 400, says: "applicant.role",
			ctype: "application/x-www-form-urlencoded", body: with(personPage, "_csrf", csrf, "applicant.role", "x").Encode()},
		{name: "field of another page", token: token, path: kita + "person", want: 400, says: "income",
			ctype: "application/x-www-form-urlencoded", body: with(personPage, "_csrf", csrf, "income", "1").Encode()},
		{name: "entry beyond the rendered ones with a forged count", token: token, path: kita + "kinder", want: 400,
			ctype: "application/x-www-form-urlencoded", body: with(children, "_n:children", "100000").Encode()},
		{name: "unknown action", token: token, path: kita + "kinder", want: 400,
			ctype: "application/x-www-form-urlencoded", body: with(children, "action", "drop:all").Encode()},
		{name: "remove an entry that does not exist", token: token, path: kita + "kinder", want: 400,
			ctype: "application/x-www-form-urlencoded", body: with(children, "action", "remove:children:7").Encode()},
		{name: "attachment id posted as text", token: upToken, path: "/" + testTenant + "/nachweis/d/" + upToken + "/angaben", want: 400, says: "proof",
			ctype: "application/x-www-form-urlencoded", body: vals("_csrf", csrf, "name", "X", "proof", "AAAAAAAAAAAAAAAA").Encode()},
		{name: "draft of another service", token: other.ID, path: "/" + testTenant + "/kita-gebuehren/d/" + other.ID + "/person", want: 404,
			ctype: "application/x-www-form-urlencoded", body: with(personPage, "_csrf", csrf).Encode()},
		{name: "unknown draft token", token: token, path: "/" + testTenant + "/kita-gebuehren/d/" + record.NewToken() + "/person", want: 404,
			ctype: "application/x-www-form-urlencoded", body: with(personPage, "_csrf", csrf).Encode()},
		{name: "draft under another tenant", token: token, path: "/nirgendwo/kita-gebuehren/d/" + token + "/person", want: 404,
			ctype: "application/x-www-form-urlencoded", body: with(personPage, "_csrf", csrf).Encode()},
		{name: "page out of order", token: freshToken, path: "/" + testTenant + "/kita-gebuehren/d/" + freshToken + "/einkommen", want: 409,
			ctype: "application/x-www-form-urlencoded", body: vals("_csrf", csrf, "income", "5000000", "consent", "true").Encode()},
		{name: "unknown page", token: token, path: kita + "nirgends", want: 404,
			ctype: "application/x-www-form-urlencoded", body: vals("_csrf", csrf).Encode()},
		{name: "missing CSRF token", token: token, path: kita + "person", want: 403,
			ctype: "application/x-www-form-urlencoded", body: with(personPage, "applicant.givenName", "Mallory").Encode()},
		{name: "wrong CSRF token", token: token, path: kita + "person", want: 403,
			ctype: "application/x-www-form-urlencoded", body: with(personPage, "_csrf", tampered(csrf), "applicant.givenName", "Mallory").Encode()},
		{name: "another browser's CSRF token", token: token, path: kita + "person", want: 403,
			ctype: "application/x-www-form-urlencoded", body: with(personPage, "_csrf", otherCSRF, "applicant.givenName", "Mallory").Encode()},
		{name: "cross-origin post", token: token, path: kita + "person", want: 403, header: []string{"Origin", "https://evil.example"},
			ctype: "application/x-www-form-urlencoded", body: with(personPage, "_csrf", csrf, "applicant.givenName", "Mallory").Encode()},
		{name: "submit without CSRF token", token: token, path: kita + "review", want: 403,
			ctype: "application/x-www-form-urlencoded", body: ""},
		{name: "JSON body", token: token, path: kita + "person", want: 415,
			ctype: "application/json", body: `{"applicant.givenName":"Mallory"}`},
		{name: "text body", token: token, path: kita + "person", want: 415,
			ctype: "text/plain", body: "_csrf=" + csrf + "&applicant.givenName=Mallory"},
		{name: "text beyond the document limits", token: token, path: kita + "person", want: 413, says: "Vorname",
			ctype: "application/x-www-form-urlencoded", body: with(personPage, "_csrf", csrf, "applicant.givenName", long).Encode()},
		{name: "text beyond the document limits in a multipart post", token: upToken, path: "/" + testTenant + "/nachweis/d/" + upToken + "/angaben", want: 413, says: "Name",
			ctype: mw.FormDataContentType(), body: mp.String()},
		{name: "unknown field beyond the document limits", token: token, path: kita + "person", want: 413,
			ctype: "application/x-www-form-urlencoded", body: with(personPage, "_csrf", csrf, "x", long).Encode()},
		{name: "oversized body", token: token, path: kita + "person", want: 413,
			ctype: "application/x-www-form-urlencoded", body: with(personPage, "_csrf", csrf, "applicant.givenName", big).Encode()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before, _ := ts.store.GetDraft(ctx, testTenant, c.token)
			client := c.client
			if client == nil {
				client = b
			}
			req, _ := http.NewRequest("POST", base+c.path, strings.NewReader(c.body))
			req.Header.Set("Content-Type", c.ctype)
			for i := 0; i+1 < len(c.header); i += 2 {
				req.Header.Set(c.header[i], c.header[i+1])
			}
			resp := client.do(req)
			if resp.status != c.want {
				t.Fatalf("status %d, want %d\n%s", resp.status, c.want, resp.body)
			}
			if c.says != "" && !strings.Contains(resp.body, c.says) {
				t.Errorf("response does not name %q:\n%s", c.says, resp.body)
			}
			if !strings.Contains(resp.body, "<html") {
				t.Errorf("no page:\n%s", resp.body)
			}
			after, _ := ts.store.GetDraft(ctx, testTenant, c.token)
			if before == nil || after == nil {
				t.Fatalf("draft lost: %v %v", before, after)
			}
			if after.Version != before.Version || !reflect.DeepEqual(after.Data, before.Data) || after.Page != before.Page {
				t.Fatalf("draft changed:\nbefore v%d %s %v\nafter  v%d %s %v", before.Version, before.Page, before.Data, after.Version, after.Page, after.Data)
			}
		})
	}

	// GET of a page whose predecessors are not done leads to the first
	// open page; the review of an incomplete draft too.
	b.get("/"+testTenant+"/kita-gebuehren/d/"+freshToken+"/einkommen").must(t, 200, "/person")
	b.get("/"+testTenant+"/kita-gebuehren/d/"+freshToken+"/review").must(t, 200, "/person")
	// Submitting an incomplete draft stores nothing and leads to the page.
	b.post("/"+testTenant+"/kita-gebuehren/d/"+freshToken+"/review", vals("_csrf", csrf)).must(t, 200, "/person")
	if _, err := ts.store.GetDraft(ctx, testTenant, freshToken); err != nil {
		t.Fatal(err)
	}
}

// TestCitizenSubmitRateLimit: more submits per minute than allowed get 429.
func TestCitizenSubmitRateLimit(t *testing.T) {
	ts := newTestServer(t, withConfig(func(c *Config) { c.SubmitRate = 2 }))
	b := newBrowser(t, ts.URL(t))
	p := b.startDraft("kita-gebuehren")
	csrf := p.csrf(t)
	review := strings.TrimSuffix(p.url.Path, "person") + "review"
	for i := 0; i < 2; i++ {
		b.post(review, vals("_csrf", csrf)).must(t, 200, "/person")
	}
	b.post(review, vals("_csrf", csrf)).must(t, 429, "", "Zu viele Anfragen")
}

// TestCitizenPages checks the pages every service has, in both languages,
// and the expired and unknown draft pages.
func TestCitizenPages(t *testing.T) {
	ts := newTestServer(t)
	b := newBrowser(t, ts.URL(t))
	for _, svc := range ts.intake.Catalog.List(testTenant) {
		p := b.get("/" + testTenant + "/" + svc.ID + "/")
		p.must(t, 200, "", svc.Form.Title.De, `<a class="skip-link" href="#main">`, `name="_csrf"`)
		for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options"} {
			if p.header.Get(h) == "" {
				t.Errorf("%s: no %s", svc.ID, h)
			}
		}
		if strings.Contains(p.body, "style=") || strings.Contains(p.body, "<script>") || strings.Contains(p.body, "<style") {
			t.Errorf("%s: inline script or style", svc.ID)
		}
		first := b.post(p.action(t), vals("_csrf", p.csrf(t)))
		first.must(t, 200, "/"+svc.Form.Pages[0].ID, "Schritt 1 von")
		// Every field of the first page has a label or legend.
		if n, m := strings.Count(first.body, "<input class="), strings.Count(first.body, "<label")+strings.Count(first.body, "<legend"); m < n/2 {
			t.Errorf("%s: %d inputs, %d labels", svc.ID, n, m)
		}
		// Empty post: the error page.
		e := b.post(first.url.Path, vals("_csrf", first.csrf(t)))
		e.must(t, 422, "", `class="error-summary"`, "Fehler:")
		en := b.get(first.url.Path + "?lang=en")
		en.must(t, 200, "", `<html lang="en">`, svc.Form.Title.En)
		b.get(first.url.Path+"?lang=de").must(t, 200, "", `<html lang="de">`)
	}
	b.get("/"+testTenant+"/kita-gebuehren/d/"+record.NewToken()+"/person").must(t, 404, "", "Seite nicht gefunden")
	b.get("/"+testTenant+"/gibt-es-nicht/").must(t, 404, "")
	b.get("/nirgendwo/").must(t, 404, "")

	// Static files are cached and carry a content type.
	s := b.get("/static/site.css")
	s.must(t, 200, "")
	if cc := s.header.Get("Cache-Control"); !strings.Contains(cc, "max-age=") {
		t.Errorf("static Cache-Control %q", cc)
	}
}

// TestCitizenExpiredDraft: an expired draft gets the friendly 410 page.
func TestCitizenExpiredDraft(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	d, _, err := ts.intake.NewDraft(ctx, testTenant, "kita-gebuehren")
	if err != nil {
		t.Fatal(err)
	}
	d.Expires = d.Created.Add(-1)
	if err := ts.store.UpdateDraft(ctx, d); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, ts.URL(t))
	b.get("/"+testTenant+"/kita-gebuehren/d/"+d.ID+"/person").must(t, 410, "", "abgelaufen")
	b.get("/"+testTenant+"/kita-gebuehren/d/"+d.ID).must(t, 410, "", "abgelaufen")
}

// TestCitizenOtherService: a draft or a submission looked up under
// another service's URL is not found, with the same problem type
// (not-found) whichever it is.
func TestCitizenOtherService(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	var sub submissionJSON
	readJSON(t, ts.do(t, "POST", "/api/v1/"+testTenant+"/services/kita-gebuehren/submissions", kitaDoc()), &sub)
	if sub.Reference == "" {
		t.Fatalf("setup: %+v", sub)
	}
	d, _, err := ts.intake.NewDraft(ctx, testTenant, "kita-gebuehren")
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, ts.URL(t))
	for _, u := range []string{
		"/" + testTenant + "/hundesteuer/d/" + d.ID + "/person",
		"/" + testTenant + "/hundesteuer/r/" + sub.Reference + "?s=" + url.QueryEscape(sub.StatusSecret),
		"/" + testTenant + "/hundesteuer/r/" + sub.Reference + "/receipt.pdf?s=" + url.QueryEscape(sub.StatusSecret),
	} {
		b.get(u).must(t, 404, "", `data-problem="not-found"`)
	}
	// The right service still finds it.
	b.get("/"+testTenant+"/kita-gebuehren/r/"+sub.Reference+"?s="+url.QueryEscape(sub.StatusSecret)).must(t, 200, "", sub.Reference)
}

// TestDraftAndSaveRateLimit: starting drafts and saving pages are
// limited per client and minute, one count for the citizen pages and the
// JSON API together; a refused save stores nothing.
func TestDraftAndSaveRateLimit(t *testing.T) {
	ts := newTestServer(t, withConfig(func(c *Config) { c.DraftRate, c.SaveRate = 3, 3 }))
	b := newBrowser(t, ts.URL(t))
	ctx := context.Background()
	p := b.startDraft("kita-gebuehren") // 1
	csrf := p.csrf(t)
	token := strings.Split(p.url.Path, "/")[4]
	apiDrafts := ts.URL(t) + "/api/v1/" + testTenant + "/services/kita-gebuehren/drafts"
	resp, err := http.Post(apiDrafts, "application/json", nil) // 2
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("API draft: %v %v", resp, err)
	}
	resp.Body.Close()
	b.post("/"+testTenant+"/kita-gebuehren/", vals("_csrf", csrf)).must(t, 200, "/person") // 3
	b.post("/"+testTenant+"/kita-gebuehren/", vals("_csrf", csrf)).must(t, 429, "", "Zu viele Anfragen")
	resp, _ = http.Post(apiDrafts, "application/json", nil)
	if resp.StatusCode != 429 {
		t.Fatalf("API draft beyond the limit: %d", resp.StatusCode)
	}
	resp.Body.Close()

	b.post(p.url.Path, with(personPage, "_csrf", csrf)).must(t, 200, "/kinder") // 1
	req, _ := http.NewRequest("PUT", ts.URL(t)+"/api/v1/"+testTenant+"/drafts/"+token+"/pages/person",
		strings.NewReader(`{"applicant":{"givenName":"Anna","familyName":"B","birthDate":"1990-01-01"}}`))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i < 2; i++ { // 2, 3
		resp, err = http.DefaultClient.Do(req.Clone(ctx))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("API save: %v %v", resp, err)
		}
		resp.Body.Close()
		req.Body = io.NopCloser(strings.NewReader(`{"applicant":{"givenName":"Anna","familyName":"B","birthDate":"1990-01-01"}}`))
	}
	before, _ := ts.store.GetDraft(ctx, testTenant, token)
	b.post(p.url.Path, with(personPage, "_csrf", csrf, "applicant.givenName", "Mallory")).must(t, 429, "", "Zu viele Anfragen")
	after, _ := ts.store.GetDraft(ctx, testTenant, token)
	if after.Version != before.Version {
		t.Fatalf("a refused save changed the draft: v%d → v%d", before.Version, after.Version)
	}
}
