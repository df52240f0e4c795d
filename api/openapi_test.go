package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/amtsform/amtsform/api/apiv1"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// oaChecker runs requests through the app and checks them, and the
// responses, against the embedded OpenAPI document with kin-openapi
// (OpenAPI 3.1, JSON Schema 2020-12 validation).
type oaChecker struct {
	t      *testing.T
	doc    *openapi3.T
	router routers.Router
	seen   map[string]map[int]bool // operationId → statuses seen
}

func newOAChecker(t *testing.T) *oaChecker {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(apiv1.OpenAPIDocument())
	if err != nil {
		t.Fatalf("load OpenAPI document: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("OpenAPI version %s, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("OpenAPI document invalid: %v", err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &oaChecker{t: t, doc: doc, router: router, seen: map[string]map[int]bool{}}
}

// exchange sends a request to ts, validates the request (when
// wellFormed: requests built to be rejected are not valid by design) and
// always the response, including that its status is documented. It
// returns the response with its body.
func (oc *oaChecker) exchange(ts *testServer, wellFormed bool, method, target string, body any, headers ...string) (*http.Response, []byte) {
	t := oc.t
	t.Helper()
	req := newRequest(t, method, target, body, headers...)
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
	}
	req.Body = io.NopCloser(bytes.NewReader(reqBody))
	resp, err := ts.app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	respBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()

	vreq := newRequest(t, method, "http://localhost"+target, reqBody, headers...)
	vreq.Header = req.Header.Clone()
	route, params, err := oc.router.FindRoute(vreq)
	if err != nil {
		t.Fatalf("%s %s is not in the OpenAPI document: %v", method, target, err)
	}
	ctx := context.Background()
	in := &openapi3filter.RequestValidationInput{
		Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	}
	if wellFormed {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			t.Errorf("%s %s: request does not match the document: %v", method, target, err)
		}
	}
	err = openapi3filter.ValidateResponse(ctx, &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(respBody)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	})
	if err != nil {
		t.Errorf("%s %s → %d: response does not match the document: %v\n%s", method, target, resp.StatusCode, err, truncate(respBody))
	}
	op := route.Operation.OperationID
	if oc.seen[op] == nil {
		oc.seen[op] = map[int]bool{}
	}
	oc.seen[op][resp.StatusCode] = true
	return resp, respBody
}

// expect is exchange plus a status check and JSON decoding into v.
func (oc *oaChecker) expect(ts *testServer, status int, v any, wellFormed bool, method, target string, body any, headers ...string) {
	oc.t.Helper()
	resp, data := oc.exchange(ts, wellFormed, method, target, body, headers...)
	if resp.StatusCode != status {
		oc.t.Fatalf("%s %s: status %d, want %d\n%s", method, target, resp.StatusCode, status, truncate(data))
	}
	if v != nil {
		if err := json.Unmarshal(data, v); err != nil {
			oc.t.Fatal(err)
		}
	}
}

func truncate(b []byte) string {
	if len(b) > 800 {
		return string(b[:800]) + "…"
	}
	return string(b)
}

