package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amtsform/amtsform/api/apitest"
	"github.com/amtsform/amtsform/api/httpx"
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/record"
)

// attachmentService compiles a copy of the Kita example under another id
// and reference prefix, so that this test's submissions and reference
// numbers are its own. It is written to a temporary directory.
func attachmentService(t testing.TB) *engine.Service {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "examples", "kita-gebuehren", "service.cue"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	for _, r := range [][2]string{
		{`id:            "kita-gebuehren"`, `id:            "kita-anhang"`},
		{`reference:     "KITA"`, `reference:     "KITAA"`},
	} {
		if !strings.Contains(s, r[0]) {
			t.Fatalf("kita example changed: %q not found", r[0])
		}
		s = strings.Replace(s, r[0], r[1], 1)
	}
	dir := filepath.Join(t.TempDir(), "kita-anhang")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "service.cue"), []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	svc, err := engine.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// client talks to a test server over real HTTP.
type client struct {
	t    *testing.T
	base string
	http *http.Client
}

func (c *client) do(method, path string, body any, headers ...string) *http.Response {
	c.t.Helper()
	req := newRequest(c.t, method, c.base+path, body, headers...)
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

// expect checks the status and decodes the JSON body into v (if not nil).
func (c *client) expect(resp *http.Response, status int, v any) {
	c.t.Helper()
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != status {
		c.t.Fatalf("%s %s: status %d, want %d\n%s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, status, data)
	}
	if v != nil {
		if err := json.Unmarshal(data, v); err != nil {
			c.t.Fatalf("%s: %v\n%s", resp.Request.URL.Path, err, data)
		}
	}
}

// multipartFile builds a multipart/form-data body with a file part,
// after plain fields given as name, value pairs.
func multipartFile(t testing.TB, name string, content []byte, fields ...string) (*bytes.Buffer, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for i := 0; i+1 < len(fields); i += 2 {
		_ = w.WriteField(fields[i], fields[i+1])
	}
	fw, err := w.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(content)
	w.Close()
	return &b, w.FormDataContentType()
}

type problemJSON struct {
	Type   string               `json:"type"`
	Title  string               `json:"title"`
	Status int                  `json:"status"`
	Detail string               `json:"detail"`
	Errors []httpx.ProblemError `json:"errors"`
}

func hasError(errs []httpx.ProblemError, path, code string) bool {
	for _, e := range errs {
		if e.Path == path && e.Code == code && e.Message != "" {
			return true
		}
	}
	return false
}

var (
	anna    = map[string]any{"givenName": "Anna", "familyName": "Schäfer", "birthDate": "1988-04-12"}
	hofheim = map[string]any{"street": "Hauptstraße", "houseNumber": "5", "postalCode": "65719", "city": "Hofheim am Taunus"}
	mia     = map[string]any{"name": "Mia", "birthDate": "2023-05-02", "careType": "krippe", "monthlyFee": 32000}
	paul    = map[string]any{"name": "Paul", "birthDate": "2020-09-17", "careType": "kindergarten", "monthlyFee": 18050}
)

// kitaDoc is a valid Kita document with a high income (no fee covered,
// so iban is hidden).
func kitaDoc() map[string]any {
	return map[string]any{
		"applicant": anna, "address": hofheim,
		"children": []any{paul}, "income": 4500000, "consent": true,
	}
}

// TestAPIEndToEnd walks an application through the JSON API over real
// HTTP: draft, pages with an error and its fix, an upload, submit with an
// Idempotency-Key (replay, mismatch, concurrent use), status, receipt,
// and then checks the stored submission field by field.
func TestAPIEndToEnd(t *testing.T) {
	ts := newTestServer(t, withServices(attachmentService(t)))
	c := &client{t: t, base: ts.URL(t) + "/api/v1/" + testTenant, http: &http.Client{Timeout: 30 * time.Second}}
	en := []string{"Accept-Language", "en-GB,en;q=0.9,de;q=0.5"}

	var list struct{ Services []serviceSummary }
	c.expect(c.do("GET", "/services", nil), 200, &list)
	found := false
	for _, s := range list.Services {
		found = found || s.ID == "kita-anhang"
	}
	if !found || len(list.Services) != len(apitest.Examples(t))+1 {
		t.Fatalf("services: %+v", list.Services)
	}

	// A draft, then the first page with a bad postal code.
	var d draftJSON
	c.expect(c.do("POST", "/services/kita-anhang/drafts", nil), 201, &d)
	if d.Token == "" || d.Page != "person" || d.Version != 1 || d.Service.ID != "kita-anhang" {
		t.Fatalf("draft %+v", d)
	}
	bad := map[string]any{"applicant": anna, "address": map[string]any{"street": "Hauptstraße", "houseNumber": "5", "postalCode": "657", "city": "Hofheim am Taunus"}}
	var pr pageResult
	c.expect(c.do("PUT", "/drafts/"+d.Token+"/pages/person", bad, append(en, "If-Match", `"1"`)...), 200, &pr)
	if pr.Complete || pr.Version != 2 || !hasError(pr.Errors, "address.postalCode", "pattern") {
		t.Fatalf("page with error: %+v", pr)
	}
	if pr.Errors[0].Message != "Please enter a five-digit postal code, for example 65719." { // #PostalCode names itself (issue 8 item 16)
		t.Errorf("message not in English: %q", pr.Errors[0].Message)
	}
	// What was sent is kept, errors and all.
	c.expect(c.do("GET", "/drafts/"+d.Token, nil), 200, &d)
	if got := d.Data["address"].(map[string]any)["postalCode"]; got != "657" || d.Page != "person" {
		t.Fatalf("invalid answer not kept: %v, page %s", got, d.Page)
	}
	// A stale version is a conflict.
	c.expect(c.do("PUT", "/drafts/"+d.Token+"/pages/person", bad, "If-Match", `"1"`), 409, nil)
	// Fixed.
	c.expect(c.do("PUT", "/drafts/"+d.Token+"/pages/person", map[string]any{"applicant": anna, "address": hofheim}, "If-Match", `"2"`), 200, &pr)
	if !pr.Complete || pr.Next != "kinder" || len(pr.Errors) != 0 || pr.Reached != "kinder" {
		t.Fatalf("fixed page: %+v", pr)
	}
	c.expect(c.do("PUT", "/drafts/"+d.Token+"/pages/kinder", map[string]any{"children": []any{mia, paul}}), 200, &pr)
	if !pr.Complete || pr.Next != "einkommen" {
		t.Fatalf("children: %+v", pr)
	}

	// Uploads: a PDF is taken, a text file is not.
	pdf := tinyPDF()
	body, ct := multipartFile(t, "Vertrag Schäfer.pdf", pdf, "note", "other parts are skipped")
	var att attachmentJSON
	c.expect(c.do("POST", "/drafts/"+d.Token+"/attachments", body, "Content-Type", ct), 201, &att)
	sum := sha256.Sum256(pdf)
	if att.ID == "" || att.Size != int64(len(pdf)) || att.ContentType != "application/pdf" || att.SHA256 != hex.EncodeToString(sum[:]) || att.Name != "Vertrag Schäfer.pdf" {
		t.Fatalf("attachment %+v", att)
	}
	body, ct = multipartFile(t, "notes.txt", []byte("just some text, not a PDF"))
	var p problemJSON
	c.expect(c.do("POST", "/drafts/"+d.Token+"/attachments", body, "Content-Type", ct), 415, &p)

	// Income below the limit: a fee is covered, so the IBAN is required.
	income := map[string]any{"income": 2400000, "consent": true, "incomeProof": att.ID}
	c.expect(c.do("PUT", "/drafts/"+d.Token+"/pages/einkommen", income), 200, &pr)
	if pr.Complete || !hasError(pr.Errors, "iban", "required") || pr.Computed["coveredFee"] != float64(50050) {
		t.Fatalf("income without iban: %+v", pr)
	}
	income["iban"] = "DE89370400440532013000"
	c.expect(c.do("PUT", "/drafts/"+d.Token+"/pages/einkommen", income), 200, &pr)
	if !pr.Complete || pr.Next != "" {
		t.Fatalf("income: %+v", pr)
	}

	// The client submits the whole document it collected.
	c.expect(c.do("GET", "/drafts/"+d.Token, nil), 200, &d)
	doc := d.Data
	key := "e2e-" + record.NewToken()
	var sub submissionJSON
	// A document naming files cannot be handed in without the draft they
	// were uploaded for.
	c.expect(c.do("POST", "/services/kita-anhang/submissions", doc), 422, nil)
	c.expect(c.do("POST", "/services/kita-anhang/submissions?draft="+d.Token, doc, "Idempotency-Key", key), 201, &sub)
	if !strings.HasPrefix(sub.Reference, "KITAA-") || sub.Office != "jugendamt-main-taunus" || sub.StatusSecret == "" {
		t.Fatalf("submission %+v", sub)
	}
	// Same key, same document (members reordered): the same submission.
	rest := copyDoc(doc)
	delete(rest, "consent")
	reordered := "{ \"consent\": true,\n " + strings.TrimPrefix(string(mustJSON(t, rest)), "{")
	resp := c.do("POST", "/services/kita-anhang/submissions?draft="+d.Token, reordered, "Idempotency-Key", key)
	var again submissionJSON
	if resp.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay not marked")
	}
	c.expect(resp, 200, &again)
	if again.Reference != sub.Reference || again.StatusSecret != sub.StatusSecret {
		t.Fatalf("replay %+v, first %+v", again, sub)
	}
	// Same key, another document: 422.
	other := copyDoc(doc)
	other["income"] = 2300000
	c.expect(c.do("POST", "/services/kita-anhang/submissions?draft="+d.Token, other, "Idempotency-Key", key), 422, &p)
	if !strings.HasSuffix(p.Type, "/idempotency-mismatch") {
		t.Fatalf("mismatch problem %+v", p)
	}

	// Concurrent requests with one key: one submission; the others see
	// it (200, same reference) or are told the key is in flight (409).
	key2 := "e2e-concurrent-" + record.NewToken()
	conc := kitaDoc()
	const n = 8
	var wg sync.WaitGroup
	codes := make([]int, n)
	refs := make([]string, n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			req := newRequest(t, "POST", c.base+"/services/kita-gebuehren/submissions", conc, "Idempotency-Key", key2)
			resp, err := c.http.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			codes[i] = resp.StatusCode
			var s submissionJSON
			_ = json.NewDecoder(resp.Body).Decode(&s)
			refs[i] = s.Reference
		}(i)
	}
	close(start)
	wg.Wait()
	created, ref := 0, ""
	for i, code := range codes {
		switch code {
		case 201:
			created++
			ref = refs[i]
		case 200, 409:
		default:
			t.Fatalf("concurrent submit %d: status %d", i, code)
		}
	}
	t.Logf("concurrent statuses: %v", codes)
	if created != 1 {
		t.Fatalf("concurrent submits created %d submissions: %v", created, codes)
	}
	for i, code := range codes {
		if code == 200 && refs[i] != ref {
			t.Fatalf("replay %d got %s, want %s", i, refs[i], ref)
		}
	}
	ctx := context.Background()
	list2, err := ts.store.ListSubmissions(ctx, record.InboxQuery{Tenant: testTenant, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	withKey := 0
	for _, s := range list2 {
		if s.IdempotencyKey == key2 {
			withKey++
		}
	}
	if withKey != 1 || len(list2) != 2 {
		t.Fatalf("stored: %d with the key, %d in all", withKey, len(list2))
	}

	// Status with the secret; a wrong secret looks like no submission.
	var st statusJSON
	c.expect(c.do("GET", "/submissions/"+sub.Reference+"?secret="+sub.StatusSecret, nil), 200, &st)
	if st.Reference != sub.Reference || st.Status != sub.Status || st.Office != sub.Office || st.Service.ID != "kita-anhang" {
		t.Fatalf("status %+v", st)
	}
	var types []string
	for _, e := range st.Events {
		types = append(types, e.Type)
	}
	if !reflect.DeepEqual(types, []string{"submitted", "routed"}) {
		t.Fatalf("events %v", types)
	}
	c.expect(c.do("GET", "/submissions/"+sub.Reference+"?secret=wrong"+sub.StatusSecret, nil), 404, &p)
	c.expect(c.do("GET", "/submissions/KITAA-2020-999999?secret="+sub.StatusSecret, nil), 404, &p)
	rawStatus := readBodyOf(t, c.do("GET", "/submissions/"+sub.Reference+"?secret="+sub.StatusSecret, nil))
	for _, personal := range []string{"Anna", "Schäfer", "Hauptstraße", "DE89"} {
		if strings.Contains(rawStatus, personal) {
			t.Errorf("status shows personal data %q", personal)
		}
	}

	// The receipt.
	resp = c.do("GET", sub.ReceiptURL[len("/api/v1/"+testTenant):], nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("receipt: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if b := readBodyOf(t, resp); !strings.HasPrefix(b, "%PDF-") {
		t.Fatalf("receipt is not a PDF")
	}
	c.expect(c.do("GET", "/submissions/"+sub.Reference+"/receipt.pdf?secret=x", nil), 404, nil)

	// The stored submission, field by field.
	stored, err := ts.store.GetSubmission(ctx, testTenant, sub.Reference)
	if err != nil {
		t.Fatal(err)
	}
	svc, _ := ts.intake.Catalog.Get(testTenant, "kita-anhang")
	checks := []struct {
		name      string
		got, want any
	}{
		{"ref", stored.Ref, sub.Reference},
		{"tenant", stored.Tenant, testTenant},
		{"service", stored.Service, record.ServiceRef{ID: svc.ID, Version: svc.Version, Hash: svc.Hash}},
		{"office", stored.Office, "jugendamt-main-taunus"},
		{"status", stored.Status, sub.Status},
		// scoped by the draft (issue 8 item 9), which is kept as a hash only
		{"idempotency key scoped", strings.HasPrefix(stored.IdempotencyKey, "owner:") && strings.HasSuffix(stored.IdempotencyKey, ":"+key) && !strings.Contains(stored.IdempotencyKey, d.Token), true},
		{"applicant", stored.Data["applicant"], map[string]any{"givenName": "Anna", "familyName": "Schäfer", "birthDate": "1988-04-12"}},
		{"address", stored.Data["address"], map[string]any{"street": "Hauptstraße", "houseNumber": "5", "postalCode": "65719", "city": "Hofheim am Taunus"}},
		{"children", stored.Data["children"], []any{
			map[string]any{"name": "Mia", "birthDate": "2023-05-02", "careType": "krippe", "monthlyFee": int64(32000)},
			map[string]any{"name": "Paul", "birthDate": "2020-09-17", "careType": "kindergarten", "monthlyFee": int64(18050)},
		}},
		{"income", stored.Data["income"], int64(2400000)},
		{"iban", stored.Data["iban"], "DE89370400440532013000"},
		{"consent", stored.Data["consent"], true},
		{"incomeProof", stored.Data["incomeProof"], att.ID},
		{"coveredFee", stored.Data["coveredFee"], int64(50050)},
		{"computed", stored.Computed, map[string]any{"coveredFee": int64(50050)}},
		{"no other fields", len(stored.Data), 8},
		{"attachments", stored.Attachments, []record.Attachment{{ID: att.ID, Name: "Vertrag Schäfer.pdf", Size: int64(len(pdf)), SHA256: att.SHA256, ContentType: "application/pdf"}}},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("stored %s = %#v, want %#v", ch.name, ch.got, ch.want)
		}
	}
	if time.Since(stored.Created) > time.Minute || !stored.Created.Equal(sub.Created) {
		t.Errorf("created %v, answered %v", stored.Created, sub.Created)
	}
	// The uploaded file is the one stored.
	rc, _, err := ts.store.OpenFile(ctx, testTenant, att.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, pdf) {
		t.Fatal("stored file differs from the upload")
	}
}

// TestAPISubmitDraft submits a completed draft; the token is the
// idempotency key, and an incomplete draft gets every error.
func TestAPISubmitDraft(t *testing.T) {
	ts := newTestServer(t)
	c := &client{t: t, base: ts.URL(t) + "/api/v1/" + testTenant, http: &http.Client{Timeout: 30 * time.Second}}
	var d draftJSON
	c.expect(c.do("POST", "/services/kita-gebuehren/drafts", nil), 201, &d)
	var p problemJSON
	c.expect(c.do("POST", "/drafts/"+d.Token+"/submit", nil, "Accept-Language", "de"), 422, &p)
	if !hasError(p.Errors, "applicant.givenName", "required") || !strings.HasPrefix(p.Errors[0].Message, "Bitte") {
		t.Fatalf("incomplete draft: %+v", p)
	}
	var pr pageResult
	doc := kitaDoc()
	c.expect(c.do("PUT", "/drafts/"+d.Token+"/pages/person", map[string]any{"applicant": doc["applicant"], "address": doc["address"]}), 200, &pr)
	c.expect(c.do("PUT", "/drafts/"+d.Token+"/pages/kinder", map[string]any{"children": doc["children"]}), 200, &pr)
	c.expect(c.do("PUT", "/drafts/"+d.Token+"/pages/einkommen", map[string]any{"income": doc["income"], "consent": true}), 200, &pr)
	if !pr.Complete {
		t.Fatalf("%+v", pr)
	}
	var sub submissionJSON
	c.expect(c.do("POST", "/drafts/"+d.Token+"/submit", nil), 201, &sub)
	// A retry returns the same submission, before and after the draft's
	// removal (issue 8 item 2).
	for _, when := range []string{"right after", "after the draft's removal"} {
		if when != "right after" {
			ts.bg.Wait()
			if _, _, err := ts.intake.Draft(context.Background(), testTenant, d.Token); !errors.Is(err, record.ErrNotFound) {
				t.Fatalf("draft after the submit: %v", err)
			}
		}
		resp := c.do("POST", "/drafts/"+d.Token+"/submit", nil)
		if resp.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("retry %s: not marked as a replay", when)
		}
		var again submissionJSON
		c.expect(resp, 200, &again)
		if again.Reference != sub.Reference || again.StatusSecret != sub.StatusSecret {
			t.Fatalf("retry %s: %s, first %s", when, again.Reference, sub.Reference)
		}
	}
	// A token never submitted is still unknown.
	c.expect(c.do("POST", "/drafts/"+record.NewToken()+"/submit", nil), 404, nil)
	stored, err := ts.store.GetSubmission(context.Background(), testTenant, sub.Reference)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Data["income"] != int64(4500000) || stored.Office != "jugendamt-main-taunus" {
		t.Fatalf("stored %+v", stored)
	}
}

func readBodyOf(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func copyDoc(m map[string]any) map[string]any {
	var out map[string]any
	b, _ := json.Marshal(m)
	_ = json.Unmarshal(b, &out)
	return out
}

// TestAPIDoubleSubmitDraft presses submit twice at once on a draft with
// an attachment, as a citizen's double click does (issue 8 item 1): both
// get the one submission, and its file survives the draft's removal.
func TestAPIDoubleSubmitDraft(t *testing.T) {
	ts := newTestServer(t, withServices(uploadService(t)))
	c := &client{t: t, base: ts.URL(t) + "/api/v1/" + testTenant, http: &http.Client{Timeout: 30 * time.Second}}
	ctx := context.Background()
	for round := 0; round < 5; round++ {
		var d draftJSON
		c.expect(c.do("POST", "/services/nachweis/drafts", nil), 201, &d)
		body, ct := multipartFile(t, "nachweis.pdf", tinyPDF())
		var att attachmentJSON
		c.expect(c.do("POST", "/drafts/"+d.Token+"/attachments", body, "Content-Type", ct), 201, &att)
		var pr pageResult
		c.expect(c.do("PUT", "/drafts/"+d.Token+"/pages/angaben", map[string]any{"name": "Jürgen", "proof": att.ID}), 200, &pr)
		if !pr.Complete {
			t.Fatalf("page: %+v", pr)
		}
		var wg sync.WaitGroup
		codes, refs := make([]int, 2), make([]string, 2)
		start := make(chan struct{})
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				resp, err := c.http.Do(newRequest(t, "POST", c.base+"/drafts/"+d.Token+"/submit", nil))
				if err != nil {
					t.Error(err)
					return
				}
				defer resp.Body.Close()
				var s submissionJSON
				_ = json.NewDecoder(resp.Body).Decode(&s)
				codes[i], refs[i] = resp.StatusCode, s.Reference
			}()
		}
		close(start)
		wg.Wait()
		if codes[0]+codes[1] != 201+200 || refs[0] != refs[1] || refs[0] == "" {
			t.Fatalf("round %d: double press got %v %v, want 201 and 200 with one reference", round, codes, refs)
		}
		ts.bg.Wait() // the draft's removal
		rc, _, err := ts.store.OpenFile(ctx, testTenant, att.ID)
		if err != nil {
			t.Fatalf("round %d: the file after the draft's removal: %v", round, err)
		}
		rc.Close()
		sub, err := ts.store.GetSubmission(ctx, testTenant, refs[0])
		if err != nil {
			t.Fatal(err)
		}
		if len(sub.Attachments) != 1 || sub.Attachments[0].ID != att.ID {
			t.Fatalf("round %d: attachments %+v", round, sub.Attachments)
		}
	}
}

