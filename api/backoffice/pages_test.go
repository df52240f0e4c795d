package backoffice_test

import (
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/api/apitest"
	bo "github.com/amtsform/amtsform/api/backoffice"
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/directory"
	"github.com/amtsform/amtsform/engine/record"
)

var (
	csrfRe   = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)
	cookieRe = regexp.MustCompile(`af_csrf=([^;]+)`)
)

// loginForm fetches the sign-in page and returns its CSRF cookie and token.
func (f *fixture) loginForm(t *testing.T) (cookie, token string) {
	t.Helper()
	r := f.get(nil, "/backoffice/login")
	r.want(t, 200, `action="/backoffice/login"`, `autocomplete="current-password"`)
	m := cookieRe.FindStringSubmatch(r.Header.Get("Set-Cookie"))
	tk := csrfRe.FindStringSubmatch(r.body)
	if m == nil || tk == nil {
		t.Fatalf("no CSRF cookie or token: %q", r.Header.Get("Set-Cookie"))
	}
	return m[1], tk[1]
}

func (f *fixture) login(t *testing.T, form url.Values, cookie string) resp {
	t.Helper()
	req := httptest.NewRequest("POST", "/backoffice/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if cookie != "" {
		req.Header.Set("Cookie", "af_csrf="+cookie)
	}
	return f.do(req)
}

func TestLogin(t *testing.T) {
	f := newFixture(t)
	cookie, token := f.loginForm(t)
	wrong := "Benutzername oder Passwort ist falsch."
	f.w.locked["bernd"] = true
	f.w.users["dirk"].Disabled = true
	for _, tc := range []struct {
		name, user, pass string
		status           int
		want             string
	}{
		{"empty", "", "", 422, "Geben Sie Ihren Benutzernamen ein."},
		{"wrong password", "anna", "nope", 401, wrong},
		{"unknown user", "zora", "nope", 401, wrong},
		{"disabled user", "dirk", "dirk-pw", 401, wrong},
		{"locked", "bernd", "bernd-pw", 429, "vorübergehend gesperrt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.login(t, url.Values{"_csrf": {token}, "username": {tc.user}, "password": {tc.pass}}, cookie)
			r.want(t, tc.status, tc.want, `class="error-summary"`, `aria-invalid="true"`)
			if strings.Contains(r.body, tc.pass+`"`) && tc.pass != "" {
				t.Error("the password is shown again")
			}
		})
	}
	t.Run("no CSRF token", func(t *testing.T) {
		f.login(t, url.Values{"username": {"anna"}, "password": {"anna-pw"}}, cookie).want(t, 403)
	})
	t.Run("signs in and goes on", func(t *testing.T) {
		r := f.login(t, url.Values{"_csrf": {token}, "username": {"anna"}, "password": {"anna-pw"}, "next": {"/backoffice/cases/" + refA1}}, cookie)
		r.want(t, 303)
		if loc := r.Header.Get("Location"); loc != "/backoffice/cases/"+refA1 {
			t.Errorf("Location %q", loc)
		}
		ck := r.Header.Get("Set-Cookie")
		for _, want := range []string{"af_staff=sess-", "HttpOnly", "SameSite=Lax", "path=/backoffice"} {
			if !strings.Contains(ck, want) {
				t.Errorf("Set-Cookie %q lacks %q", ck, want)
			}
		}
	})
	t.Run("next may not leave the back office", func(t *testing.T) {
		for _, next := range []string{"https://evil.example/", "//evil.example/", "/backoffice/\\evil", "/musterstadt/"} {
			r := f.login(t, url.Values{"_csrf": {token}, "username": {"anna"}, "password": {"anna-pw"}, "next": {next}}, cookie)
			if loc := r.Header.Get("Location"); loc != "/backoffice/" {
				t.Errorf("next %q: Location %q", next, loc)
			}
		}
	})
	t.Run("English", func(t *testing.T) {
		f.get(nil, "/backoffice/login?lang=en").want(t, 200, `lang="en"`, "Sign in to the back office", "Sign in with your work account")
	})
}