// TestOpenAPIDocument checks the OpenAPI document against real requests
// and responses: every operation is exercised with a success and (where
// the operation can fail) an error, and each exchange must match.
func TestOpenAPIDocument(t *testing.T) {
	oc := newOAChecker(t)
	ts := newTestServer(t, withServices(attachmentService(t)))
	base := "/api/v1/" + testTenant
	ok, bad := true, false

	var served map[string]any
	oc.expect(ts, 200, &served, ok, "GET", "/api/v1/openapi.json", nil)
	if served["openapi"] != "3.1.0" {
		t.Fatalf("served document: %v", served["openapi"])
	}

	oc.expect(ts, 200, nil, ok, "GET", base+"/services", nil)
	oc.expect(ts, 404, nil, ok, "GET", "/api/v1/nirgendwo/services", nil)
	oc.expect(ts, 200, nil, ok, "GET", base+"/services/kita-gebuehren", nil)
	oc.expect(ts, 200, nil, ok, "GET", base+"/services/hundesteuer", nil)
	oc.expect(ts, 200, nil, ok, "GET", base+"/services/geburtsurkunde", nil)
	oc.expect(ts, 404, nil, ok, "GET", base+"/services/nope", nil)
	oc.expect(ts, 200, nil, ok, "GET", base+"/services/kita-gebuehren/schema", nil)
	oc.expect(ts, 404, nil, ok, "GET", base+"/services/nope/schema", nil)

	validate := base + "/services/kita-gebuehren/validate"
	oc.expect(ts, 200, nil, ok, "POST", validate, kitaDoc())
	oc.expect(ts, 200, nil, ok, "POST", validate+"?page=kinder&lang=en", map[string]any{"children": []any{map[string]any{"name": ""}}})
	oc.expect(ts, 400, nil, bad, "POST", validate, `{"a":`)
	oc.expect(ts, 413, nil, bad, "POST", validate, `{"a":"`+strings.Repeat("x", 2<<20)+`"}`)
	oc.expect(ts, 415, nil, bad, "POST", validate, "a=b", "Content-Type", "application/x-www-form-urlencoded")
	oc.expect(ts, 404, nil, ok, "POST", validate+"?page=nope", kitaDoc())

	var d draftJSON
	oc.expect(ts, 201, &d, ok, "POST", base+"/services/kita-anhang/drafts", nil)
	oc.expect(ts, 404, nil, ok, "POST", base+"/services/nope/drafts", nil)
	oc.expect(ts, 200, nil, ok, "GET", base+"/drafts/"+d.Token, nil)
	oc.expect(ts, 404, nil, ok, "GET", base+"/drafts/"+strings.Repeat("A", 32), nil)

	page := base + "/drafts/" + d.Token + "/pages/"
	oc.expect(ts, 200, nil, ok, "PUT", page+"person", map[string]any{"applicant": anna}, "Accept-Language", "en", "If-Match", `"1"`)
	oc.expect(ts, 409, nil, ok, "PUT", page+"person", map[string]any{"applicant": anna}, "If-Match", `"1"`)
	oc.expect(ts, 400, nil, bad, "PUT", page+"person", map[string]any{"applicant": anna}, "If-Match", `"x"`)
	oc.expect(ts, 422, nil, ok, "PUT", page+"person", map[string]any{"applicant": anna, "income": 5})
	oc.expect(ts, 409, nil, ok, "PUT", page+"einkommen", map[string]any{"income": 5})
	oc.expect(ts, 413, nil, bad, "PUT", page+"person", `{"applicant":"`+strings.Repeat("x", 2<<20)+`"}`)
	oc.expect(ts, 415, nil, bad, "PUT", page+"person", "x", "Content-Type", "text/plain")
	oc.expect(ts, 200, nil, ok, "PUT", page+"person", map[string]any{"applicant": anna, "address": hofheim})
	oc.expect(ts, 200, nil, ok, "PUT", page+"kinder", map[string]any{"children": []any{mia}})

	body, ct := multipartFile(t, "vertrag.pdf", tinyPDF())
	var att attachmentJSON
	oc.expect(ts, 201, &att, ok, "POST", base+"/drafts/"+d.Token+"/attachments", body, "Content-Type", ct)
	body, ct = multipartFile(t, "notes.txt", []byte("plain text"))
	oc.expect(ts, 415, nil, ok, "POST", base+"/drafts/"+d.Token+"/attachments", body, "Content-Type", ct)
	body, ct = multipartFile(t, "vertrag.pdf", tinyPDF())
	oc.expect(ts, 404, nil, ok, "POST", base+"/drafts/"+strings.Repeat("A", 32)+"/attachments", body, "Content-Type", ct)
	body, ct = multipartFile(t, "vertrag.pdf", tinyPDF())
	noFile := strings.Replace(body.String(), `name="file"`, `name="other"`, 1)
	oc.expect(ts, 400, nil, bad, "POST", base+"/drafts/"+d.Token+"/attachments", strings.NewReader(noFile), "Content-Type", ct)

	oc.expect(ts, 422, nil, ok, "POST", base+"/drafts/"+d.Token+"/submit", nil)
	oc.expect(ts, 200, nil, ok, "PUT", page+"einkommen", map[string]any{"income": 4500000, "consent": true, "incomeProof": att.ID})
	var sub submissionJSON
	oc.expect(ts, 201, &sub, ok, "POST", base+"/drafts/"+d.Token+"/submit", nil)
	oc.expect(ts, 404, nil, ok, "POST", base+"/drafts/"+strings.Repeat("A", 32)+"/submit", nil)

	submit := base + "/services/kita-gebuehren/submissions"
	key := []string{"Idempotency-Key", "openapi-test-1-0b9f6c1e6a524b8e"}
	var s2 submissionJSON
	oc.expect(ts, 201, &s2, ok, "POST", submit, kitaDoc(), key...)
	oc.expect(ts, 200, nil, ok, "POST", submit, kitaDoc(), key...)
	other := kitaDoc()
	other["income"] = 4600000
	oc.expect(ts, 422, nil, ok, "POST", submit, other, key...)
	oc.expect(ts, 422, nil, ok, "POST", submit, map[string]any{"income": -1}, "Accept-Language", "en")
	oc.expect(ts, 400, nil, bad, "POST", submit, `{"income": }`)
	oc.expect(ts, 400, nil, bad, "POST", submit, kitaDoc(), "Idempotency-Key", "draft:x")
	oc.expect(ts, 413, nil, bad, "POST", submit, `{"a":"`+strings.Repeat("x", 2<<20)+`"}`)
	oc.expect(ts, 415, nil, bad, "POST", submit, "x", "Content-Type", "text/plain")
	oc.expect(ts, 404, nil, ok, "POST", base+"/services/nope/submissions", kitaDoc())
	// 409: the key is in flight (claimed as a running request would).
	release, err := ts.serverClaim(testTenant, "openapi-busy-0b9f6c1e6a524b8e9a5")
	if err != nil {
		t.Fatal(err)
	}
	oc.expect(ts, 409, nil, ok, "POST", submit, kitaDoc(), "Idempotency-Key", "openapi-busy-0b9f6c1e6a524b8e9a5")
	release()

	oc.expect(ts, 200, nil, ok, "GET", base+"/submissions/"+sub.Reference+"?secret="+sub.StatusSecret, nil)
	oc.expect(ts, 404, nil, ok, "GET", base+"/submissions/"+sub.Reference+"?secret=nope", nil)
	oc.expect(ts, 200, nil, ok, "GET", base+"/submissions/"+sub.Reference+"/receipt.pdf?secret="+sub.StatusSecret+"&lang=en", nil)
	oc.expect(ts, 404, nil, ok, "GET", base+"/submissions/"+s2.Reference+"/receipt.pdf?secret="+sub.StatusSecret, nil)

	// 429 from a server that allows one submit a minute.
	limited := newTestServer(t, withConfig(func(c *Config) { c.SubmitRate = 1 }))
	oc.expect(limited, 201, nil, ok, "POST", submit, kitaDoc())
	oc.expect(limited, 429, nil, ok, "POST", submit, kitaDoc())
	oc.expect(limited, 429, nil, ok, "POST", base+"/drafts/"+strings.Repeat("A", 32)+"/submit", nil)

	oaReceivers(t, oc)

	// Every operation was exercised, with a success and an error.
	var missing []string
	for path, item := range oc.doc.Paths.Map() {
		for method, op := range item.Operations() {
			seen := oc.seen[op.OperationID]
			var okSeen, errSeen bool
			for code := range seen {
				okSeen = okSeen || code < 300
				errSeen = errSeen || code >= 400
			}
			if !okSeen || (!errSeen && op.OperationID != "getOpenAPI") {
				missing = append(missing, method+" "+path)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("not exercised with a success and an error: %v", missing)
	}
}

// serverClaim marks an idempotency key as in flight on ts's app, as a
// running request would.
func (ts *testServer) serverClaim(tenant, key string) (func(), error) {
	return apiv1.ClaimKey(ts.app, tenant, key)
}