// TestDraftFileNamesOwnFilesOnly saves another draft's attachment id into
// a page (issue 8 item 11): the names shown for a draft are those of its
// own files only.
func TestDraftFileNamesOwnFilesOnly(t *testing.T) {
	ts := newTestServer(t, withServices(uploadService(t)))
	c := &client{t: t, base: ts.URL(t) + "/api/v1/" + testTenant, http: &http.Client{Timeout: 30 * time.Second}}
	ctx := context.Background()
	var mine, theirs draftJSON
	c.expect(c.do("POST", "/services/nachweis/drafts", nil), 201, &theirs)
	c.expect(c.do("POST", "/services/nachweis/drafts", nil), 201, &mine)
	body, ct := multipartFile(t, "Bescheid Müller.pdf", tinyPDF())
	var att attachmentJSON
	c.expect(c.do("POST", "/drafts/"+theirs.Token+"/attachments", body, "Content-Type", ct), 201, &att)
	var pr pageResult
	c.expect(c.do("PUT", "/drafts/"+theirs.Token+"/pages/angaben", map[string]any{"name": "Jürgen", "proof": att.ID}), 200, &pr)
	c.expect(c.do("PUT", "/drafts/"+mine.Token+"/pages/angaben", map[string]any{"name": "Eve", "proof": att.ID}), 200, &pr)
	for _, x := range []struct {
		token string
		want  string
	}{{theirs.Token, "Bescheid Müller.pdf"}, {mine.Token, ""}} {
		d, svc, err := ts.intake.Draft(ctx, testTenant, x.token)
		if err != nil {
			t.Fatal(err)
		}
		names := ts.intake.DraftFileNames(ctx, d, svc, d.Data)
		if names[att.ID] != x.want || (x.want == "" && len(names) != 0) {
			t.Errorf("names on draft %s: %v, want %q", x.token[:6], names, x.want)
		}
	}
}

