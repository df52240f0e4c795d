package api

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/amtsform/amtsform/engine"
)

// TestFormPostLimitsHeap posts form values far beyond the document
// limits, urlencoded and multipart, in a loop: each post is refused with
// 413, nothing of it is stored, what the drafts held before is kept, and
// the heap stays bounded.
func TestFormPostLimitsHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("posts 320 MB")
	}
	ts := newTestServer(t, withServices(uploadService(t)))
	ctx := context.Background()
	b := newBrowser(t, ts.URL(t))
	p := b.startDraft("kita-gebuehren")
	csrf := p.csrf(t)
	kita := strings.Split(p.url.Path, "/")[4]
	b.post(p.url.Path, with(personPage, "_csrf", csrf)).must(t, 200, "/kinder")
	u := b.startDraft("nachweis")
	nachweis := strings.Split(u.url.Path, "/")[4]
	b.post(u.url.Path, vals("_csrf", csrf, "name", "Jürgen")).must(t, 422, "/angaben") // proof missing
	before := map[string]map[string]any{}
	for _, tok := range []string{kita, nachweis} {
		d, _, err := ts.intake.Draft(ctx, testTenant, tok)
		if err != nil {
			t.Fatal(err)
		}
		before[tok] = d.Data
	}

	huge := strings.Repeat("x", 8<<20)
	urlencoded := []byte(with(personPage, "_csrf", csrf, "applicant.givenName", huge).Encode())
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	_ = mw.WriteField("_csrf", csrf)
	_ = mw.WriteField("name", huge)
	_ = mw.Close()
	// Many values each within the text limit, together beyond the size.
	many := with(personPage, "_csrf", csrf)
	for i := 0; len(many.Encode()) <= int(engine.DefaultLimits.MaxBytes); i++ {
		many.Add("applicant.givenName", strings.Repeat("y", engine.DefaultLimits.MaxString))
	}
	manyBody := []byte(many.Encode())
	huge = ""

	post := func(path, ctype string, body []byte) {
		t.Helper()
		req, _ := http.NewRequest("POST", b.abs(path), bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		if r := b.do(req); r.status != 413 {
			t.Fatalf("status %d, want 413", r.status)
		}
	}
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	for i := 0; i < 40; i++ {
		switch i % 3 {
		case 0:
			post(p.url.Path, "application/x-www-form-urlencoded", urlencoded)
		case 1:
			post(u.url.Path, mw.FormDataContentType(), mp.Bytes())
		case 2:
			post(p.url.Path, "application/x-www-form-urlencoded", manyBody)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	if grown := int64(m1.HeapAlloc) - int64(m0.HeapAlloc); grown > 64<<20 {
		t.Errorf("heap grew by %d MiB over 40 refused posts", grown>>20)
	}
	for tok, want := range before {
		d, _, err := ts.intake.Draft(ctx, testTenant, tok)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(d.Data, want) {
			t.Errorf("draft changed:\nbefore %.200v\nafter  %.200v", want, d.Data)
		}
		walk(d.Data, func(s string) {
			if len(s) > engine.DefaultLimits.MaxString {
				t.Errorf("draft holds a text of %d bytes", len(s))
			}
		})
	}
}

// walk calls f with every string in v.
func walk(v any, f func(string)) {
	switch x := v.(type) {
	case string:
		f(x)
	case map[string]any:
		for _, e := range x {
			walk(e, f)
		}
	case []any:
		for _, e := range x {
			walk(e, f)
		}
	}
}