func TestSecureCookie(t *testing.T) {
	f := newFixture(t)
	d := deps(f.w)
	d.Cookies.Secure = true
	f.app = newAppDeps(t, d)
	cookie, token := f.loginForm(t)
	r := f.login(t, url.Values{"_csrf": {token}, "username": {"anna"}, "password": {"anna-pw"}}, cookie)
	r.want(t, 303)
	if ck := r.Header.Get("Set-Cookie"); !strings.Contains(ck, "secure") {
		t.Errorf("Set-Cookie %q is not Secure", ck)
	}
}

func TestLogout(t *testing.T) {
	f := newFixture(t)
	anna := f.w.session("anna")
	f.post(anna, "/backoffice/logout", nil).want(t, 200, "Sie sind abgemeldet.")
	if r := f.get(anna, "/backoffice/"); r.StatusCode != 303 {
		t.Errorf("after logout: %d, want 303", r.StatusCode)
	}
	// a wrong CSRF token does not sign out
	bernd := f.w.session("bernd")
	f.post(bernd, "/backoffice/logout", url.Values{"_csrf": {"forged"}}).want(t, 403, "Das Formular ist abgelaufen")
	f.get(bernd, "/backoffice/").want(t, 200)
}

func TestOIDC(t *testing.T) {
	f := newFixture(t)
	f.get(nil, "/backoffice/login").want(t, 200, "Mit Dienstkonto anmelden (", `href="/backoffice/oidc/musterstadt/start?next=%2Fbackoffice%2F"`)
	f.get(nil, "/backoffice/oidc/kelkheim/start").want(t, 404)
	f.get(nil, "/backoffice/oidc/nowhere/start").want(t, 404)

	start := f.get(nil, "/backoffice/oidc/musterstadt/start?next=/backoffice/cases/"+refA1)
	start.want(t, 303)
	loc, _ := url.Parse(start.Header.Get("Location"))
	state := loc.Query().Get("state")
	ck := start.Header.Get("Set-Cookie")
	m := regexp.MustCompile(`af_bo_oidc=([^;]+)`).FindStringSubmatch(ck)
	if state == "" || m == nil || !strings.Contains(ck, "HttpOnly") || !strings.Contains(ck, "max-age=600") {
		t.Fatalf("start: Location %q, Set-Cookie %q", loc, ck)
	}
	callback := func(query, cookie string) resp {
		req := httptest.NewRequest("GET", "/backoffice/oidc/musterstadt/callback?"+query, nil)
		if cookie != "" {
			req.Header.Set("Cookie", "af_bo_oidc="+cookie)
		}
		return f.do(req)
	}
	callback("code=good&state=forged", m[1]).want(t, 400, "Anmeldung fehlgeschlagen")
	callback("code=good&state="+state, "").want(t, 400)
	callback("code=good&state="+state, m[1]+"x").want(t, 400)
	callback("error=access_denied&state="+state, m[1]).want(t, 401)
	callback("code=bad&state="+state, m[1]).want(t, 401)
	r := callback("code=good&state="+state, m[1])
	r.want(t, 303)
	if got := r.Header.Get("Location"); got != "/backoffice/cases/"+refA1 {
		t.Errorf("Location %q", got)
	}
	if cks := strings.Join(r.Header.Values("Set-Cookie"), "\n"); !strings.Contains(cks, "af_staff=") {
		t.Errorf("no session cookie: %q", cks)
	}
	last := f.w.oidcCalls[len(f.w.oidcCalls)-1]
	if parts := strings.Split(last, "|"); len(parts) != 3 || parts[1] == "" || parts[2] == "" || parts[1] == parts[2] {
		t.Errorf("Finish got code|verifier|nonce %q", last)
	}
}

