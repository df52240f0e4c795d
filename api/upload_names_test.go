package api

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
	"unicode"

	"github.com/amtsform/amtsform/api/httpx"
)

// TestUploadFileNames: both audiences' uploads keep the same clean file
// name: no directories, no control or format characters, at most
// httpx.MaxFileName bytes.
func TestUploadFileNames(t *testing.T) {
	ts := newTestServer(t, withServices(uploadService(t)))
	ctx := context.Background()
	name := `C:\Scans\Be` + "\x01schei\x7fd\u202E" + strings.Repeat("x", 300) + ".pdf"
	want := httpx.FileName(name)
	if strings.ContainsAny(want, "\\\x01\x7f\u202E") || len(want) > httpx.MaxFileName || !strings.HasPrefix(want, "Bescheid") {
		t.Fatalf("FileName(%q) = %q", name, want)
	}
	check := func(via, got string) {
		t.Helper()
		if got != want {
			t.Errorf("%s: stored name %q, want %q", via, got, want)
		}
		for _, r := range got {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				t.Errorf("%s: stored name %q holds %U", via, got, r)
			}
		}
	}

	// Control characters cannot be sent in a header as they are (Go's
	// multipart reader refuses the body) but percent-encoded in the
	// RFC 2231 form filename*=UTF-8''….
	upload := func(field string, fields ...string) (*bytes.Buffer, string) {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		for i := 0; i+1 < len(fields); i += 2 {
			_ = w.WriteField(fields[i], fields[i+1])
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="`+field+`"; filename*=UTF-8''`+pctEncode(name))
		h.Set("Content-Type", "application/pdf")
		fw, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = fw.Write(tinyPDF())
		_ = w.Close()
		return &buf, w.FormDataContentType()
	}

	// The citizen page.
	b := newBrowser(t, ts.URL(t))
	p := b.startDraft("nachweis")
	token := strings.Split(p.url.Path, "/")[4]
	body, ct := upload("proof", "_csrf", p.csrf(t), "name", "Jürgen")
	req, _ := http.NewRequest("POST", b.abs(p.action(t)), body)
	req.Header.Set("Content-Type", ct)
	b.do(req).must(t, 200, "/review")
	d, svc, err := ts.intake.Draft(ctx, testTenant, token)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := d.Data["proof"].(string)
	check("citizen", ts.intake.DraftFileNames(ctx, d, svc, d.Data)[id])

	// The JSON API.
	var dj draftJSON
	readJSON(t, ts.do(t, "POST", "/api/v1/"+testTenant+"/services/nachweis/drafts", nil), &dj)
	body, ct = upload("file")
	var att attachmentJSON
	readJSON(t, ts.do(t, "POST", "/api/v1/"+testTenant+"/drafts/"+dj.Token+"/attachments", body, "Content-Type", ct), &att)
	check("api", att.Name)
}

// pctEncode percent-encodes every byte but letters and digits (RFC 2231).
func pctEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
