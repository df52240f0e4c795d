package backoffice_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/api/apitest"
	bo "github.com/amtsform/amtsform/api/backoffice"
	"github.com/amtsform/amtsform/api/httpx"
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/record"
)

// now is the fixed clock of the tests.
var now = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

const (
	officeA = "jugendamt-main-taunus"
	officeB = "jugendamt-hofheim"
	// refs: A1 unassigned in office A with an attachment, A2 anna's and
	// overdue, B1 in office B, K1 of another tenant (same office id).
	refA1 = "KITA-2026-000001"
	refA2 = "KITA-2026-000002"
	refB1 = "KITA-2026-000003"
	refK1 = "KITA-2026-000004"
)

// wfNames are the parts of the Kita workflow the tests use, read from
// the compiled service, so that the tests hold for the workflow it
// declares (the standard one, or casework's four-eyes one).
type wfNames struct {
	initial, working string            // the first state, and where the first step leads
	start            engine.Transition // the first step out of initial without a comment
	withdraw         engine.Transition // a step out of initial with a required comment
	commented        engine.Transition // a step out of working with a required comment, no document request
	docs             engine.Transition // the step out of working that requests documents
	later            engine.Transition // a step that does not start in initial
}

func workflowNames(t testing.TB, kita *engine.Service) wfNames {
	t.Helper()
	wf := kita.Workflow
	n := wfNames{initial: wf.Initial}
	from := func(st string, ok func(engine.Transition) bool) engine.Transition {
		for _, tr := range wf.Transitions {
			if slices.Contains(tr.From, st) && ok(tr) {
				return tr
			}
		}
		t.Fatalf("the Kita workflow has no fitting step out of %s", st)
		return engine.Transition{}
	}
	isDocs := func(tr engine.Transition) bool { return tr.To == "nachforderung" }
	n.start = from(n.initial, func(tr engine.Transition) bool { return !tr.Comment && !isDocs(tr) })
	n.working = n.start.To
	n.withdraw = from(n.initial, func(tr engine.Transition) bool { return tr.Comment })
	n.commented = from(n.working, func(tr engine.Transition) bool { return tr.Comment && !isDocs(tr) })
	n.docs = from(n.working, isDocs)
	for _, tr := range wf.Transitions {
		if !slices.Contains(tr.From, n.initial) {
			n.later = tr
			break
		}
	}
	return n
}

// title is a state's German title.
func (n wfNames) title(kita *engine.Service, st, lang string) string {
	return kita.Workflow.States[st].Title.In(lang)
}

// seed fills w with the demo staff and cases.
func seed(t testing.TB, w *world, kita *engine.Service, now time.Time) {
	wf := workflowNames(t, kita)
	w.addUser(&bo.User{ID: "anna", Tenant: "musterstadt", Name: "Anna Adler", Roles: []string{"caseworker"}, Offices: []string{officeA}}, "anna-pw")
	w.addUser(&bo.User{ID: "bernd", Tenant: "musterstadt", Name: "Bernd Berger", Roles: []string{"caseworker"}, Offices: []string{officeA}}, "bernd-pw")
	w.addUser(&bo.User{ID: "clara", Tenant: "musterstadt", Name: "Clara Conrad", Roles: []string{"auditor"}, Offices: []string{officeA, officeB}}, "clara-pw")
	w.addUser(&bo.User{ID: "dirk", Tenant: "musterstadt", Name: "Dirk Dahl", Roles: []string{"caseworker"}, Offices: []string{officeB}}, "dirk-pw")
	w.addUser(&bo.User{ID: "emil", Tenant: "kelkheim", Name: "Emil Engel", Roles: []string{"caseworker"}, Offices: []string{officeA}}, "emil-pw")
	ref := record.ServiceRef{ID: kita.ID, Version: kita.Version, Hash: kita.Hash}
	data := apitest.KitaData()
	data["incomeProof"] = "att-income-0001"
	res := kita.Evaluate(data, engine.Options{Today: now})
	pdf := []byte("%PDF-1.4\n% Einkommensnachweis\n")
	w.addCase(&bo.Submission{Ref: refA1, Tenant: "musterstadt", Service: ref, Data: res.Data, Computed: res.Computed, Office: officeA,
		Status: wf.initial, Created: now.Add(-72 * time.Hour),
		Attachments: []record.Attachment{{ID: "att-income-0001", Name: "Einkommensnachweis März.pdf", Size: int64(len(pdf)), ContentType: "application/pdf"}},
	}, map[string][]byte{"att-income-0001": pdf})
	w.addCase(&bo.Submission{Ref: refA2, Tenant: "musterstadt", Service: ref, Data: res.Data, Computed: res.Computed, Office: officeA,
		Status: wf.working, Assignee: "anna", Priority: 2, Created: now.Add(-30 * 24 * time.Hour), Due: now.Add(-48 * time.Hour)}, nil)
	w.addCase(&bo.Submission{Ref: refB1, Tenant: "musterstadt", Service: ref, Data: res.Data, Computed: res.Computed, Office: officeB,
		Status: wf.initial, Created: now.Add(-24 * time.Hour)}, nil)
	w.addCase(&bo.Submission{Ref: refK1, Tenant: "kelkheim", Service: ref, Data: res.Data, Computed: res.Computed, Office: officeA,
		Status: wf.initial, Created: now.Add(-24 * time.Hour)}, nil)
	seedDeliveries(w, now)
}