func TestInbox(t *testing.T) {
	f := newFixture(t)
	anna := f.w.session("anna")
	working, initial := f.wf.title(f.kita, f.wf.working, "de"), f.wf.title(f.kita, f.wf.initial, "de")
	t.Run("my cases", func(t *testing.T) {
		r := f.get(anna, "/backoffice/")
		r.want(t, 200, "<caption", "Meine Vorgänge: 1 Vorgang", refA2, `<th scope="col">Frist</th>`, "überfällig", working, "Anna Adler", "Dringend", `aria-current="page"`)
		if strings.Contains(r.body, refA1) || strings.Contains(r.body, refB1) {
			t.Error("my cases lists others' cases")
		}
		if strings.Contains(r.body, `id="assignee"`) {
			t.Error("my cases offers an assignee filter, which cannot apply there")
		}
	})
	t.Run("assignee filter", func(t *testing.T) {
		// In office A's inbox: its caseworker Bernd; not Dirk (office B),
		// not the auditor Clara, not Emil (another tenant); whoever the
		// filter names stays named.
		r := f.get(anna, "/backoffice/office/"+officeA)
		r.want(t, 200, `<option value="bernd">Bernd Berger</option>`)
		for _, other := range []string{`value="dirk"`, `value="clara"`, `value="emil"`, `value="anna"`} {
			if strings.Contains(r.body, other) {
				t.Errorf("the assignee filter offers %s", other)
			}
		}
		f.get(anna, "/backoffice/office/"+officeA+"?assignee=dirk").want(t, 200, `<option value="dirk" selected>Dirk Dahl</option>`)
	})
	t.Run("office", func(t *testing.T) {
		r := f.get(anna, "/backoffice/office/"+officeA)
		r.want(t, 200, refA1, refA2, initial+": <strong>1</strong>", working+": <strong>1</strong>", "nicht zugewiesen", "Übernahme von Kita-Gebühren")
		if strings.Contains(r.body, refB1) || strings.Contains(r.body, refK1) {
			t.Error("the office inbox lists another office's or tenant's case")
		}
		f.get(anna, "/backoffice/office/"+officeB).want(t, 404)
	})
	for _, tc := range []struct {
		query       string
		want, avoid []string
	}{
		{"q=kita-2026-000001", []string{refA1}, []string{refA2}},
		{"status=" + f.wf.working, []string{refA2}, []string{refA1}},
		{"overdue=1", []string{refA2}, []string{refA1}},
		{"assignee=-", []string{refA1}, []string{refA2}},
		{"assignee=me", []string{refA2}, []string{refA1}},
		{"service=hundesteuer", []string{"Keine Vorgänge gefunden."}, []string{refA1, refA2}},
		{"from=2026-11-28", []string{refA1}, []string{refA2}},
		{"to=2026-11-20", []string{refA2}, []string{refA1}},
		{"sort=-age", []string{refA1}, nil},
	} {
		t.Run(tc.query, func(t *testing.T) {
			r := f.get(anna, "/backoffice/office/"+officeA+"?"+tc.query)
			r.want(t, 200, tc.want...)
			for _, a := range tc.avoid {
				if strings.Contains(r.body, ">"+a+"<") {
					t.Errorf("lists %s", a)
				}
			}
		})
	}
	t.Run("sort", func(t *testing.T) {
		r := f.get(anna, "/backoffice/office/"+officeA+"?sort=-age")
		if strings.Index(r.body, ">"+refA1+"<") > strings.Index(r.body, ">"+refA2+"<") {
			t.Error("newest first: A1 should come before A2")
		}
		r = f.get(anna, "/backoffice/office/"+officeA)
		if strings.Index(r.body, ">"+refA1+"<") < strings.Index(r.body, ">"+refA2+"<") {
			t.Error("oldest first: A2 should come before A1")
		}
	})
	t.Run("bad date", func(t *testing.T) {
		r := f.get(anna, "/backoffice/office/"+officeA+"?from=31.02.2026")
		r.want(t, 422, `class="error-summary"`, `href="#from"`, `aria-invalid="true"`, `aria-describedby="from-error"`, refA1)
	})
	t.Run("pagination", func(t *testing.T) {
		for i := 0; i < 30; i++ {
			sub := *f.w.cases["musterstadt/"+refA1]
			sub.Ref = "KITA-2026-1" + strings.Repeat("0", 4-len(itoa(i))) + itoa(i)
			f.w.addCase(&sub, nil)
		}
		r := f.get(anna, "/backoffice/office/"+officeA)
		r.want(t, 200, "32 Vorgänge, Seite 1 von 2", `rel="next"`, `href="/backoffice/office/`+officeA+`?page=2"`)
		r = f.get(anna, "/backoffice/office/"+officeA+"?page=2")
		r.want(t, 200, "Seite 2 von 2", `rel="prev"`)
	})
	t.Run("English", func(t *testing.T) {
		f.get(anna, "/backoffice/?lang=en").want(t, 200, "My cases: 1 case", "overdue", f.wf.title(f.kita, f.wf.working, "en"), "Urgent")
	})
}

