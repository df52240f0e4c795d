package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/amtsform/amtsform/engine/intake"
	"github.com/amtsform/amtsform/engine/record"
)

// leakyStore fails the way a store may: with an error that quotes what
// it was given (as a duplicate key error quotes the key).
type leakyStore struct {
	intake.Store
	marker string
}

func (s leakyStore) GetDraft(ctx context.Context, tenant, id string) (*record.Draft, error) {
	if strings.Contains(id, s.marker) {
		return nil, fmt.Errorf("lookup of draft %q: connection reset", id)
	}
	return s.Store.GetDraft(ctx, tenant, id)
}

func (s leakyStore) UpdateDraft(ctx context.Context, d *record.Draft) error {
	return fmt.Errorf("update draft %v: write conflict", d.Data)
}

func (s leakyStore) PutFile(ctx context.Context, tenant, owner, name string, r io.Reader) (*record.Attachment, error) {
	return nil, fmt.Errorf("put file %q: disk full", name)
}

func (s leakyStore) Submit(ctx context.Context, req *record.SubmitRequest) (*record.Submission, bool, error) {
	return nil, false, fmt.Errorf("submit %+v: E11000 duplicate key", req)
}

// TestNoCitizenValueInLogs sends a marker on every input path (JSON
// body, form post, multipart file name, query string, path), into
// requests answered 2xx, 4xx and 5xx (a store whose errors quote their
// input), and checks that no log line holds it.
func TestNoCitizenValueInLogs(t *testing.T) {
	const marker = "Zq7MarkerWert"
	var logBuf lockedBuffer
	logger := slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	old := slog.Default()
	slog.SetDefault(logger)
	t.Cleanup(func() { slog.SetDefault(old) })

	ts := newTestServer(t, withServices(uploadService(t)), withConfig(func(c *Config) { c.Logger = logger }))
	cfg := ts.cfg
	in := *ts.intake
	in.Store = leakyStore{Store: ts.store, marker: marker}
	cfg.Intake = &in
	leaky, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	kitaDraft, _, err := ts.intake.NewDraft(ctx, testTenant, "kita-gebuehren")
	if err != nil {
		t.Fatal(err)
	}
	upDraft, _, err := ts.intake.NewDraft(ctx, testTenant, "nachweis")
	if err != nil {
		t.Fatal(err)
	}

	// A CSRF cookie and token for the form posts.
	b := newBrowser(t, ts.URL(t))
	csrf := b.get("/" + testTenant + "/kita-gebuehren/").csrf(t)
	var cookie string
	for _, c := range b.c.Jar.Cookies(&url.URL{Scheme: "http", Host: strings.TrimPrefix(ts.URL(t), "http://")}) {
		cookie += c.Name + "=" + c.Value + "; "
	}

	api := "/api/v1/" + testTenant
	kitaPage := "/" + testTenant + "/kita-gebuehren/d/" + kitaDraft.ID + "/person"
	upPage := "/" + testTenant + "/nachweis/d/" + upDraft.ID + "/angaben"
	jsonDoc := `{"applicant":{"givenName":"` + marker + `","familyName":"` + marker + `","birthDate":"1990-01-01"},"income":1e400}`
	form := with(personPage, "_csrf", csrf, "applicant.givenName", marker, "applicant.familyName", "1e400"+marker).Encode()
	multipartBody := func(field string, fields ...string) (string, string) {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		for i := 0; i+1 < len(fields); i += 2 {
			_ = w.WriteField(fields[i], fields[i+1])
		}
		fw, _ := w.CreateFormFile(field, marker+".pdf")
		_, _ = fw.Write(tinyPDF())
		_ = w.Close()
		return buf.String(), w.FormDataContentType()
	}
	citizenUpload, citizenCT := multipartBody("proof", "_csrf", csrf, "name", marker)
	apiUpload, apiCT := multipartBody("file")

	type req struct {
		method, target, ctype, body string
	}
	reqs := []req{
		{"POST", api + "/services/kita-gebuehren/validate?lang=" + marker + "&page=" + marker, "application/json", jsonDoc},
		{"POST", api + "/services/kita-gebuehren/validate", "application/json", jsonDoc},
		{"POST", api + "/services/kita-gebuehren/validate", "application/json", `{"` + marker + `":` + "1e400}"},
		{"POST", api + "/services/kita-gebuehren/validate", "application/json", `{"x":"` + marker},
		{"POST", api + "/services/kita-gebuehren/submissions", "application/json", jsonDoc},
		{"POST", api + "/services/" + marker + "/submissions", "application/json", jsonDoc},
		{"PUT", api + "/drafts/" + kitaDraft.ID + "/pages/person", "application/json", jsonDoc},
		{"PUT", api + "/drafts/" + kitaDraft.ID + "/pages/" + marker, "application/json", jsonDoc},
		{"POST", api + "/drafts/" + upDraft.ID + "/attachments", apiCT, apiUpload},
		{"POST", api + "/drafts/" + kitaDraft.ID + "/submit", "", ""},
		{"GET", api + "/drafts/" + marker, "", ""},
		{"GET", api + "/submissions/" + marker + "?secret=" + marker, "", ""},
		{"GET", "/api/v1/" + marker + "/services", "", ""},
		{"POST", kitaPage, "application/x-www-form-urlencoded", form},
		{"POST", kitaPage + "?lang=" + marker, "application/x-www-form-urlencoded", form + "&" + marker + "=1"},
		{"POST", upPage, citizenCT, citizenUpload},
		{"POST", "/" + testTenant + "/kita-gebuehren/d/" + kitaDraft.ID + "/review", "application/x-www-form-urlencoded", "_csrf=" + url.QueryEscape(csrf)},
		{"GET", "/" + testTenant + "/kita-gebuehren/d/" + marker + "/person", "", ""},
		{"GET", "/" + testTenant + "/" + marker + "/", "", ""},
		{"GET", "/" + marker + "/", "", ""},
		{"GET", "/" + testTenant + "/kita-gebuehren/r/" + marker + "?s=" + marker, "", ""},
	}
	statuses := map[int]int{}
	for _, app := range []*struct {
		name string
		do   func(*http.Request) (*http.Response, error)
	}{
		{"store", func(r *http.Request) (*http.Response, error) { return ts.app.Test(r, -1) }},
		{"failing store", func(r *http.Request) (*http.Response, error) { return leaky.Test(r, -1) }},
	} {
		for _, r := range reqs {
			hr, err := http.NewRequest(r.method, r.target, strings.NewReader(r.body))
			if err != nil {
				t.Fatal(err)
			}
			if r.ctype != "" {
				hr.Header.Set("Content-Type", r.ctype)
			}
			hr.Header.Set("Cookie", cookie)
			resp, err := app.do(hr)
			if err != nil {
				t.Fatalf("%s %s %s: %v", app.name, r.method, r.target, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses[resp.StatusCode/100]++
		}
	}
	ts.bg.Wait()
	if statuses[2]+statuses[3] == 0 || statuses[4] == 0 || statuses[5] == 0 {
		t.Fatalf("want 2xx/3xx, 4xx and 5xx answers, got %v", statuses)
	}
	logs := logBuf.String()
	if !strings.Contains(logs, "request failed") {
		t.Fatalf("no 5xx logged:\n%s", logs)
	}
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, marker) || strings.Contains(line, "1e400") {
			t.Errorf("log line with a citizen value: %s", line)
		}
	}
}
