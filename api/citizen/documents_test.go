package citizen

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/api/httpx"
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/casework"
	"github.com/amtsform/amtsform/engine/intake"
	"github.com/amtsform/amtsform/engine/record"
	"github.com/amtsform/amtsform/ui"
)

// fakeRequests is one open request for the Kita example's incomeProof.
type fakeRequests struct {
	svc       *engine.Service
	uploads   []string
	fulfilled map[string][]string
	expired   bool
}

const docToken = "KITA-2026-000001.abcdefghijklmnopqrstuvwxyz0123456789ABCD"

func (f *fakeRequests) Request(_ context.Context, tenant, token string) (*casework.DocumentRequest, *record.Submission, *engine.Service, error) {
	if tenant != "ffm" || token != docToken {
		return nil, nil, nil, record.ErrNotFound
	}
	if f.expired {
		return nil, nil, nil, record.ErrExpired
	}
	r := &casework.DocumentRequest{ID: "r1", Fields: []string{"incomeProof"}, Message: "Bitte den Steuerbescheid.", Deadline: time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC)}
	if f.fulfilled != nil {
		r.Fulfilled = time.Now()
	}
	return r, &record.Submission{Ref: "KITA-2026-000001", Tenant: "ffm"}, f.svc, nil
}

func (f *fakeRequests) Upload(_ context.Context, _, _, field, name string, r io.Reader) (*record.Attachment, error) {
	b, _ := io.ReadAll(r)
	if !bytes.HasPrefix(b, []byte("%PDF")) {
		return nil, record.ErrUnsupportedType
	}
	f.uploads = append(f.uploads, field+"/"+name)
	return &record.Attachment{ID: "file-1", Name: name}, nil
}

func (f *fakeRequests) Fulfil(_ context.Context, _, _ string, ids map[string][]string) error {
	f.fulfilled = ids
	return nil
}

func (f *fakeRequests) CitizenRequests(_ context.Context, _, _ string) ([]casework.DocumentRequest, error) {
	return nil, nil
}

func TestDocumentsPage(t *testing.T) {
	svc, err := engine.Load("../../examples/kita-gebuehren")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := ui.Templates()
	if err != nil {
		t.Fatal(err)
	}
	fake := &fakeRequests{svc: svc}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	app := fiber.New(fiber.Config{ErrorHandler: httpx.ErrorHandler(log, func(c *fiber.Ctx, e httpx.ErrorPage) error { return c.SendString(e.Title) })})
	Register(app, Config{Intake: &intake.Intake{Secret: []byte("0123456789abcdef0123456789abcdef")}, Tenants: httpx.Tenants{"ffm"},
		Templates: tmpl, Logger: log, Documents: fake})
	path := "/ffm/nachreichen/" + docToken
	do := func(req *http.Request) (*http.Response, string) {
		t.Helper()
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for _, p := range []string{"/ffm/nachreichen/KITA-2026-000001.wrong", "/of/nachreichen/" + docToken} {
		if resp, _ := do(httptest.NewRequest("GET", p, nil)); resp.StatusCode != 404 {
			t.Errorf("GET %s: %d", p, resp.StatusCode)
		}
	}
	resp, body := do(httptest.NewRequest("GET", path, nil))
	if resp.StatusCode != 200 || !strings.Contains(body, "Einkommensnachweis") || !strings.Contains(body, "Bitte den Steuerbescheid.") || !strings.Contains(body, "15.12.2026") {
		t.Fatalf("GET %d\n%s", resp.StatusCode, body)
	}
	csrf := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindStringSubmatch(body)
	if csrf == nil {
		t.Fatal("no CSRF token")
	}
	var cookies []string
	for _, c := range resp.Cookies() {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	post := func(token, field, name string, content []byte) (*http.Response, string) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		mw.WriteField("_csrf", token)
		if field != "" {
			w, _ := mw.CreateFormFile(field, name)
			w.Write(content)
		}
		mw.Close()
		req := httptest.NewRequest("POST", path, &b)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Cookie", strings.Join(cookies, "; "))
		return do(req)
	}
	if resp, _ := post("wrong", "incomeProof", "a.pdf", []byte("%PDF-1.7")); resp.StatusCode != 403 || fake.fulfilled != nil {
		t.Fatalf("post without the CSRF token: %d", resp.StatusCode)
	}
	if resp, body := post(csrf[1], "", "", nil); resp.StatusCode != 422 || !strings.Contains(body, "mindestens eine Datei") {
		t.Fatalf("post without a file: %d", resp.StatusCode)
	}
	if resp, body := post(csrf[1], "incomeProof", "a.exe", []byte("MZ")); resp.StatusCode != 422 || !strings.Contains(body, "Dateityp") || fake.fulfilled != nil {
		t.Fatalf("post of a refused file: %d\n%s", resp.StatusCode, body)
	}
	resp, body = post(csrf[1], "incomeProof", "bescheid.pdf", []byte("%PDF-1.7"))
	if resp.StatusCode != 200 || !strings.Contains(body, "Vielen Dank") || strings.Join(fake.fulfilled["incomeProof"], ",") != "file-1" {
		t.Fatalf("post: %d %v\n%s", resp.StatusCode, fake.fulfilled, body)
	}
	if resp, body := do(httptest.NewRequest("GET", path, nil)); resp.StatusCode != 200 || !strings.Contains(body, "Vielen Dank") {
		t.Fatalf("GET after sending: %d", resp.StatusCode)
	}
	fake.expired = true
	if resp, _ := do(httptest.NewRequest("GET", path+"?"+url.Values{"lang": {"en"}}.Encode(), nil)); resp.StatusCode != 410 {
		t.Fatalf("expired: %d", resp.StatusCode)
	}
}
