package api

// End-to-end walks through the back office on the real stack: api.New
// with casework, staff sign-in and the audit log on the embedded store,
// over a real loopback listener, with the citizens' mails delivered to a
// real SMTP server on loopback (mail/smtptest) and read back from it.

import (
	"bytes"
	"context"
	"maps"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amtsform/amtsform/api/apitest"
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/audit"
	"github.com/amtsform/amtsform/engine/casework"
	"github.com/amtsform/amtsform/engine/directory"
	"github.com/amtsform/amtsform/engine/mongostore"
	"github.com/amtsform/amtsform/engine/record"
	"github.com/amtsform/amtsform/engine/staff"
	"github.com/amtsform/amtsform/mail"
	"github.com/amtsform/amtsform/mail/smtptest"
)

// boStack is the whole server with the back office switched on.
type boStack struct {
	*testServer
	base  string
	smtp  *smtptest.Server
	staff *staff.Staff
	work  *casework.Work
	audit *audit.Log
	dir   *directory.Directory
	// offset moves the clock of the whole stack (intake, casework, staff
	// sign-in, back office, staff API) away from the real time.
	offset atomic.Int64
}

// now is the stack's clock: the real time plus the offset.
func (st *boStack) now() time.Time { return time.Now().Add(time.Duration(st.offset.Load())) }

// advance moves the stack's clock forward by d.
func (st *boStack) advance(d time.Duration) { st.offset.Add(int64(d)) }

// cheapArgon2 keeps the password hashing of the tests quick; the
// production parameters are covered in engine/staff.
var cheapArgon2 = staff.Argon2Params{Memory: 64, Time: 1, Threads: 1}

// newBackofficeStack serves the examples of the demo installation's
// Musterstadt with its directory, casework mailing through a loopback
// SMTP server, staff sign-in and the audit log, on a listener whose
// address is the public URL (links in mails, the origin of posts).
func newBackofficeStack(t testing.TB, opts ...func(*Config)) *boStack {
	t.Helper()
	inst, err := engine.LoadInstallation(filepath.Join(apitest.ExamplesDir(), "installation"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	st := &boStack{base: "http://" + ln.Addr().String(), dir: directory.New(inst)}
	st.smtp = smtptest.Start(t, smtptest.Options{})
	mcfg, err := mail.ParseURL(st.smtp.URL("Musterstadt <noreply@musterstadt.example>"))
	if err != nil {
		t.Fatal(err)
	}
	mcfg.Timeout = 5 * time.Second
	mailer, err := mail.New(mcfg)
	if err != nil {
		t.Fatal(err)
	}
	st.testServer = newTestServer(t, withNow(st.now), withConfig(func(cfg *Config) {
		store := cfg.Intake.Store.(*mongostore.Store)
		cfg.Intake.Offices = st.dir
		st.audit = audit.New(store)
		st.staff = staff.New(store, staff.Options{Argon2: cheapArgon2, Logger: quietLog, Now: st.now,
			OnChange: func(ctx context.Context, c staff.Change) {
				if c.Tenant == "" {
					return
				}
				if err := st.audit.Record(ctx, record.AuditEntry{Tenant: c.Tenant, Actor: c.Actor, Action: c.Action,
					Object: c.Object, Addr: c.Addr, Detail: c.Detail}); err != nil {
					t.Errorf("audit %s: %v", c.Action, err)
				}
			}})
		st.work = casework.New(store, cfg.Intake.Catalog, st.dir, casework.Options{Audit: st.audit,
			Mail: mail.Notifier{Mailer: mailer}, PublicURL: st.base, Now: st.now, Logger: quietLog, Outbox: store, Colleagues: st.staff})
		cfg.Work, cfg.Staff, cfg.Audit = st.work, st.staff, st.audit
		cfg.Secret = []byte("backoffice-test-secret-0123456789")
		cfg.PublicURL = st.base
		cfg.Directory = st.dir
		cfg.Now = st.now
		for _, o := range opts {
			o(cfg)
		}
	}))
	st.baseOnce.Do(func() {
		go func() { _ = st.app.Listener(ln) }()
		st.testServer.base = st.base
	})
	return st
}

// addUser creates a local caseworker of offices.
func (st *boStack) addUser(t testing.TB, id, name string, offices []string, deputies ...staff.Deputy) {
	t.Helper()
	ctx := staff.WithActor(context.Background(), "cli", "")
	if _, err := st.staff.AddUser(ctx, staff.User{ID: id, Tenant: testTenant, Name: name, Roles: []string{record.RoleCaseworker}, Offices: offices}, id+"-password-123"); err != nil {
		t.Fatal(err)
	}
	if len(deputies) > 0 {
		if _, err := st.staff.SetDeputies(ctx, id, deputies); err != nil {
			t.Fatal(err)
		}
	}
}

// submitKita hands in a Kita application through the JSON API with the
// citizen's e-mail address; postal code 60… routes it to Frankfurt,
// others to the Main-Taunus district.
func (st *boStack) submitKita(t *testing.T, postalCode string) submissionJSON {
	t.Helper()
	doc := apitest.KitaData()
	doc["email"] = "erika@example.org"
	doc["address"].(map[string]any)["postalCode"] = postalCode
	delete(doc, "coveredFee") // computed by the server
	c := &client{t: t, base: st.base + "/api/v1/" + testTenant, http: &http.Client{Timeout: 30 * time.Second}}
	var sub submissionJSON
	c.expect(c.do("POST", "/services/kita-gebuehren/submissions", doc), 201, &sub)
	if sub.Reference == "" || sub.StatusSecret == "" {
		t.Fatalf("submission %+v", sub)
	}
	return sub
}

// staffBrowser is a browser whose posts carry the site's Origin, as a
// real browser's form posts do.
type staffBrowser struct{ *browser }

func newStaffBrowser(t *testing.T, base string) *staffBrowser {
	return &staffBrowser{newBrowser(t, base)}
}

func (b *staffBrowser) post(u string, form url.Values) page {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.abs(u), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.base)
	return b.do(req)
}

func (b *staffBrowser) postMultipart(u string, form url.Values, fileField, fileName string, content []byte) page {
	b.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, vs := range form {
		for _, v := range vs {
			_ = w.WriteField(k, v)
		}
	}
	fw, _ := w.CreateFormFile(fileField, fileName)
	_, _ = fw.Write(content)
	_ = w.Close()
	req, _ := http.NewRequest("POST", b.abs(u), &buf)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Origin", b.base)
	return b.do(req)
}

// signIn signs in at /backoffice/login with the CSRF token of the form.
func (b *staffBrowser) signIn(user string) {
	b.t.Helper()
	p := b.get("/backoffice/login")
	p.must(b.t, 200, "/backoffice/login", `name="username"`)
	p = b.post("/backoffice/login", vals("_csrf", p.csrf(b.t), "next", "/backoffice/", "username", user, "password", user+"-password-123"))
	p.must(b.t, 200, "/backoffice/", "Meine Vorgänge")
}

var versionRE = regexp.MustCompile(`name="version" value="(\d+)"`)

// caseVersion is the case version the page's forms carry.
func caseVersion(t *testing.T, p page) string {
	t.Helper()
	m := versionRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no case form on %s:\n%s", p.url, p.body)
	}
	return m[1]
}

