package api

import (
	"bytes"
	"context"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/amtsform/amtsform/api/apitest"
	"github.com/amtsform/amtsform/engine"
)

// browser is an HTTP client with a cookie jar that follows redirects, as
// a browser without JavaScript does.
type browser struct {
	t    *testing.T
	c    *http.Client
	base string
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar, Timeout: 30 * time.Second}, base: base}
}

// page is a response: status, final URL (after redirects) and body.
type page struct {
	status int
	url    *url.URL
	body   string
	header http.Header
}

func (b *browser) abs(u string) string {
	if strings.HasPrefix(u, "http") {
		return u
	}
	return b.base + u
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, url: resp.Request.URL, body: string(data), header: resp.Header}
}

func (b *browser) get(u string) page {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.abs(u), nil)
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) page {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.abs(u), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// postMultipart posts fields and one file as a browser does for a form
// with enctype multipart/form-data.
func (b *browser) postMultipart(u string, form url.Values, fileField, fileName string, content []byte) page {
	b.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, vs := range form {
		for _, v := range vs {
			_ = w.WriteField(k, v)
		}
	}
	fw, _ := w.CreateFormFile(fileField, fileName)
	_, _ = fw.Write(content)
	_ = w.Close()
	req, _ := http.NewRequest("POST", b.abs(u), &buf)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return b.do(req)
}

var (
	csrfRE   = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)
	actionRE = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
)

func (p page) csrf(t *testing.T) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no CSRF token on %s:\n%s", p.url, p.body)
	}
	return m[1]
}

func (p page) action(t *testing.T) string {
	t.Helper()
	m := actionRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no form on %s", p.url)
	}
	return html.UnescapeString(m[1])
}

func (p page) must(t *testing.T, status int, pathSuffix string, contains ...string) {
	t.Helper()
	if p.status != status {
		t.Fatalf("%s: status %d, want %d\n%s", p.url, p.status, status, p.body)
	}
	if pathSuffix != "" && !strings.HasSuffix(p.url.Path, pathSuffix) {
		t.Fatalf("landed on %s, want …%s", p.url.Path, pathSuffix)
	}
	for _, c := range contains {
		if !strings.Contains(p.body, c) {
			t.Fatalf("%s lacks %q:\n%s", p.url, c, p.body)
		}
	}
}