// TestAPIKeyWithoutDraftIsASecret: without ?draft= an Idempotency-Key is
// the only proof of a replay, which answers the status secret; a key
// someone else could guess is refused (issue 8 item 9).
func TestAPIKeyWithoutDraftIsASecret(t *testing.T) {
	ts := newTestServer(t)
	c := &client{t: t, base: ts.URL(t) + "/api/v1/" + testTenant, http: &http.Client{Timeout: 30 * time.Second}}
	var p problemJSON
	c.expect(c.do("POST", "/services/kita-gebuehren/submissions", kitaDoc(), "Idempotency-Key", "order-42"), 400, &p)
	if !strings.Contains(p.Detail, "22 characters") {
		t.Errorf("problem %+v", p)
	}
	var sub, again submissionJSON
	key := "0b9f6c1e-6a52-4b8e-9a57-3c1d2e4f5a6b"
	c.expect(c.do("POST", "/services/kita-gebuehren/submissions", kitaDoc(), "Idempotency-Key", key), 201, &sub)
	c.expect(c.do("POST", "/services/kita-gebuehren/submissions", kitaDoc(), "Idempotency-Key", key), 200, &again)
	if again.Reference != sub.Reference {
		t.Fatalf("replay %s, first %s", again.Reference, sub.Reference)
	}
}

// TestAPIKeyInFlightPerDraft: a key in flight without a draft does not
// make the same key sent with a draft a 409: they are different keys.
func TestAPIKeyInFlightPerDraft(t *testing.T) {
	ts := newTestServer(t)
	c := &client{t: t, base: ts.URL(t) + "/api/v1/" + testTenant, http: &http.Client{Timeout: 30 * time.Second}}
	var d draftJSON
	c.expect(c.do("POST", "/services/kita-gebuehren/drafts", nil), 201, &d)
	key := "0b9f6c1e-6a52-4b8e-9a57-3c1d2e4f5a6b"
	release, err := ts.serverClaim(testTenant, key)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	c.expect(c.do("POST", "/services/kita-gebuehren/submissions", kitaDoc(), "Idempotency-Key", key), 409, nil)
	c.expect(c.do("POST", "/services/kita-gebuehren/submissions?draft="+d.Token, kitaDoc(), "Idempotency-Key", key), 201, nil)
}