// act posts an action form of the case page p.
func (b *staffBrowser) act(p page, action string, kv ...string) page {
	b.t.Helper()
	form := vals(append([]string{"_csrf", p.csrf(b.t), "version", caseVersion(b.t, p)}, kv...)...)
	return b.post(p.url.Path+"/"+action, form)
}

// mail waits for the n-th mail (from 1) the SMTP server received.
func (st *boStack) mail(t *testing.T, n int) smtptest.Message {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		msgs := st.smtp.Messages()
		if len(msgs) >= n {
			return msgs[n-1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d mails delivered, want %d", len(msgs), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// history is the case's events without views and downloads, as
// "type/actor".
func (st *boStack) history(t *testing.T, ref string) string {
	t.Helper()
	evs, err := st.store.Events(context.Background(), testTenant, ref)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		if e.Type != record.EventViewed && e.Type != record.EventDownloaded {
			out = append(out, e.Type+"/"+e.Actor)
		}
	}
	return strings.Join(out, ",")
}

func (st *boStack) verifyAudit(t *testing.T) []record.AuditEntry {
	t.Helper()
	ctx := context.Background()
	rep, err := st.audit.Verify(ctx, testTenant)
	if err != nil || !rep.OK() {
		t.Fatalf("audit verify: %+v %v", rep, err)
	}
	entries, err := st.audit.List(ctx, testTenant, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

var linkRE = regexp.MustCompile(`http://127\.0\.0\.1:\d+/` + testTenant + `/nachreichen/\S+`)

// TestBackofficeKitaEndToEnd walks the Kita case: a citizen
// applies through the JSON API; caseworker A signs in, finds the case in
// the office's inbox, claims it, starts the review and asks for the proof
// of income; the citizen follows the link in the mail and uploads it; A
// prepares the decision and may not approve it (four-eyes); B approves;
// every mail is read back from the SMTP server, the history holds every
// step and the tenant's audit chain verifies.
func TestBackofficeKitaEndToEnd(t *testing.T) {
	st := newBackofficeStack(t)
	const office = "jugendamt-main-taunus"
	st.addUser(t, "anna.a", "Anna Arendt", []string{office})
	st.addUser(t, "bernd.b", "Bernd Brandt", []string{office})
	sub := st.submitKita(t, "65719")
	if sub.Office != office {
		t.Fatalf("routed to %s", sub.Office)
	}
	ref := sub.Reference

	// A signs in and finds the case in the office's inbox.
	a := newStaffBrowser(t, st.base)
	a.signIn("anna.a")
	inbox := a.get("/backoffice/office/" + office)
	inbox.must(t, 200, "/backoffice/office/"+office, ref, "Eingegangen")
	cp := a.get("/backoffice/cases/" + ref)
	cp.must(t, 200, "/backoffice/cases/"+ref, "Mir zuweisen", "Jürgen", "Eingegangen")
	// Both show the service version the case was submitted under, the
	// case page its hash abbreviated, as casework.Case pins it.
	cs, err := st.work.Case(context.Background(), casework.Actor{ID: "anna.a", Tenant: testTenant, Roles: []string{record.RoleCaseworker}, Offices: []string{office}}, ref)
	if err != nil {
		t.Fatal(err)
	}
	pinned := cs.Sub.Service
	if pinned.Version == "" || cs.Service.Version != pinned.Version || cs.Service.Hash != pinned.Hash {
		t.Fatalf("case pinned to %+v, service %s %s", pinned, cs.Service.Version, cs.Service.Hash)
	}
	title := cs.Service.Form.Title.De
	inbox.must(t, 200, "/backoffice/office/"+office, "<td>"+title+" "+pinned.Version+"</td>")
	cp.must(t, 200, "/backoffice/cases/"+ref, title+" "+pinned.Version+" ", `<code title="`+pinned.Hash+`">`+strings.TrimPrefix(pinned.Hash, "sha256:")[:12]+"</code>")

	// Claim ("Mir zuweisen"); the case is then in A's own list.
	cp = a.act(cp, "claim")
	cp.must(t, 200, "/backoffice/cases/"+ref, "Anna Arendt", `value="pruefen"`)
	if strings.Contains(cp.body, `id="claim"`) {
		t.Errorf("still offered to claim after the claim")
	}
	a.get("/backoffice/").must(t, 200, "/backoffice/", ref)

	// submitted → in review: the citizen is told by mail.
	cp = a.act(cp, "transition", "transition", "pruefen", "comment", "")
	cp.must(t, 200, "/backoffice/cases/"+ref, "In Prüfung")
	if m := st.mail(t, 1); m.Header("Subject") != "Ihr Antrag "+ref+" wird bearbeitet" || len(m.To) != 1 || m.To[0] != "erika@example.org" ||
		!strings.Contains(m.Text(), "Jugendamt des Main-Taunus-Kreises prüft jetzt Ihren Antrag "+ref) {
		t.Fatalf("review mail %q to %v:\n%s", m.Header("Subject"), m.To, m.Text())
	}

	// in review → documents requested, through "Unterlagen nachfordern".
	deadline := time.Now().In(berlinZone(t)).AddDate(0, 0, 14).Format("2006-01-02")
	cp = a.act(cp, "documents", "fields", "incomeProof", "message", "Bitte senden Sie den Steuerbescheid 2025.", "deadline", deadline)
	cp.must(t, 200, "/backoffice/cases/"+ref, "Unterlagen nachgefordert")
	m := st.mail(t, 2)
	if m.Header("Subject") != "Unterlagen für Ihren Antrag "+ref+" / Documents for your application "+ref {
		t.Fatalf("request mail %q", m.Header("Subject"))
	}
	body := m.Text()
	link := linkRE.FindString(body)
	if link == "" || !strings.Contains(body, "Einkommensnachweis") || !strings.Contains(body, "Bitte senden Sie den Steuerbescheid 2025.") {
		t.Fatalf("request mail:\n%s", body)
	}

	// The citizen follows the link and uploads the file as the page does.
	cz := newStaffBrowser(t, st.base)
	dp := cz.get(link)
	dp.must(t, 200, "", ref, "Einkommensnachweis", `enctype="multipart/form-data"`, `name="incomeProof"`)
	dp = cz.postMultipart(dp.action(t), vals("_csrf", dp.csrf(t)), "incomeProof", "Steuerbescheid 2025.pdf", tinyPDF())
	dp.must(t, 200, "")
	if strings.Contains(dp.body, `type="file"`) {
		t.Fatalf("the upload page still asks for files:\n%s", dp.body)
	}
	// The same link again: received, nothing more to upload.
	if again := cz.get(link); again.status != 200 || strings.Contains(again.body, `type="file"`) {
		t.Fatalf("link after the upload: %d\n%s", again.status, again.body)
	}

	// The case moved on (received → in review again) with the file.
	cp = a.get("/backoffice/cases/" + ref)
	cp.must(t, 200, "/backoffice/cases/"+ref, "In Prüfung", "Steuerbescheid 2025.pdf", "Unterlagen eingegangen: Prüfung fortsetzen</strong> – <bdi>Antragsteller/in</bdi>")

	// A prepares the decision (a comment is required) …
	refused := a.act(cp, "transition", "transition", "vorbereiten", "commentRequired", "1", "comment", "")
	refused.must(t, 422, "/backoffice/cases/"+ref+"/transition", "Geben Sie eine Begründung ein.")
	cp = a.act(cp, "transition", "transition", "vorbereiten", "commentRequired", "1", "comment", "Nachweis liegt vor; Bewilligung empfohlen.")
	cp.must(t, 200, "/backoffice/cases/"+ref, "Entscheidung vorbereitet")
	// … and is neither offered the approval nor may take it.
	if strings.Contains(cp.body, `value="bewilligen"`) {
		t.Errorf("the preparer is offered the approval")
	}
	refused = a.act(cp, "transition", "transition", "bewilligen", "comment", "")
	refused.must(t, 422, "/backoffice/cases/"+ref+"/transition", "Diesen Schritt muss eine andere Person ausführen als die, die ihn vorbereitet hat (Vier-Augen-Prinzip).")

	// B signs in and approves.
	b := newStaffBrowser(t, st.base)
	b.signIn("bernd.b")
	bp := b.get("/backoffice/cases/" + ref)
	bp.must(t, 200, "/backoffice/cases/"+ref, `value="bewilligen"`)
	bp = b.act(bp, "transition", "transition", "bewilligen", "comment", "")
	bp.must(t, 200, "/backoffice/cases/"+ref, "Bewilligt")

	final := st.mail(t, 3)
	if final.Header("Subject") != "Ihr Antrag "+ref+": Bewilligt" || !strings.Contains(final.Text(), "bewilligt") || !strings.Contains(final.Text(), "granted") {
		t.Fatalf("decision mail %q:\n%s", final.Header("Subject"), final.Text())
	}
	if n := len(st.smtp.Messages()); n != 3 {
		t.Errorf("%d mails, want 3", n)
	}

	want := "submitted/citizen,routed/system,claimed/anna.a,transition/anna.a,documents_requested/anna.a," +
		"documents_received/citizen,transition/anna.a,transition/bernd.b"
	if got := st.history(t, ref); got != want {
		t.Fatalf("history\n got %s\nwant %s", got, want)
	}
	var actions []string
	for _, e := range st.verifyAudit(t) {
		if e.Object == ref || e.Action == "login" {
			actions = append(actions, e.Action+" "+e.Actor)
		}
	}
	got := strings.Join(actions, ",")
	for _, w := range []string{"login anna.a", "case.viewed anna.a", "case.claimed anna.a", "case.transition anna.a",
		"case.documents_requested anna.a", "case.documents_received citizen", "login bernd.b", "case.transition bernd.b"} {
		if !strings.Contains(got, w) {
			t.Errorf("audit trail lacks %q:\n%s", w, got)
		}
	}
}

func berlinZone(t *testing.T) *time.Location {
	l, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestBackofficeDeputyPeriod: a caseworker standing in for another office
// (Vertretung) sees that office's case only within the deputy period, on
// the stack's clock and with one session throughout: the period is judged
// at every request, not at sign-in.
func TestBackofficeDeputyPeriod(t *testing.T) {
	st := newBackofficeStack(t)
	const other = "jugendamt-frankfurt"
	t0 := st.now()
	st.addUser(t, "dora.d", "Dora Dietz", []string{"jugendamt-main-taunus"},
		staff.Deputy{Office: other, From: t0.Add(10 * time.Minute), Until: t0.Add(20 * time.Minute)})
	st.addUser(t, "max.m", "Max Meier", []string{"jugendamt-main-taunus"})
	ref := st.submitKita(t, "60311").Reference
	d := newStaffBrowser(t, st.base)
	d.signIn("dora.d")
	m := newStaffBrowser(t, st.base)
	m.signIn("max.m")
	sees := func(when string, want int) {
		t.Helper()
		if p := d.get("/backoffice/cases/" + ref); p.status != want {
			t.Errorf("%s: the case %d, want %d", when, p.status, want)
		}
		if p := d.get("/backoffice/office/" + other); p.status != want {
			t.Errorf("%s: the office's inbox %d, want %d", when, p.status, want)
		}
		// still signed in: her own office's inbox works throughout
		d.get("/backoffice/office/jugendamt-main-taunus").must(t, 200, "/backoffice/office/jugendamt-main-taunus")
	}

	sees("before the period", 404)
	st.advance(10 * time.Minute) // From is inclusive
	sees("within the period", 200)
	d.get("/backoffice/office/"+other).must(t, 200, "", ref)
	d.get("/backoffice/cases/"+ref).must(t, 200, "", "Mir zuweisen")
	// a colleague of the same office without a deputy period: 404
	if p := m.get("/backoffice/cases/" + ref); p.status != 404 {
		t.Errorf("without a deputy period: %d", p.status)
	}
	st.advance(10 * time.Minute) // Until is exclusive
	sees("after the period", 404)

	// A change of the periods counts for the live session at once.
	ctx := staff.WithActor(context.Background(), "cli", "")
	if _, err := st.staff.SetDeputies(ctx, "dora.d", []staff.Deputy{{Office: other, From: st.now().Add(-time.Second)}}); err != nil {
		t.Fatal(err)
	}
	sees("open-ended from now", 200)
	if _, err := st.staff.SetDeputies(ctx, "dora.d", nil); err != nil {
		t.Fatal(err)
	}
	sees("periods cleared", 404)
	st.verifyAudit(t)
}

// TestBackofficeDisabledSession: disabling a user ends their live session
// at once: the next page goes to the sign-in page, a post gets 401.
func TestBackofficeDisabledSession(t *testing.T) {
	st := newBackofficeStack(t)
	e, cp, ref := st.openCase(t, "erik.e", "Erik Engel")
	cp.must(t, 200, "/backoffice/cases/"+ref, "Mir zuweisen")

	if err := st.staff.Disable(staff.WithActor(context.Background(), "cli", ""), "erik.e"); err != nil {
		t.Fatal(err)
	}
	e.get("/backoffice/cases/"+ref).must(t, 200, "/backoffice/login", `name="username"`)
	if p := e.act(cp, "claim"); p.status != 401 {
		t.Fatalf("post after disable: %d", p.status)
	}
	// nothing was saved, and signing in again is refused with the usual answer
	if got := st.history(t, ref); got != "submitted/citizen,routed/system" {
		t.Fatalf("history %s", got)
	}
	lp := e.get("/backoffice/login")
	lp = e.post("/backoffice/login", vals("_csrf", lp.csrf(t), "username", "erik.e", "password", "erik.e-password-123"))
	lp.must(t, 401, "/backoffice/login", "Benutzername oder Passwort ist falsch.")
	st.verifyAudit(t)
}

// openCase adds a caseworker of jugendamt-main-taunus, submits a Kita
// application routed there and returns the caseworker's signed-in
// browser on the case's page, with the case's reference.
func (st *boStack) openCase(t *testing.T, id, name string) (*staffBrowser, page, string) {
	t.Helper()
	st.addUser(t, id, name, []string{"jugendamt-main-taunus"})
	ref := st.submitKita(t, "65719").Reference
	b := newStaffBrowser(t, st.base)
	b.signIn(id)
	return b, b.get("/backoffice/cases/" + ref), ref
}

// integration issues a staff API token for a Kita caseworker system of
// jugendamt-main-taunus and returns a client of the staff API and the
// token's secret.
func (st *boStack) integration(t *testing.T) (*client, string) {
	t.Helper()
	return st.token(t, "Fachverfahren Kita", []string{"jugendamt-main-taunus"}, record.RoleCaseworker)
}

// token issues a staff API token of offices and roles and returns a
// client of the staff API and the token's secret.
func (st *boStack) token(t *testing.T, name string, offices []string, roles ...string) (*client, string) {
	t.Helper()
	ctx := staff.WithActor(context.Background(), "cli", "")
	secret, err := st.staff.CreateToken(ctx, testTenant, name, offices, roles)
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, base: st.base + "/api/v1/" + testTenant + "/staff", http: &http.Client{Timeout: 30 * time.Second}}, secret
}

// TestBackofficeRevokedToken: a revoked staff API token stops at once.
func TestBackofficeRevokedToken(t *testing.T) {
	st := newBackofficeStack(t)
	ref := st.submitKita(t, "65719").Reference
	ctx := staff.WithActor(context.Background(), "cli", "")
	c, secret := st.integration(t)
	auth := []string{"Authorization", "Bearer " + secret}
	c.expect(c.do("GET", "/cases/"+ref, nil, auth...), 200, nil)
	if err := st.staff.RevokeToken(ctx, staff.TokenID(secret)); err != nil {
		t.Fatal(err)
	}
	c.expect(c.do("GET", "/cases/"+ref, nil, auth...), 401, nil)
	c.expect(c.do("GET", "/cases", nil, auth...), 401, nil)
	st.verifyAudit(t)
}

// TestAuditAddrBehindProxy: behind a trusted proxy the audit trail
// records the address the proxy forwards for an action through the staff
// API, as the back office does; from a peer that is no trusted proxy the
// header counts for nothing.
func TestAuditAddrBehindProxy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted []string
		want    string
	}{
		{"trusted proxy", []string{"127.0.0.0/8"}, "203.0.113.7"},
		{"no trusted proxy", nil, "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newBackofficeStack(t, func(c *Config) { c.TrustedProxies = tc.trusted })
			ref := st.submitKita(t, "65719").Reference
			c, secret := st.integration(t)
			c.expect(c.do("POST", "/cases/"+ref+"/transitions", `{"transition":"pruefen","version":1}`,
				"Authorization", "Bearer "+secret, "X-Forwarded-For", "203.0.113.7"), 200, nil)
			got := "none"
			for _, e := range st.verifyAudit(t) {
				if e.Object == ref && strings.Contains(e.Action, "transition") {
					got = e.Addr
				}
			}
			if got != tc.want {
				t.Fatalf("audit addr of the staff API's transition %q, want %s", got, tc.want)
			}
		})
	}
}

// TestCitizenStatusPage: with casework the citizen's status page
// (reference + status secret) shows the public status, the responsible
// office with its address and the open document requests with their
// deadline, in German and English; without casework it stays as it was.
func TestCitizenStatusPage(t *testing.T) {
	st := newBackofficeStack(t)
	sub := st.submitKita(t, "65719")
	ref := sub.Reference
	status := "/" + testTenant + "/kita-gebuehren/r/" + ref + "?s=" + url.QueryEscape(sub.StatusSecret)
	cz := newStaffBrowser(t, st.base)

	cz.get(status).must(t, 200, "", ref, "Stand der Bearbeitung", "Eingegangen",
		"Jugendamt des Main-Taunus-Kreises", "Am Kreishaus 1-5", "65719 Hofheim am Taunus")
	if p := cz.get(status); strings.Contains(p.body, "Nachgeforderte Unterlagen") {
		t.Fatalf("requests shown before any:\n%s", p.body)
	}
	if p := cz.get("/" + testTenant + "/kita-gebuehren/r/" + ref + "?s=wrong"); p.status != 404 {
		t.Fatalf("wrong secret: %d", p.status)
	}

	// The office asks for the proof of income.
	ctx := context.Background()
	anna := casework.Actor{ID: "anna.a", Tenant: testTenant, Roles: []string{record.RoleCaseworker}, Offices: []string{"jugendamt-main-taunus"}}
	s, err := st.work.Transition(ctx, anna, ref, 1, "pruefen", "")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Date(2099, 3, 31, 23, 59, 59, 0, berlinZone(t))
	req, err := st.work.RequestDocuments(ctx, anna, ref, s.Version, []string{"incomeProof"}, "Bitte den Steuerbescheid 2025.", deadline)
	if err != nil {
		t.Fatal(err)
	}
	de := cz.get(status)
	de.must(t, 200, "", "Unterlagen nachgefordert", "Nachgeforderte Unterlagen", "Einkommensnachweis (freiwillig)",
		"31.03.2099", "Bitte den Steuerbescheid 2025.", "per E-Mail geschickt", "Jugendamt des Main-Taunus-Kreises")
	if strings.Contains(de.body, req.Token) {
		t.Fatal("the status page shows the upload token")
	}
	en := cz.get(status + "&lang=en")
	en.must(t, 200, "", `<html lang="en">`, "Status", "Documents requested", "Proof of income (optional)",
		"31 March 2099", "Message from the office", "Youth welfare office of the Main-Taunus district", "Am Kreishaus 1-5")

	// Handed in: the request is no longer open, the case in review.
	att, err := st.work.Upload(ctx, testTenant, req.Token, "incomeProof", "nachweis.pdf", bytes.NewReader(tinyPDF()))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.work.Fulfil(ctx, testTenant, req.Token, map[string][]string{"incomeProof": {att.ID}}); err != nil {
		t.Fatal(err)
	}
	p := cz.get(status + "&lang=de") // the choice of English is remembered
	p.must(t, 200, "", "In Prüfung")
	if strings.Contains(p.body, "Nachgeforderte Unterlagen") {
		t.Fatalf("a fulfilled request is shown as open:\n%s", p.body)
	}

	// Without casework: no status, no requests, as before.
	plain := newTestServer(t)
	c := &client{t: t, base: plain.URL(t) + "/api/v1/" + testTenant, http: &http.Client{Timeout: 30 * time.Second}}
	doc := apitest.KitaData()
	delete(doc, "coveredFee")
	var ps submissionJSON
	c.expect(c.do("POST", "/services/kita-gebuehren/submissions", doc), 201, &ps)
	pp := newBrowser(t, plain.URL(t)).get("/" + testTenant + "/kita-gebuehren/r/" + ps.Reference + "?s=" + url.QueryEscape(ps.StatusSecret))
	pp.must(t, 200, "", ps.Reference, "Zuständige Stelle")
	if strings.Contains(pp.body, "Stand der Bearbeitung") || strings.Contains(pp.body, "Nachgeforderte Unterlagen") {
		t.Fatalf("status without casework:\n%s", pp.body)
	}
}

// TestCaseTextRefused: a note, comment or message that is not plain text
// (a NUL, a stray byte, an escape sequence) gets the back office's form
// again with the field named (422), or the staff API's problem (422,
// code "text" at "comment"); nothing is written, and the next plain note
// is stored.
func TestCaseTextRefused(t *testing.T) {
	st := newBackofficeStack(t)
	a, cp, ref := st.openCase(t, "anna.a", "Anna Arendt")
	const refused = "Der Text enthält Zeichen, die nicht erlaubt sind"
	for _, text := range []string{"Rückruf \x00 am Montag", "Rückruf \xff am Montag", "\x1b[2JRückruf", "Rückruf \u202egatnoM ma", "Rück\u200bruf"} {
		a.act(cp, "note", "text", text).must(t, 422, "/backoffice/cases/"+ref+"/note", refused, `href="#note-text"`)
		a.act(cp, "transition", "transition", "pruefen", "comment", text).must(t, 422, "", refused, `href="#action-pruefen-comment"`)
	}
	c, secret := st.integration(t)
	resp := c.do("POST", "/cases/"+ref+"/transitions", `{"transition":"pruefen","version":1,"comment":"geprüft\u0000"}`, "Authorization", "Bearer "+secret)
	var p struct {
		Errors []struct{ Path, Code string }
	}
	c.expect(resp, 422, &p)
	if len(p.Errors) != 1 || p.Errors[0].Code != "text" || p.Errors[0].Path != "comment" {
		t.Fatalf("staff API problem %+v", p)
	}
	if got := st.history(t, ref); got != "submitted/citizen,routed/system" {
		t.Fatalf("refused texts changed the history: %s", got)
	}
	a.act(cp, "note", "text", "Rückruf\r\nam Montag").must(t, 200, "/backoffice/cases/"+ref, "Rückruf\nam Montag")
	st.verifyAudit(t)
}

// TestRightToLeftText: invisible format characters that would change
// what a caseworker reads (a right-to-left override, a zero width space)
// are refused at intake with the field and nothing is stored; Arabic
// answers and notes are accepted and shown each in its own direction,
// isolated from the text around them.
func TestRightToLeftText(t *testing.T) {
	st := newBackofficeStack(t)
	c := &client{t: t, base: st.base + "/api/v1/" + testTenant, http: &http.Client{Timeout: 30 * time.Second}}
	for _, tc := range []struct{ path, name string }{
		{"applicant.familyName", "Sch\u202erefä"},
		{"applicant.givenName", "An\u200bna"},
	} {
		doc := apitest.KitaData()
		delete(doc, "coveredFee")
		field := strings.TrimPrefix(tc.path, "applicant.")
		applicant := maps.Clone(doc["applicant"].(map[string]any))
		applicant[field] = tc.name
		doc["applicant"] = applicant
		var p problemJSON
		c.expect(c.do("POST", "/services/kita-gebuehren/submissions", doc, "Accept-Language", "de"), 422, &p)
		if !hasError(p.Errors, tc.path, "control") || !strings.Contains(p.Errors[0].Message, "unsichtbare") {
			t.Fatalf("%q: %+v", tc.name, p)
		}
	}
	doc := apitest.KitaData()
	delete(doc, "coveredFee")
	applicant := maps.Clone(doc["applicant"].(map[string]any))
	applicant["givenName"], applicant["familyName"] = "محمد", "\u200fالعلي"
	doc["applicant"] = applicant
	doc["address"].(map[string]any)["postalCode"] = "65719" // jugendamt-main-taunus
	var sub submissionJSON
	c.expect(c.do("POST", "/services/kita-gebuehren/submissions", doc), 201, &sub)
	st.addUser(t, "anna.a", "Anna Arendt", []string{"jugendamt-main-taunus"})
	a := newStaffBrowser(t, st.base)
	a.signIn("anna.a")
	cp := a.get("/backoffice/cases/" + sub.Reference)
	cp.must(t, 200, "", `<dd class="summary-value" dir="auto">محمد</dd>`, `<dd class="summary-value" dir="auto">`+"\u200f"+`العلي</dd>`)
	a.act(cp, "note", "text", "اتصل مرة أخرى (2)").must(t, 200, "/backoffice/cases/"+sub.Reference,
		`<bdi>Anna Arendt</bdi>`, `<p class="bo-pre" dir="auto">اتصل مرة أخرى (2)</p>`)
	st.verifyAudit(t)
}

// TestAssignWithinOffice: a case is offered to, and given to, only
// caseworkers who see its office (their own, or one they stand in for);
// giving it to someone else is refused with the field and changes
// nothing, since the case would land where its assignee cannot open it.
func TestAssignWithinOffice(t *testing.T) {
	st := newBackofficeStack(t)
	a, _, ref := st.openCase(t, "anna.a", "Anna Arendt")
	st.addUser(t, "bert.b", "Bert Brandt", []string{"jugendamt-main-taunus"})
	st.addUser(t, "fritz.f", "Fritz Frank", []string{"jugendamt-frankfurt"})
	st.addUser(t, "vera.v", "Vera Vogt", []string{"jugendamt-frankfurt"}, staff.Deputy{Office: "jugendamt-main-taunus"})
	cp := a.get("/backoffice/cases/" + ref)
	cp.must(t, 200, "", `<option value="anna.a"`, `<option value="bert.b"`, `<option value="vera.v"`)
	if strings.Contains(cp.body, `value="fritz.f"`) {
		t.Fatal("a caseworker of another office is offered")
	}
	a.act(cp, "assign", "to", "fritz.f").must(t, 422, "", "arbeitet nicht für die Stelle des Vorgangs", `href="#assign-to"`)
	if got := st.history(t, ref); got != "submitted/citizen,routed/system" {
		t.Fatalf("a refused assignment changed the history: %s", got)
	}
	a.act(cp, "assign", "to", "vera.v").must(t, 200, "/backoffice/cases/"+ref)
	if got := st.history(t, ref); got != "submitted/citizen,routed/system,assigned/anna.a" {
		t.Fatalf("history %s", got)
	}
	// whoever holds the case stays on the list
	cp = a.get("/backoffice/cases/" + ref)
	cp.must(t, 200, "", `<option value="vera.v" selected>`)
	if strings.Contains(cp.body, "arbeitet nicht mehr") {
		t.Fatal("a deputy is flagged as gone")
	}
	// vera no longer stands in: the case is flagged where the office
	// sees it, on the case page and in the office's inbox; so it is once
	// her account is disabled.
	ctx := staff.WithActor(context.Background(), "cli", "")
	if _, err := st.staff.SetDeputies(ctx, "vera.v", nil); err != nil {
		t.Fatal(err)
	}
	const gone = `<bdi>Vera Vogt</bdi> <strong class="bo-flag">arbeitet nicht mehr für diese Stelle</strong>`
	a.get("/backoffice/cases/"+ref).must(t, 200, "", gone)
	a.get("/backoffice/office/jugendamt-main-taunus").must(t, 200, "", gone)
	if err := st.staff.Disable(ctx, "vera.v"); err != nil {
		t.Fatal(err)
	}
	a.get("/backoffice/office/jugendamt-main-taunus?lang=en").must(t, 200, "", `<bdi>Vera Vogt</bdi> <strong class="bo-flag">account disabled</strong>`)
	st.verifyAudit(t)
}

// TestAdminScope: a signed-in admin sees every office of the tenant in
// the back office; a staff API token with the role admin sees only the
// offices it was issued for (docs/staffapi.md).
func TestAdminScope(t *testing.T) {
	st := newBackofficeStack(t)
	ctx := staff.WithActor(context.Background(), "cli", "")
	if _, err := st.staff.AddUser(ctx, staff.User{ID: "ada.a", Tenant: testTenant, Name: "Ada Albers",
		Roles: []string{record.RoleAdmin}, Offices: []string{"jugendamt-main-taunus"}}, "ada.a-password-123"); err != nil {
		t.Fatal(err)
	}
	own, other := st.submitKita(t, "65719").Reference, st.submitKita(t, "60311").Reference
	a := newStaffBrowser(t, st.base)
	a.signIn("ada.a")
	a.get("/backoffice/cases/"+own).must(t, 200, "/backoffice/cases/"+own)
	a.get("/backoffice/cases/"+other).must(t, 200, "/backoffice/cases/"+other)
	a.get("/backoffice/office/jugendamt-frankfurt").must(t, 200, "", other)

	c, secret := st.token(t, "Berichtswesen", []string{"jugendamt-main-taunus"}, record.RoleAdmin)
	auth := []string{"Authorization", "Bearer " + secret}
	c.expect(c.do("GET", "/cases/"+own, nil, auth...), 200, nil)
	c.expect(c.do("GET", "/cases/"+other, nil, auth...), 404, nil)
	var inbox struct {
		Cases []struct{ Reference string }
	}
	c.expect(c.do("GET", "/cases", nil, auth...), 200, &inbox)
	if len(inbox.Cases) != 1 || inbox.Cases[0].Reference != own {
		t.Fatalf("the admin token's inbox %+v, want only %s", inbox.Cases, own)
	}
	st.verifyAudit(t)
}
