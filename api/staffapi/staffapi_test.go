package staffapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/engine/record"
)

// oaChecker sends requests to the app and checks them, and the responses,
// against the embedded OpenAPI document with kin-openapi (as
// api/openapi_test.go does for the citizen API).
type oaChecker struct {
	t      *testing.T
	doc    *openapi3.T
	router routers.Router
	seen   map[string]map[int]bool // operationId → statuses seen
}

func newOAChecker(t *testing.T) *oaChecker {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPIDocument())
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

func newRequest(method, target, token string, body any, headers ...string) *http.Request {
	var r io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		r, ct = strings.NewReader(b), "application/json"
	case []byte:
		r, ct = bytes.NewReader(b), "application/json"
	default:
		data, _ := json.Marshal(b)
		r, ct = bytes.NewReader(data), "application/json"
	}
	req := httptest.NewRequest(method, target, r)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return req
}

// do sends a request to the app and returns the response with its body.
func (fx *fixture) do(t *testing.T, method, target, token string, body any, headers ...string) (*http.Response, []byte) {
	t.Helper()
	resp, err := fx.app.Test(newRequest(method, target, token, body, headers...), -1)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, data
}

// expect sends a request, checks its status and validates the exchange
// against the document (the request only when wellFormed).
func (oc *oaChecker) expect(fx *fixture, status int, v any, wellFormed bool, method, target, token string, body any, headers ...string) *http.Response {
	t := oc.t
	t.Helper()
	resp, data := fx.do(t, method, target, token, body, headers...)
	if resp.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d\n%s", method, target, resp.StatusCode, status, data)
	}
	vreq := newRequest(method, "http://localhost"+target, token, body, headers...)
	route, params, err := oc.router.FindRoute(vreq)
	if err != nil {
		t.Fatalf("%s %s is not in the OpenAPI document: %v", method, target, err)
	}
	ctx := context.Background()
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	if wellFormed {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			t.Errorf("%s %s: request does not match the document: %v", method, target, err)
		}
	}
	err = openapi3filter.ValidateResponse(ctx, &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body:    io.NopCloser(bytes.NewReader(data)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	})
	if err != nil {
		t.Errorf("%s %s → %d: response does not match the document: %v\n%s", method, target, resp.StatusCode, err, data)
	}
	op := route.Operation.OperationID
	if oc.seen[op] == nil {
		oc.seen[op] = map[int]bool{}
	}
	oc.seen[op][resp.StatusCode] = true
	if v != nil {
		if err := json.Unmarshal(data, v); err != nil {
			t.Fatal(err)
		}
	}
	return resp
}

const base = "/api/v1/" + tenant + "/staff"

