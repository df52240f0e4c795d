package api

// Shared test helpers for the api package: the assembled app (New) on a
// real engine and an embedded FerretDB store in a temporary directory.
// Both the JSON API tests and the citizen UI tests use them; fixtures
// other packages' tests need too are in api/apitest.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/api/apitest"
	"github.com/amtsform/amtsform/api/apiv1"
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/catalog"
	"github.com/amtsform/amtsform/engine/intake"
	"github.com/amtsform/amtsform/engine/mongostore"
	"github.com/amtsform/amtsform/engine/mongostore/embedded"
)

// The JSON API's wire types, under the names the tests have used.
type (
	draftJSON        = apiv1.Draft
	pageResult       = apiv1.PageResult
	attachmentJSON   = apiv1.Attachment
	submissionJSON   = apiv1.Submission
	statusJSON       = apiv1.Status
	validationResult = apiv1.Validation
	serviceSummary   = apiv1.ServiceSummary
)

// testTenant is the tenant every test server serves.
const testTenant = "musterstadt"

// quietLog drops everything below ERROR so test output stays readable.
var quietLog = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))

// testServer is an api.New app on an engine backed by an embedded
// FerretDB store in a temporary directory.
type testServer struct {
	app    *fiber.App
	intake *intake.Intake
	store  *mongostore.Store
	db     *embedded.Server
	cfg    Config
	tenant string

	bg sync.WaitGroup // background work of the engine (draft removal)

	baseOnce sync.Once
	base     string // set by URL
}

// testOption adjusts a test server before it is built.
type testOption func(*testSetup)

type testSetup struct {
	services []*engine.Service
	cfg      func(*Config)
	now      func() time.Time
}

// withServices adds services (e.g. loaded from a spec written to
// t.TempDir()) to the examples.
func withServices(svcs ...*engine.Service) testOption {
	return func(s *testSetup) { s.services = append(s.services, svcs...) }
}

// withConfig changes the Config passed to New (Intake is already set).
func withConfig(f func(*Config)) testOption {
	return func(s *testSetup) { s.cfg = f }
}

// withNow fixes the engine's clock.
func withNow(now func() time.Time) testOption {
	return func(s *testSetup) { s.now = now }
}

// newTestServer starts an embedded store in t.TempDir(), builds an engine
// with the example services (plus any given with withServices) and
// returns the app. Everything is closed when the test ends; background
// work of the engine is waited for first.
func newTestServer(t testing.TB, opts ...testOption) *testServer {
	t.Helper()
	setup := &testSetup{services: append([]*engine.Service(nil), apitest.Examples(t)...)}
	for _, o := range opts {
		o(setup)
	}
	dir, err := os.MkdirTemp("", "amtsform-api-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	srv, err := embedded.Start(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	store, err := mongostore.Connect(ctx, srv.URI(), mongostore.Options{Logger: quietLog, MaxFileBytes: 2 << 20, ExclusiveDrafts: true})
	if err == nil {
		err = srv.IndexIDs(ctx)
	}
	if err != nil {
		_ = srv.Stop()
		t.Fatal(err)
	}
	ts := &testServer{store: store, db: srv, tenant: testTenant}
	cat := catalog.New(store)
	if err := cat.Offer(ctx, testTenant, setup.services); err != nil {
		t.Fatal(err)
	}
	ts.intake = &intake.Intake{
		Store:   store,
		Catalog: cat,
		Secret:  []byte("test-secret-0123456789abcdef"),
		Now:     setup.now,
		Background: func(f func()) {
			ts.bg.Add(1)
			go func() { defer ts.bg.Done(); f() }()
		},
	}
	ts.cfg = Config{Intake: ts.intake, Tenants: []string{testTenant}, Logger: quietLog}
	if setup.cfg != nil {
		setup.cfg(&ts.cfg)
	}
	ts.app, err = New(ts.cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = ts.app.ShutdownWithContext(ctx)
		ts.bg.Wait()
		if err := store.Close(ctx); err != nil {
			t.Error(err)
		}
		_ = srv.Stop()
	})
	return ts
}

// URL serves the app on a loopback port (once) and returns its base URL,
// e.g. "http://127.0.0.1:41234", for tests over real HTTP.
func (ts *testServer) URL(t testing.TB) string {
	t.Helper()
	ts.baseOnce.Do(func() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = ts.app.Listener(ln) }()
		ts.base = "http://" + ln.Addr().String()
	})
	return ts.base
}

// do runs a request through app.Test (no network, no timeout). body may
// be nil, a string, []byte, io.Reader or any value encoded as JSON.
// Headers are given as name, value pairs.
func (ts *testServer) do(t testing.TB, method, target string, body any, headers ...string) *http.Response {
	t.Helper()
	req := newRequest(t, method, target, body, headers...)
	resp, err := ts.app.Test(req, -1)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	return resp
}

// newRequest builds a request; see do for body and headers. A JSON body
// gets Content-Type application/json unless headers set one.
func newRequest(t testing.TB, method, target string, body any, headers ...string) *http.Request {
	t.Helper()
	var r io.Reader
	isJSON := false
	switch b := body.(type) {
	case nil:
	case string:
		r = bytes.NewReader([]byte(b))
		isJSON = true
	case []byte:
		r = bytes.NewReader(b)
		isJSON = true
	case io.Reader:
		r = b
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(data)
		isJSON = true
	}
	req, err := http.NewRequest(method, target, r)
	if err != nil {
		t.Fatal(err)
	}
	if isJSON {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return req
}

// readJSON decodes a response body into v (a pointer) and closes it.
func readJSON(t testing.TB, resp *http.Response, v any) {
	t.Helper()
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decode %s: %v\n%s", resp.Request.URL, err, data)
	}
}

// readBody returns a response body as text and closes it.
func readBody(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// tinyPDF returns a small, well-formed PDF (one empty page) that passes
// the store's content sniffing.
func tinyPDF() []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	var offs []int
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
	}
	for i, o := range objs {
		offs = append(offs, b.Len())
		b.WriteString(itoa(i+1) + " 0 obj\n" + o + "\nendobj\n")
	}
	xref := b.Len()
	b.WriteString("xref\n0 4\n0000000000 65535 f \n")
	for _, o := range offs {
		s := itoa(o)
		for len(s) < 10 {
			s = "0" + s
		}
		b.WriteString(s + " 00000 n \n")
	}
	b.WriteString("trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n" + itoa(xref) + "\n%%EOF\n")
	return b.Bytes()
}

func itoa(i int) string { return strconv.Itoa(i) }

// tampered returns token with its first character replaced by another
// one, so that it is never the token itself (replacing it by a fixed
// character would give the token back when it starts with that one).
func tampered(token string) string {
	if strings.HasPrefix(token, "x") {
		return "y" + token[1:]
	}
	return "x" + token[1:]
}