type fixture struct {
	t    *testing.T
	w    *world
	app  *fiber.App
	kita *engine.Service
	wf   wfNames
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	kita := apitest.Example(t, "kita-gebuehren")
	w := newWorld(func() time.Time { return now }, []*engine.Service{kita})
	seed(t, w, kita, now)
	w.oidcUser = "bernd"
	app := newApp(t, w)
	return &fixture{t: t, w: w, app: app, kita: kita, wf: workflowNames(t, kita)}
}

func deps(w *world) bo.Deps {
	return bo.Deps{
		Cases: work{w}, Deliveries: work{w}, Staff: w, Audit: auditLog{w}, Catalog: w, Catalogue: w.catalogue, Users: w.staffList,
		OIDC: func(tenant string) (bo.OIDC, bool) {
			if tenant != "musterstadt" {
				return nil, false
			}
			return fakeOIDC{w: w, tenant: tenant}, true
		},
		Tenants:   []string{"musterstadt", "kelkheim"},
		Secret:    []byte("test secret of the back office tests"),
		Now:       func() time.Time { return now },
		LoginRate: 1000,
	}
}

func newApp(t testing.TB, w *world) *fiber.App { return newAppDeps(t, deps(w)) }

func newAppDeps(t testing.TB, d bo.Deps) *fiber.App {
	app := fiber.New(fiber.Config{Immutable: true, ErrorHandler: func(c *fiber.Ctx, err error) error {
		code, _ := httpx.StatusOf(err)
		return c.Status(code).SendString(err.Error())
	}})
	if err := bo.Register(app, d); err != nil {
		t.Fatal(err)
	}
	return app
}

// resp is an answer with its body read.
type resp struct {
	*http.Response
	body string
}

func (f *fixture) do(req *http.Request) resp {
	f.t.Helper()
	res, err := f.app.Test(req, -1)
	if err != nil {
		f.t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	return resp{res, string(b)}
}

// get sends a GET as p (nil: anonymous).
func (f *fixture) get(p *bo.Principal, path string) resp {
	f.t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	if p != nil {
		req.Header.Set("Cookie", "af_staff="+p.SessionID)
	}
	return f.do(req)
}

// post sends a form as p with p's CSRF token (nil: anonymous, none).
func (f *fixture) post(p *bo.Principal, path string, form url.Values) resp {
	f.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if p != nil && form.Get("_csrf") == "" {
		form.Set("_csrf", p.CSRF)
	}
	req := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if p != nil {
		req.Header.Set("Cookie", "af_staff="+p.SessionID)
	}
	return f.do(req)
}

func (r resp) want(t *testing.T, status int, contains ...string) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("status %d, want %d\n%s", r.StatusCode, status, clip(r.body))
	}
	for _, s := range contains {
		if !strings.Contains(r.body, s) {
			t.Errorf("body lacks %q\n%s", s, clip(r.body))
		}
	}
}

func clip(s string) string {
	if len(s) > 3000 {
		return s[:3000] + "…"
	}
	return s
}

var versionRe = regexp.MustCompile(`name="version" value="(\d+)"`)

// caseVersion reads the version the case view's forms carry.
func (f *fixture) caseVersion(p *bo.Principal, ref string) string {
	f.t.Helper()
	r := f.get(p, "/backoffice/cases/"+ref)
	m := versionRe.FindStringSubmatch(r.body)
	if m == nil {
		f.t.Fatalf("no version on the case view of %s\n%s", ref, clip(r.body))
	}
	return m[1]
}