// TestOpenAPIDocument checks the document against real requests and
// responses: every operation with a success and every error status it
// documents.
func TestOpenAPIDocument(t *testing.T) {
	oc := newOAChecker(t)
	fx := newFixture(t)
	ok, bad := true, false

	var served map[string]any
	oc.expect(fx, 200, &served, ok, "GET", "/api/v1/staff/openapi.json", "", nil)
	if served["openapi"] != "3.1.0" {
		t.Fatalf("served document: %v", served["openapi"])
	}

	var inbox inboxJSON
	oc.expect(fx, 200, &inbox, ok, "GET", base+"/cases", tokA, nil)
	if inbox.Total != 1 || inbox.Cases[0].Reference != refA {
		t.Fatalf("inbox of office A: %+v", inbox)
	}
	oc.expect(fx, 200, nil, ok, "GET", base+"/cases?status=submitted,in_review&sort=-age&from=2026-11-01&to=2026-11-30&limit=10&skip=0&mine=false&overdue=true&assignee=-&ref=kita&service=kita-gebuehren&office=jugendamt", tokA, nil)
	oc.expect(fx, 400, nil, bad, "GET", base+"/cases?limit=0", tokA, nil)
	oc.expect(fx, 400, nil, bad, "GET", base+"/cases?sort=name", tokA, nil)
	oc.expect(fx, 401, nil, ok, "GET", base+"/cases", "", nil)
	oc.expect(fx, 404, nil, ok, "GET", "/api/v1/nirgendwo/staff/cases", tokA, nil)

	var cs caseJSON
	oc.expect(fx, 200, &cs, ok, "GET", base+"/cases/"+refA, tokA, nil)
	if cs.Reference != refA || len(cs.Attachments) != 1 || len(cs.Events) != 2 || len(cs.Actions) != 1 || cs.Actions[0].ID != "start" {
		t.Fatalf("case: %+v", cs)
	}
	if cs.Answers["income"] != float64(4500000) || cs.Computed["monthlyFee"] != float64(23050) {
		t.Fatalf("answers %v computed %v", cs.Answers, cs.Computed)
	}
	oc.expect(fx, 404, nil, ok, "GET", base+"/cases/"+refB, tokA, nil)
	oc.expect(fx, 401, nil, ok, "GET", base+"/cases/"+refA, tokRevoked, nil)

	att := base + "/cases/" + refA + "/attachments/" + fileA
	resp := oc.expect(fx, 200, nil, ok, "GET", att, tokA, nil)
	if ct := resp.Header.Get("Content-Type"); ct != "application/pdf" {
		t.Errorf("attachment content type %q", ct)
	}
	oc.expect(fx, 404, nil, ok, "GET", base+"/cases/"+refA+"/attachments/"+fileB, tokA, nil)
	oc.expect(fx, 401, nil, ok, "GET", att, "", nil)

	tr := base + "/cases/" + refA + "/transitions"
	var after summaryJSON
	oc.expect(fx, 200, &after, ok, "POST", tr, tokA, map[string]any{"transition": "start", "version": 1})
	if after.Status != "in_review" || after.Version != 2 {
		t.Fatalf("after transition: %+v", after)
	}
	oc.expect(fx, 409, nil, ok, "POST", tr, tokA, map[string]any{"transition": "reject", "comment": "unvollständig", "version": 1})
	oc.expect(fx, 422, nil, ok, "POST", tr, tokA, map[string]any{"transition": "reject", "version": 2})
	oc.expect(fx, 403, nil, ok, "POST", tr, tokAuditor, map[string]any{"transition": "reject", "comment": "x", "version": 2})
	oc.expect(fx, 400, nil, bad, "POST", tr, tokA, map[string]any{"transition": "reject"})
	oc.expect(fx, 400, nil, bad, "POST", tr, tokA, `{"transition": `)
	oc.expect(fx, 413, nil, bad, "POST", tr, tokA, `{"transition":"reject","version":2,"comment":"`+strings.Repeat("x", 70<<10)+`"}`)
	oc.expect(fx, 415, nil, bad, "POST", tr, tokA, "transition=reject", "Content-Type", "application/x-www-form-urlencoded")
	oc.expect(fx, 404, nil, ok, "POST", base+"/cases/"+refB+"/transitions", tokA, map[string]any{"transition": "start", "version": 1})
	oc.expect(fx, 401, nil, ok, "POST", tr, tokRevoked, map[string]any{"transition": "start", "version": 1})

	var page auditPageJSON
	oc.expect(fx, 200, &page, ok, "GET", base+"/audit", tokAuditor, nil)
	if len(page.Entries) != 3 || page.Next != 3 || page.Entries[1].Detail["file"] != fileA {
		t.Fatalf("audit page: %+v", page)
	}
	oc.expect(fx, 200, &page, ok, "GET", base+"/audit?after=1&limit=1", tokAuditor, nil)
	if len(page.Entries) != 1 || page.Entries[0].Seq != 2 || page.Next != 2 {
		t.Fatalf("audit page after 1: %+v", page)
	}
	oc.expect(fx, 400, nil, bad, "GET", base+"/audit?limit=1001", tokAuditor, nil)
	oc.expect(fx, 401, nil, ok, "GET", base+"/audit", "", nil)
	oc.expect(fx, 403, nil, ok, "GET", base+"/audit", tokA, nil)
	oc.expect(fx, 404, nil, ok, "GET", "/api/v1/kelkheim/staff/audit", tokAuditor, nil)
	var rep verifyJSON
	oc.expect(fx, 200, &rep, ok, "GET", base+"/audit/verify", tokAuditor, nil)
	if !rep.OK || rep.Entries != 3 || rep.Problem != nil {
		t.Fatalf("verify: %+v", rep)
	}
	fx.auditStore.Tamper(tenant, func(es map[int64]record.AuditEntry) { e := es[2]; e.Object = refB; es[2] = e })
	oc.expect(fx, 200, &rep, ok, "GET", base+"/audit/verify", tokAuditor, nil)
	if rep.OK || rep.Problem == nil || rep.Problem.Seq != 2 || rep.Problem.Kind != "altered" || rep.Last != 1 {
		t.Fatalf("verify tampered: %+v", rep)
	}
	oc.expect(fx, 401, nil, ok, "GET", base+"/audit/verify", tokRevoked, nil)
	oc.expect(fx, 403, nil, ok, "GET", base+"/audit/verify", tokB, nil)
	oc.expect(fx, 404, nil, ok, "GET", "/api/v1/nirgendwo/staff/audit/verify", tokAuditor, nil)

	// Every operation was exercised with a success, and with every error
	// status it documents.
	var missing []string
	for path, item := range oc.doc.Paths.Map() {
		for method, op := range item.Operations() {
			seen := oc.seen[op.OperationID]
			if len(seen) == 0 || !(seen[200] || seen[201]) {
				missing = append(missing, method+" "+path+" success")
			}
			for code := range op.Responses.Map() {
				if code[0] != '2' && !seen[atoi(code)] {
					missing = append(missing, method+" "+path+" "+code)
				}
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("not exercised: %v", missing)
	}
}

func atoi(s string) int {
	n := 0
	for _, r := range s {
		n = n*10 + int(r-'0')
	}
	return n
}

// authzRow says how to call one staff API route on a case: the path for
// tenant ten and case ref (with attachment file), and the body.
type authzRow struct {
	path  func(ten, ref, file string) string
	body  any
	write bool // changes the case: an auditor's token gets 403
	// want overrides the status expected of a caller (by its name in
	// TestAuthorizationTable)
	want map[string]int
}

// auditRow is the row of a route of the audit trail: tenant-wide, for
// auditors and admins only; a caseworker's token gets 403.
func auditRow(suffix string) authzRow {
	return authzRow{
		path: func(ten, ref, file string) string { return "/api/v1/" + ten + "/staff/audit" + suffix },
		want: map[string]int{"office A on a case of office B": 403, "other tenant's token on its own URL": 403, "auditor": 200, "rightful token": 403},
	}
}

// authzRows has one row per staff API route. A route registered without a
// row fails TestAuthorizationTable.
var authzRows = map[string]authzRow{
	"GET /api/v1/:tenant/staff/cases": {
		path: func(ten, ref, file string) string { return "/api/v1/" + ten + "/staff/cases?ref=" + ref },
	},
	"GET /api/v1/:tenant/staff/cases/:ref": {
		path: func(ten, ref, file string) string { return "/api/v1/" + ten + "/staff/cases/" + ref },
	},
	"GET /api/v1/:tenant/staff/cases/:ref/attachments/:id": {
		path: func(ten, ref, file string) string {
			return "/api/v1/" + ten + "/staff/cases/" + ref + "/attachments/" + file
		},
	},
	"POST /api/v1/:tenant/staff/cases/:ref/transitions": {
		path:  func(ten, ref, file string) string { return "/api/v1/" + ten + "/staff/cases/" + ref + "/transitions" },
		body:  map[string]any{"transition": "start", "version": 1},
		write: true,
	},
	"GET /api/v1/:tenant/staff/audit":        auditRow(""),
	"GET /api/v1/:tenant/staff/audit/verify": auditRow("/verify"),
}

// public are the staff API routes that need no token.
var public = map[string]bool{"GET /api/v1/staff/openapi.json": true}

// TestAuthorizationTable runs every staff API route, taken from the
// router, with every kind of caller: no token and a revoked one get 401;
// a token of office A on a case of office B, and a token of another
// tenant (on its own tenant's URL with this tenant's case, and on this
// tenant's URL), get 404 — never 403 — for every route; an auditor's
// token gets 403 on every write; the rightful token succeeds.
func TestAuthorizationTable(t *testing.T) {
	fx := newFixture(t)
	var routes []string
	for _, r := range fx.app.GetRoutes(true) {
		if r.Method == "HEAD" || !strings.Contains(r.Path, "/staff") {
			continue
		}
		key := r.Method + " " + r.Path
		if public[key] {
			continue
		}
		routes = append(routes, key)
		if _, ok := authzRows[key]; !ok {
			t.Errorf("route %s has no row in authzRows: add one", key)
		}
	}
	if len(routes) != len(authzRows) {
		t.Errorf("routes %v, rows %d: a row names a route that does not exist", routes, len(authzRows))
	}
	sort.Strings(routes)
	for _, key := range routes {
		row, ok := authzRows[key]
		if !ok {
			continue
		}
		method := key[:strings.IndexByte(key, ' ')]
		t.Run(key, func(t *testing.T) {
			listing := strings.HasSuffix(key, "/cases")
			for _, c := range []struct {
				name, token, tenant, ref, file string
				want                           int
				listing                        int // the status of a listing (a listing is no case: it just lacks the case)
			}{
				{"no token", "", tenant, refA, fileA, 401, 401},
				{"malformed header", "", tenant, refA, fileA, 401, 401},
				{"unknown token", "aft_000000000099_unknown", tenant, refA, fileA, 401, 401},
				{"revoked token", tokRevoked, tenant, refA, fileA, 401, 401},
				{"office A on a case of office B", tokA, tenant, refB, fileB, 404, 200},
				{"other tenant's token on its own URL", tokKelkheim, "kelkheim", refA, fileA, 404, 200},
				{"other tenant's token on this tenant's URL", tokKelkheim, tenant, refA, fileA, 404, 404},
				{"token on another tenant's URL and case", tokA, "kelkheim", refK, fileK, 404, 404},
				{"unknown tenant", tokA, "nirgendwo", refA, fileA, 404, 404},
				{"auditor", tokAuditor, tenant, refA, fileA, map[bool]int{true: 403, false: 200}[row.write], 200},
				{"rightful token", tokA, tenant, refA, fileA, 200, 200},
			} {
				fx := newFixture(t)
				var headers []string
				if c.name == "malformed header" {
					headers = []string{"Authorization", "Basic " + tokA}
				}
				resp, data := fx.do(t, method, row.path(c.tenant, c.ref, c.file), c.token, row.body, headers...)
				want := c.want
				if listing {
					want = c.listing
				}
				if w, ok := row.want[c.name]; ok {
					want = w
				}
				if resp.StatusCode != want {
					t.Errorf("%s: status %d, want %d\n%s", c.name, resp.StatusCode, want, data)
					continue
				}
				if want >= 400 && resp.Header.Get("Content-Type") != "application/problem+json" {
					t.Errorf("%s: content type %q", c.name, resp.Header.Get("Content-Type"))
				}
				if want == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("%s: WWW-Authenticate %q", c.name, resp.Header.Get("WWW-Authenticate"))
				}
				if listing && want == 200 {
					var in inboxJSON
					if err := json.Unmarshal(data, &in); err != nil {
						t.Fatal(err)
					}
					visible := map[string]bool{refA: c.token != tokKelkheim, refK: c.token == tokKelkheim}
					for _, sc := range in.Cases {
						if !visible[sc.Reference] || sc.Reference != c.ref {
							t.Errorf("%s: the inbox lists %s", c.name, sc.Reference)
						}
					}
				}
				if want >= 400 && len(fx.cases.audit) > 0 {
					t.Errorf("%s: refused, yet casework recorded %v", c.name, fx.cases.audit)
				}
			}
		})
	}
}

// TestInboxQuery checks the query parameters reach casework as the
// Query they mean.
func TestInboxQuery(t *testing.T) {
	fx := newFixture(t)
	resp, data := fx.do(t, "GET", base+"/cases?office=jugendamt&mine=true&service=kita-gebuehren&status=submitted,in_review&status=approved"+
		"&from=2026-11-01&to=2026-11-30&overdue=1&assignee=-&ref=KITA-2026&sort=priority&skip=50&limit=25", tokA, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, data)
	}
	want := Query{Office: "jugendamt", Mine: true, Service: "kita-gebuehren", Status: []string{"submitted", "in_review", "approved"},
		From: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 30, 23, 59, 59, 999e6, time.UTC),
		Overdue: true, Assignee: "-", Ref: "KITA-2026", Sort: "priority", Skip: 50, Limit: 25}
	if !reflect.DeepEqual(fx.cases.lastQuery, want) {
		t.Fatalf("query\n%+v\nwant\n%+v", fx.cases.lastQuery, want)
	}
	fx.do(t, "GET", base+"/cases", tokA, nil)
	if q := fx.cases.lastQuery; q.Limit != 50 || q.Sort != "age" || q.Skip != 0 || q.Status != nil {
		t.Fatalf("defaults: %+v", q)
	}
	for _, bad := range []string{"limit=201", "limit=x", "skip=-1", "mine=yes", "overdue=2", "from=yesterday", "to=2026-13-01", "sort=name"} {
		resp, data := fx.do(t, "GET", base+"/cases?"+bad, tokA, nil)
		if resp.StatusCode != 400 || !strings.Contains(string(data), `"type":"https://amtsform.dev/problems/bad-request"`) {
			t.Errorf("%s: %d %s", bad, resp.StatusCode, data)
		}
	}
}