func itoa(i int) string {
	return strings.TrimSpace(strings.Replace(string(rune('0'+i/10))+string(rune('0'+i%10)), "\x00", "", -1))
}

func TestCaseView(t *testing.T) {
	f := newFixture(t)
	anna := f.w.session("anna")
	r := f.get(anna, "/backoffice/cases/"+refA1)
	r.want(t, 200,
		"Vorgang "+refA1, "Übernahme von Kita-Gebühren",
		"Jürgen", "Müßig", // answers
		"berechnet", // a computed value
		`href="/backoffice/cases/`+refA1+`/attachments/att-income-0001"`, "Einkommensnachweis März.pdf",
		`href="/backoffice/cases/`+refA1+`/receipt.pdf"`,
		"Mir zuweisen", `name="version" value="1"`,
		`value="`+f.wf.start.ID+`"`, f.wf.start.Title.De, f.wf.withdraw.Title.De, // the actions of this state
		"Verlauf", "Eingegangen",
		`action="/backoffice/cases/`+refA1+`/note"`, `action="/backoffice/cases/`+refA1+`/schedule"`,
		`action="/backoffice/cases/`+refA1+`/assign"`, "Bernd Berger",
	)
	if strings.Contains(r.body, `value="`+f.wf.later.ID+`"`) || strings.Contains(r.body, "/documents\"") {
		t.Error("offers an action the state does not allow")
	}
	if strings.Contains(r.body, `<option value="dirk"`) {
		t.Error("offers the case to a caseworker of another office")
	}
	if got := f.w.audit[len(f.w.audit)-1]; got.Action != "case.viewed" || got.Object != refA1 {
		t.Errorf("last audit entry %+v", got)
	}
	t.Run("document request form", func(t *testing.T) {
		r := f.get(anna, "/backoffice/cases/"+refA2)
		r.want(t, 200, `action="/backoffice/cases/`+refA2+`/documents"`, `value="incomeProof"`, f.wf.docs.Title.De, `name="deadline" value="2026-12-15"`)
		if strings.Contains(r.body, `name="transition" value="`+f.wf.docs.ID+`"`) {
			t.Error("the document request is offered as a plain workflow step too")
		}
	})
	t.Run("auditor reads only", func(t *testing.T) {
		r := f.get(f.w.session("clara"), "/backoffice/cases/"+refA1)
		r.want(t, 200, "Sie können diesen Vorgang nur lesen.", "Jürgen")
		if strings.Contains(r.body, "<form method=\"post\" action=\"/backoffice/cases/") {
			t.Error("the auditor gets action forms")
		}
	})
	t.Run("English", func(t *testing.T) {
		f.get(anna, "/backoffice/cases/"+refA1+"?lang=en").want(t, 200, "Case "+refA1, "Assign to me", f.wf.start.Title.En, "History")
	})
	f.get(anna, "/backoffice/cases/KITA-2026-999999").want(t, 404, "Nicht gefunden")
}