func vals(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

func with(v url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, x := range v {
		out[k] = append([]string(nil), x...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Set(kv[i], kv[i+1])
	}
	return out
}

// startDraft opens a service's start page and starts an application; it
// returns the first page.
func (b *browser) startDraft(service string) page {
	b.t.Helper()
	start := b.get("/" + testTenant + "/" + service + "/")
	start.must(b.t, 200, "", "<html lang=\"de\">")
	return b.post(start.action(b.t), vals("_csrf", start.csrf(b.t)))
}

var personPage = vals(
	"applicant.givenName", "Jürgen",
	"applicant.familyName", "Müßig",
	"applicant.birthDate", "02.04.1985",
	"address.street", "Hauptstraße",
	"address.houseNumber", "5a",
	"address.postalCode", "60311",
	"address.city", "Frankfurt am Main",
	"email", "",
)

// TestCitizenKitaEndToEnd walks the Kita form over real HTTP as a browser
// without JavaScript: errors and their correction, a second child added
// without script, review with a change link, submit, receipt PDF, and the
// stored submission checked field by field.
func TestCitizenKitaEndToEnd(t *testing.T) {
	ts := newTestServer(t)
	b := newBrowser(t, ts.URL(t))

	home := b.get("/")
	home.must(t, 200, "/"+testTenant+"/", "Übernahme von Kita-Gebühren", "Hundesteuer", "Geburtsurkunde")

	p := b.startDraft("kita-gebuehren")
	p.must(t, 200, "/person", "Schritt 1 von 3", `autocomplete="given-name"`, `for="f-applicant-givenName"`)
	if p.header.Get("Cache-Control") != "no-store" {
		t.Errorf("draft page Cache-Control = %q", p.header.Get("Cache-Control"))
	}
	token := strings.Split(p.url.Path, "/")[4]
	csrf := p.csrf(t)
	pageURL := p.url.Path

	// Errors: a missing family name and a wrong postal code. What was
	// typed stays; the summary links to the fields.
	p = b.post(pageURL, with(personPage, "_csrf", csrf, "applicant.familyName", "", "address.postalCode", "6031"))
	p.must(t, 422, "/person",
		`role="alert"`, `href="#f-applicant-familyName"`, `href="#f-address-postalCode"`,
		`<span class="visually-hidden">Fehler:</span>`, `value="Jürgen"`, `value="6031"`,
		`aria-describedby="f-applicant-familyName-error"`, `aria-invalid="true"`, "<title>Fehler: ")
	if strings.Index(p.body, `href="#f-applicant-familyName"`) > strings.Index(p.body, `href="#f-address-postalCode"`) {
		t.Error("error summary not in page order")
	}
	// A name with a right-to-left override (pasted, or to mislead the
	// office) is refused like a control character.
	p = b.post(pageURL, with(personPage, "_csrf", csrf, "applicant.familyName", "M\u202erelü"))
	p.must(t, 422, "/person", `href="#f-applicant-familyName"`, "unsichtbare Steuerzeichen")
	p = b.post(pageURL, with(personPage, "_csrf", csrf))
	p.must(t, 200, "/kinder", "Schritt 2 von 3", `name="children[0].name"`, `value="add:children"`)

	// Children: add a second child without JavaScript.
	kinder := p.url.Path
	child0 := vals("_n:children", "1", "children[0].name", "Lena", "children[0].birthDate", "2021-05-01",
		"children[0].careType", "krippe", "children[0].monthlyFee", "250,50")
	p = b.post(kinder, with(child0, "_csrf", csrf, "action", "add:children"))
	p.must(t, 200, "/kinder", `name="children[1].name"`, `value="Lena"`, `value="250,50"`, "Kind 2", `value="remove:children:1"`)
	both := with(child0, "_n:children", "2", "children[1].name", "Önder", "children[1].birthDate", "09.01.2012",
		"children[1].careType", "hort", "children[1].monthlyFee", "12,5x")
	// A fee that is not an amount is kept as typed and reported.
	p = b.post(kinder, with(both, "_csrf", csrf))
	p.must(t, 422, "/kinder", `value="12,5x"`, `href="#f-children-1-monthlyFee"`, "Betrag in Euro")
	// Remove and re-add works too: remove child 2, then add it back.
	p = b.post(kinder, with(both, "_csrf", csrf, "action", "remove:children:1"))
	p.must(t, 200, "/kinder")
	if strings.Contains(p.body, `name="children[1].name"`) {
		t.Fatal("child 2 not removed")
	}
	p = b.post(kinder, with(both, "_csrf", csrf, "children[1].monthlyFee", "12,50"))
	p.must(t, 200, "/einkommen", "Schritt 3 von 3", "Voraussichtlich übernommener Beitrag")
	// The IBAN is on the page for the page script, hidden and disabled
	// (so that nothing of it is posted) until its show rule holds.
	if !strings.Contains(p.body, `data-path="iban" hidden disabled>`) {
		t.Fatal("iban shown before the income is known")
	}

	// Income under the limit: the computed fee makes the IBAN visible and
	// required — the server evaluates the show rule on the post.
	einkommen := p.url.Path
	p = b.post(einkommen, vals("_csrf", csrf, "income", "24.000", "consent", "true"))
	p.must(t, 422, "/einkommen", `data-path="iban">`, `href="#f-iban"`, "263,00 €")
	// With the IBAN and a proof of income (a PDF upload).
	p = b.postMultipart(einkommen, vals("_csrf", csrf, "income", "24.000", "consent", "true", "iban", "DE89 3704 0044 0532 0130 00"),
		"incomeProof", "Steuerbescheid Müßig.pdf", tinyPDF())
	p.must(t, 200, "/review", "Steuerbescheid Müßig.pdf", "Angaben prüfen", "Jürgen", "Müßig", "Önder", "250,50 €", "12,50 €", "24.000,00 €", "263,00 €", "DE89370400440532013000")

	// Change an answer through its change link and come back to review.
	change := regexp.MustCompile(`href="([^"]*/person\?return=review#f-applicant-givenName)"`).FindStringSubmatch(p.body)
	if change == nil {
		t.Fatalf("no change link for the given name:\n%s", p.body)
	}
	p = b.get(html.UnescapeString(change[1]))
	p.must(t, 200, "/person", `name="_return" value="review"`, `value="Jürgen"`)
	p = b.post(p.action(t), with(personPage, "_csrf", csrf, "_return", "review", "applicant.givenName", "Jörg"))
	p.must(t, 200, "/review", "Jörg")
	if strings.Contains(p.body, "Jürgen") {
		t.Fatal("old answer still shown after the change")
	}

	// The resume link leads back to the draft.
	saved := b.get("/" + testTenant + "/kita-gebuehren/d/" + token + "/saved")
	saved.must(t, 200, "/saved", "/"+testTenant+"/kita-gebuehren/d/"+token)
	b.get("/"+testTenant+"/kita-gebuehren/d/"+token).must(t, 200, "/review")

	// Submit.
	p = b.post(p.action(t), vals("_csrf", p.csrf(t)))
	p.must(t, 200, "", "Antrag eingegangen", "KITA-", "Jugendamt Frankfurt", "receipt.pdf")
	ref := strings.Split(p.url.Path, "/")[4]
	if !strings.HasPrefix(ref, "KITA-") || p.url.Query().Get("s") == "" {
		t.Fatalf("confirmation URL %s", p.url)
	}
	receiptURL := html.UnescapeString(regexp.MustCompile(`href="([^"]*receipt\.pdf[^"]*)"`).FindStringSubmatch(p.body)[1])

	// The draft is gone after submitting (removed in the background).
	ts.bg.Wait()
	b.get("/"+testTenant+"/kita-gebuehren/d/"+token+"/person").must(t, 404, "")

	// The receipt.
	r := b.get(receiptURL)
	r.must(t, 200, "")
	if ct := r.header.Get("Content-Type"); ct != "application/pdf" {
		t.Fatalf("receipt Content-Type %q", ct)
	}
	text := apitest.PDFText(t, []byte(r.body))
	for _, w := range []string{ref, "Jörg", "Müßig", "Önder", "Übernahme von Kita-Gebühren", "250,50 €", "263,00 €"} {
		if !strings.Contains(text, w) {
			t.Errorf("receipt lacks %q:\n%s", w, text)
		}
	}
	// A wrong secret shows nothing.
	b.get("/"+testTenant+"/kita-gebuehren/r/"+ref+"?s=wrong").must(t, 404, "")
	b.get("/"+testTenant+"/kita-gebuehren/r/"+ref+"/receipt.pdf?s=wrong").must(t, 404, "")

	// The stored submission, field by field.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sub, err := ts.store.GetSubmission(ctx, testTenant, ref)
	if err != nil {
		t.Fatal(err)
	}
	want := apitest.KitaData()
	want["applicant"].(map[string]any)["givenName"] = "Jörg" // changed on the review page
	if len(sub.Attachments) != 1 || sub.Attachments[0].Name != "Steuerbescheid Müßig.pdf" || sub.Attachments[0].ContentType != "application/pdf" ||
		sub.Attachments[0].Size != int64(len(tinyPDF())) {
		t.Fatalf("attachments %+v", sub.Attachments)
	}
	want["incomeProof"] = sub.Attachments[0].ID
	for k, w := range want {
		if got := sub.Data[k]; !reflect.DeepEqual(got, w) {
			t.Errorf("data.%s = %#v, want %#v", k, got, w)
		}
	}
	for k := range sub.Data {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected data.%s = %#v", k, sub.Data[k])
		}
	}
	if sub.Office != "jugendamt-frankfurt" || sub.Computed["coveredFee"] != int64(26300) {
		t.Errorf("office %q, computed %v", sub.Office, sub.Computed)
	}

	// English: the language switch sets a cookie and <html lang>.
	en := b.get("/" + testTenant + "/kita-gebuehren/?lang=en")
	en.must(t, 200, "", `<html lang="en">`, "Coverage of daycare fees", `hreflang="de"`)
	b.get("/"+testTenant+"/").must(t, 200, "", `<html lang="en">`)
}

// uploadSpec is a small service with a required attachment.
const uploadSpec = `package nachweis

import "amtsform.dev/spec"

service: spec.#Service & {
	id:            "nachweis"
	version:       "1.0.0"
	reference:     "NW"
	title:         {de: "Nachweis einreichen", en: "Submit a proof"}
	authority:     "buergeramt"
	retentionDays: 30
	data: {
		name:  spec.#Name
		proof: spec.#Attachment
	}
	ui: {
		name: label: {de: "Name", en: "Name"}
		proof: {label: {de: "Nachweis", en: "Proof"}, widget: "file"}
	}
	pages: [{id: "angaben", title: {de: "Angaben", en: "Details"}, fields: ["name", "proof"]}]
	routing: [{to: "buergeramt-mitte"}]
	workflow: spec.#StandardWorkflow
}
`

func uploadService(t testing.TB) *engine.Service {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "service.cue"), []byte(uploadSpec), 0o600); err != nil {
		t.Fatal(err)
	}
	svc, err := engine.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// TestCitizenUpload uploads a PDF on a spec with an attachment field (the