// TestAttachmentDownload checks the download: streamed bytes, the
// measured content type, Content-Disposition attachment with the cleaned
// name encoded, no caching, and the audit record.
func TestAttachmentDownload(t *testing.T) {
	fx := newFixture(t)
	resp, data := fx.do(t, "GET", base+"/cases/"+refA+"/attachments/"+fileA, tokA, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if !bytes.Equal(data, fx.cases.files[fileA]) {
		t.Fatalf("body %q", data)
	}
	for h, want := range map[string]string{
		"Content-Type":           "application/pdf",
		"Content-Disposition":    "attachment; filename*=utf-8''Einkommensnachweis%20M%C3%A4rz.pdf",
		"X-Content-Type-Options": "nosniff",
		"Cache-Control":          "no-store",
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	if !reflect.DeepEqual(fx.cases.audit, []string{"token:00000000000a attachment.downloaded " + refA}) {
		t.Errorf("audit: %v", fx.cases.audit)
	}
	if got := contentDisposition(`../x"y.pdf`); got != `attachment; filename="x\"y.pdf"` {
		t.Errorf("quoted name: %s", got)
	}
}

// TestTransitionProblems checks the problem documents of refused
// transitions.
func TestTransitionProblems(t *testing.T) {
	fx := newFixture(t)
	tr := base + "/cases/" + refA + "/transitions"
	for _, c := range []struct {
		name  string
		token string
		body  any
		want  int
		typ   string
		code  string
		hdr   []string
	}{
		{"unknown field", tokA, `{"transition":"start","version":1,"office":"x"}`, 400, "bad-request", "", nil},
		{"trailing value", tokA, `{"transition":"start","version":1} {"transition":"reject"}`, 400, "bad-request", "", nil},
		{"trailing newline", tokA, "{\"transition\":\"start\",\"version\":7}\r\n", 409, "conflict", "", nil},
		{"trailing brace", tokA, `{"transition":"start","version":1}}`, 400, "bad-request", "", nil},
		{"plain text", tokA, `{"transition":"start","version":1}`, 415, "about:blank", "", []string{"Content-Type", "text/plain"}},
		{"no content type", tokA, `{"transition":"start","version":1}`, 415, "about:blank", "", []string{"Content-Type", ""}},
		{"version zero", tokA, map[string]any{"transition": "start", "version": 0}, 400, "bad-request", "", nil},
		{"stale", tokA, map[string]any{"transition": "start", "version": 7}, 409, "conflict", "", nil},
		{"auditor", tokAuditor, map[string]any{"transition": "start", "version": 1}, 403, "forbidden", "", nil},
		{"not now", tokA, map[string]any{"transition": "reject", "version": 1}, 422, "action-refused", "notAllowedNow", nil},
		{"ok, a +json type", tokA, map[string]any{"transition": "start", "version": 1}, 200, "", "", []string{"Content-Type", "application/vnd.amtsform+json; charset=utf-8"}},
		{"comment required", tokA, map[string]any{"transition": "reject", "version": 2}, 422, "action-refused", "commentRequired", nil},
	} {
		resp, data := fx.do(t, "POST", tr, c.token, c.body, append([]string{"Accept-Language", "en"}, c.hdr...)...)
		if resp.StatusCode != c.want {
			t.Errorf("%s: %d, want %d: %s", c.name, resp.StatusCode, c.want, data)
			continue
		}
		if c.want == 200 {
			continue
		}
		var p struct {
			Type   string `json:"type"`
			Title  string `json:"title"`
			Status int    `json:"status"`
			Errors []struct{ Path, Code string }
		}
		if err := json.Unmarshal(data, &p); err != nil {
			t.Fatal(err)
		}
		typ := "https://amtsform.dev/problems/" + c.typ
		if c.typ == "about:blank" {
			typ = c.typ
		}
		if p.Type != typ || p.Status != c.want || p.Title == "" {
			t.Errorf("%s: %s", c.name, data)
		}
		if c.code != "" && (len(p.Errors) != 1 || p.Errors[0].Code != c.code) {
			t.Errorf("%s: errors %s", c.name, data)
		}
	}
}

// TestRegisteredFirst shows why the lead registers the staff API before
// apiv1: apiv1's tenant group (/api/v1/:tenant, 404 for unknown tenants)
// would take /api/v1/staff/openapi.json for a tenant named "staff".
func TestRegisteredFirst(t *testing.T) {
	fx := newFixture(t)
	v1 := fx.app.Group("/api/v1")
	v1.Group("/:tenant", func(c *fiber.Ctx) error { // as apiv1's apiTenant
		if c.Params("tenant") != tenant && c.Params("tenant") != "kelkheim" {
			return fiber.ErrNotFound
		}
		return c.Next()
	})
	if resp, _ := fx.do(t, "GET", "/api/v1/staff/openapi.json", "", nil); resp.StatusCode != 200 {
		t.Fatalf("document: %d", resp.StatusCode)
	}
	if resp, _ := fx.do(t, "GET", base+"/cases", tokA, nil); resp.StatusCode != 200 {
		t.Fatalf("cases: %d", resp.StatusCode)
	}
}