func TestAttachmentAndReceipt(t *testing.T) {
	f := newFixture(t)
	anna := f.w.session("anna")
	r := f.get(anna, "/backoffice/cases/"+refA1+"/attachments/att-income-0001")
	r.want(t, 200, "%PDF-1.4")
	if ct := r.Header.Get("Content-Type"); ct != "application/pdf" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := r.Header.Get("Content-Disposition"); cd != `attachment; filename="Einkommensnachweis M_rz.pdf"; filename*=UTF-8''Einkommensnachweis%20M%C3%A4rz.pdf` {
		t.Errorf("Content-Disposition %q", cd)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	if got := f.w.audit[len(f.w.audit)-1]; got.Action != "attachment.downloaded" {
		t.Errorf("last audit entry %+v", got)
	}
	f.get(anna, "/backoffice/cases/"+refA1+"/attachments/nope").want(t, 404)
	f.get(anna, "/backoffice/cases/"+refA2+"/attachments/att-income-0001").want(t, 404)

	r = f.get(anna, "/backoffice/cases/"+refA1+"/receipt.pdf")
	r.want(t, 200, "%PDF-")
	if ct, cd := r.Header.Get("Content-Type"), r.Header.Get("Content-Disposition"); ct != "application/pdf" || !strings.Contains(cd, "attachment") {
		t.Errorf("receipt: %q %q", ct, cd)
	}
}

func TestClaimAndConflict(t *testing.T) {
	f := newFixture(t)
	anna, bernd := f.w.session("anna"), f.w.session("bernd")
	v := f.caseVersion(bernd, refA1) // bernd looks at the case
	r := f.post(anna, "/backoffice/cases/"+refA1+"/claim", url.Values{"version": {f.caseVersion(anna, refA1)}})
	r.want(t, 303)
	if loc := r.Header.Get("Location"); loc != "/backoffice/cases/"+refA1+"?done=claim" {
		t.Errorf("Location %q", loc)
	}
	f.get(anna, "/backoffice/cases/"+refA1+"?done=claim").want(t, 200, `role="status"`, "Der Vorgang ist Ihnen zugewiesen.")
	// bernd claims with what he saw: someone was quicker
	r = f.post(bernd, "/backoffice/cases/"+refA1+"/claim", url.Values{"version": {v}})
	r.want(t, 409, "Dieser Vorgang wurde soeben von Anna Adler übernommen.", `href="/backoffice/cases/`+refA1+`"`)
	if f.w.cases["musterstadt/"+refA1].Assignee != "anna" {
		t.Error("the claim was overridden")
	}
	// a stale version on any other action
	r = f.post(bernd, "/backoffice/cases/"+refA1+"/transition", url.Values{"version": {v}, "transition": {f.wf.start.ID}})
	r.want(t, 409, "Dieser Vorgang wurde soeben von Anna Adler geändert.", "Zurück zum Vorgang")
	f.post(bernd, "/backoffice/cases/"+refA1+"/claim", url.Values{}).want(t, 400)
}

func TestActions(t *testing.T) {
	f := newFixture(t)
	anna := f.w.session("anna")
	base := "/backoffice/cases/" + refA1
	ver := func() string { return f.caseVersion(anna, refA1) }

	t.Run("transition", func(t *testing.T) {
		start := f.wf.start
		f.post(anna, base+"/transition", url.Values{"version": {ver()}, "transition": {start.ID}}).want(t, 303)
		if st := f.w.cases["musterstadt/"+refA1].Status; st != f.wf.working {
			t.Fatalf("status %q", st)
		}
		working, initial := f.wf.title(f.kita, f.wf.working, "de"), f.wf.title(f.kita, f.wf.initial, "de")
		f.get(anna, base).want(t, 200, working, `value="`+f.wf.commented.ID+`"`, start.Title.De+"</strong>", "von „"+initial+"“ nach „"+working+"“")
		// a step the state no longer allows
		f.post(anna, base+"/transition", url.Values{"version": {ver()}, "transition": {start.ID}}).want(t, 422, "nicht möglich")
	})
	t.Run("comment required", func(t *testing.T) {
		id := f.wf.commented.ID
		r := f.post(anna, base+"/transition", url.Values{"version": {ver()}, "transition": {id}, "commentRequired": {"1"}})
		r.want(t, 422, `class="error-summary"`, `href="#action-`+id+`-comment"`, "Geben Sie eine Begründung ein.", `aria-describedby="action-`+id+`-comment-error"`)
		// casework says so too when the form did not
		r = f.post(anna, base+"/transition", url.Values{"version": {ver()}, "transition": {id}})
		r.want(t, 422, "Geben Sie eine Begründung ein.")
	})
	t.Run("note", func(t *testing.T) {
		f.post(anna, base+"/note", url.Values{"text": {"  "}}).want(t, 422, `href="#note-text"`, "Geben Sie den Text der Notiz ein.")
		f.post(anna, base+"/note", url.Values{"text": {strings.Repeat("x", 4001)}}).want(t, 422, "höchstens 4000 Zeichen")
		f.post(anna, base+"/note", url.Values{"text": {"Rückruf am Montag"}}).want(t, 303)
		f.get(anna, base).want(t, 200, "Interne Notizen", "Rückruf am Montag")
	})
	t.Run("schedule", func(t *testing.T) {
		f.post(anna, base+"/schedule", url.Values{"version": {ver()}, "due": {"2026-13-01"}, "followUp": {"x"}, "priority": {"7"}}).
			want(t, 422, `href="#schedule-due"`, `href="#schedule-followup"`, `href="#schedule-priority-0"`, `value="2026-13-01"`)
		f.post(anna, base+"/schedule", url.Values{"version": {ver()}, "due": {"2026-12-24"}, "followUp": {"2026-12-10"}, "priority": {"1"}}).want(t, 303)
		s := f.w.cases["musterstadt/"+refA1]
		if s.Priority != 1 || s.Due.Format("2006-01-02") != "2026-12-24" || s.FollowUp.IsZero() {
			t.Errorf("scheduled %+v", s)
		}
		f.get(anna, base).want(t, 200, "24.12.2026", "10.12.2026", "Hoch", `value="2026-12-24"`)
		// empty dates clear them
		f.post(anna, base+"/schedule", url.Values{"version": {ver()}, "due": {""}, "followUp": {""}, "priority": {"0"}}).want(t, 303)
		if s := f.w.cases["musterstadt/"+refA1]; !s.Due.IsZero() || !s.FollowUp.IsZero() {
			t.Error("empty dates did not clear")
		}
	})
	t.Run("documents", func(t *testing.T) {
		r := f.post(anna, base+"/documents", url.Values{"version": {ver()}, "deadline": {"2026-11-01"}})
		r.want(t, 422, `href="#docs-field-0"`, `href="#docs-message"`, "Die Frist muss in der Zukunft liegen.")
		f.post(anna, base+"/documents", url.Values{"version": {ver()}, "fields": {"incomeProof"}, "message": {"Bitte den Nachweis."}, "deadline": {"2026-12-20"}}).want(t, 303)
		f.get(anna, base).want(t, 200, "Nachgeforderte Unterlagen", "Bitte den Nachweis.", "20.12.2026", "offen")
	})
	t.Run("assign", func(t *testing.T) {
		f.post(anna, base+"/assign", url.Values{"version": {ver()}, "to": {"mallory"}}).want(t, 422, `href="#assign-to"`)
		f.post(anna, base+"/assign", url.Values{"version": {ver()}, "to": {"bernd"}}).want(t, 303)
		if a := f.w.cases["musterstadt/"+refA1].Assignee; a != "bernd" {
			t.Errorf("assignee %q", a)
		}
	})
	t.Run("not a form", func(t *testing.T) {
		req := httptest.NewRequest("POST", base+"/note", strings.NewReader(`{"text":"x"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Cookie", "af_staff="+anna.SessionID)
		if r := f.do(req); r.StatusCode != 415 {
			t.Errorf("JSON post: %d", r.StatusCode)
		}
	})
	t.Run("cross origin", func(t *testing.T) {
		form := url.Values{"_csrf": {anna.CSRF}, "text": {"x"}}
		req := httptest.NewRequest("POST", base+"/note", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Cookie", "af_staff="+anna.SessionID)
		if r := f.do(req); r.StatusCode != 403 {
			t.Errorf("cross-origin post: %d", r.StatusCode)
		}
	})
}

func TestAudit(t *testing.T) {
	f := newFixture(t)
	anna, clara := f.w.session("anna"), f.w.session("clara")
	f.get(anna, "/backoffice/cases/"+refA1) // one entry
	f.get(anna, "/backoffice/audit").want(t, 403)
	f.get(anna, "/backoffice/audit/export?format=csv").want(t, 403)
	f.get(clara, "/backoffice/audit").want(t, 200, "<caption", "case.viewed", refA1, "Anna Adler", `href="/backoffice/audit/export?format=csv"`, `href="/backoffice/audit/export?format=ndjson"`)
	r := f.get(clara, "/backoffice/audit/export?format=csv")
	r.want(t, 200, "case.viewed,"+refA1)
	if r.Header.Get("Content-Type") != "text/csv; charset=utf-8" || !strings.Contains(r.Header.Get("Content-Disposition"), "audit-musterstadt.csv") {
		t.Errorf("csv headers %v", r.Header)
	}
	r = f.get(clara, "/backoffice/audit/export?format=ndjson")
	r.want(t, 200, `"Action":"case.viewed"`)
	if r.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Errorf("ndjson Content-Type %q", r.Header.Get("Content-Type"))
	}
	f.get(clara, "/backoffice/audit/export?format=xml").want(t, 404)
	// pages of 50
	for i := 0; i < 60; i++ {
		f.w.record(bo.Actor{ID: "anna", Tenant: "musterstadt"}, "case.viewed", refA2)
	}
	f.get(clara, "/backoffice/audit").want(t, 200, `href="/backoffice/audit?after=50"`)
	f.get(clara, "/backoffice/audit?after=50").want(t, 200, `href="/backoffice/audit"`, ">61<")
	f.get(clara, "/backoffice/audit?lang=en").want(t, 200, "Audit trail")
}

func TestNotFoundPage(t *testing.T) {
	f := newFixture(t)
	f.get(f.w.session("anna"), "/backoffice/nowhere").want(t, 404, "Nicht gefunden", "Amtsform Backoffice")
}

func TestLoginRateLimit(t *testing.T) {
	f := newFixture(t)
	d := deps(f.w)
	d.LoginRate = 2
	f.app = newAppDeps(t, d)
	cookie, token := f.loginForm(t)
	for i, want := range []int{401, 401, 429} {
		r := f.login(t, url.Values{"_csrf": {token}, "username": {"anna"}, "password": {"nope"}}, cookie)
		if r.StatusCode != want {
			t.Errorf("attempt %d: %d, want %d", i+1, r.StatusCode, want)
		}
	}
}

func TestRegisterChecksDeps(t *testing.T) {
	w := newWorld(func() time.Time { return now }, nil)
	for name, change := range map[string]func(*bo.Deps){
		"no cases":     func(d *bo.Deps) { d.Cases = nil },
		"no staff":     func(d *bo.Deps) { d.Staff = nil },
		"short secret": func(d *bo.Deps) { d.Secret = []byte("short") },
	} {
		d := deps(w)
		change(&d)
		if err := bo.Register(fiber.New(), d); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestFollowUpDue(t *testing.T) {
	f := newFixture(t)
	f.w.cases["musterstadt/"+refA2].FollowUp = now.Add(-time.Hour)
	f.get(f.w.session("anna"), "/backoffice/").want(t, 200, "wieder vorgelegt")
}

func TestAdminSeesEveryOffice(t *testing.T) {
	f := newFixture(t)
	inst, err := engine.LoadInstallation(filepath.Join(apitest.ExamplesDir(), "installation"))
	if err != nil {
		t.Fatal(err)
	}
	d := deps(f.w)
	d.Directory = directory.New(inst)
	f.app = newAppDeps(t, d)
	f.w.addUser(&bo.User{ID: "ida", Tenant: "musterstadt", Name: "Ida Imhof", Roles: []string{"admin"}}, "ida-pw")
	ida := f.w.session("ida")
	r := f.get(ida, "/backoffice/office/"+officeB)
	r.want(t, 200, refB1, "Kinder- und Jugendbüro der Stadt Hofheim am Taunus", "Jugendamt des Main-Taunus-Kreises", "Musterstadt")
	f.get(ida, "/backoffice/cases/"+refA1).want(t, 200, "Mir zuweisen")
	f.get(ida, "/backoffice/cases/"+refK1).want(t, 404)
	// a caseworker's nav lists only their own offices
	if r := f.get(f.w.session("anna"), "/backoffice/"); strings.Contains(r.body, "/backoffice/office/"+officeB) {
		t.Error("a caseworker of office A is offered office B")
	}
}

// Two cases of two versions of the same service: each row of the inbox
// and each case page shows the version the case was submitted under,
// the case page with its hash abbreviated (issue 13).
func TestCaseShowsItsVersion(t *testing.T) {
	f := newFixture(t)
	anna := f.w.session("anna")
	v2 := *f.kita
	v2.Version, v2.Hash = "2.0.0", "sha256:"+strings.Repeat("2b", 32)
	f.w.services = append(f.w.services, &v2)
	const refV2 = "KITA-2026-000005"
	old := f.w.cases["musterstadt/"+refA1]
	f.w.addCase(&bo.Submission{Ref: refV2, Tenant: "musterstadt", Service: record.ServiceRef{ID: v2.ID, Version: v2.Version, Hash: v2.Hash},
		Data: old.Data, Computed: old.Computed, Office: officeA, Status: f.wf.initial, Created: now.Add(-time.Hour)}, nil)
	if f.kita.Version == v2.Version || old.Service.Hash != f.kita.Hash {
		t.Fatalf("fixture: v1 is %s %s", f.kita.Version, old.Service.Hash)
	}
	title := f.kita.Form.Title.De

	body := f.get(anna, "/backoffice/office/"+officeA).body
	row := func(ref string) string {
		i := strings.Index(body, ">"+ref+"<")
		if i < 0 {
			t.Fatalf("the inbox does not list %s", ref)
		}
		j := strings.Index(body[i:], "</tr>")
		return body[i : i+j]
	}
	if r := row(refA1); !strings.Contains(r, "<td>"+title+" "+f.kita.Version+"</td>") {
		t.Errorf("v1 row %q: want %q", r, title+" "+f.kita.Version)
	}
	if r := row(refV2); !strings.Contains(r, "<td>"+title+" 2.0.0</td>") {
		t.Errorf("v2 row %q: want %q", r, title+" 2.0.0")
	}

	short := func(h string) string { return strings.TrimPrefix(h, "sha256:")[:12] }
	r := f.get(anna, "/backoffice/cases/"+refA1)
	r.want(t, 200, title+" "+f.kita.Version+" ", `<code title="`+f.kita.Hash+`">`+short(f.kita.Hash)+"</code>")
	r = f.get(anna, "/backoffice/cases/"+refV2)
	r.want(t, 200, title+" 2.0.0 ", `<code title="`+v2.Hash+`">`+short(v2.Hash)+"</code>")
	if strings.Contains(r.body, short(f.kita.Hash)) {
		t.Error("the v2 case page shows v1's hash")
	}
}