// Kita example has none): wrong type and too large files get clear
// messages, a PDF is kept and handed in with the submission.
func TestCitizenUpload(t *testing.T) {
	ts := newTestServer(t, withServices(uploadService(t)))
	b := newBrowser(t, ts.URL(t))
	p := b.startDraft("nachweis")
	p.must(t, 200, "/angaben", `enctype="multipart/form-data"`, `type="file"`, `name="proof"`)
	csrf, action := p.csrf(t), p.action(t)

	p = b.postMultipart(action, vals("_csrf", csrf, "name", "Jürgen"), "proof", "bild.txt", []byte("just text, no PDF"))
	p.must(t, 422, "/angaben", "Dateityp ist nicht erlaubt", `href="#f-proof"`, `value="Jürgen"`)

	p = b.postMultipart(action, vals("_csrf", csrf, "name", "Jürgen"), "proof", "Nachweis-Müller.pdf", tinyPDF())
	p.must(t, 200, "/review", "Nachweis-Müller.pdf")

	// Going back keeps the file without uploading again.
	p = b.get(action)
	p.must(t, 200, "/angaben", "Hochgeladen:", "Nachweis-Müller.pdf")
	p = b.post(action, vals("_csrf", csrf, "name", "Jürgen Ä."))
	p.must(t, 200, "/review", "Jürgen Ä.", "Nachweis-Müller.pdf")

	p = b.post(p.action(t), vals("_csrf", csrf))
	p.must(t, 200, "", "NW-")
	ref := strings.Split(p.url.Path, "/")[4]
	sub, err := ts.store.GetSubmission(context.Background(), testTenant, ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(sub.Attachments) != 1 || sub.Attachments[0].Name != "Nachweis-Müller.pdf" || sub.Attachments[0].ContentType != "application/pdf" {
		t.Fatalf("attachments %+v", sub.Attachments)
	}
	if sub.Data["proof"] != sub.Attachments[0].ID || sub.Data["name"] != "Jürgen Ä." {
		t.Fatalf("data %v", sub.Data)
	}
}
