package api

import (
	"bytes"
	"html"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amtsform/amtsform/mail"
	"github.com/amtsform/amtsform/mail/smtptest"
)

// lockedBuffer collects log output from concurrent handlers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// mailServer starts a test server whose mails go to an SMTP sink through
// the real SMTP mailer; its logs (all levels) go to the returned buffer.
func mailServer(t *testing.T, sink smtptest.Options, publicURL string, opts ...func(*Config)) (*testServer, *smtptest.Server, *lockedBuffer) {
	t.Helper()
	srv := smtptest.Start(t, sink)
	cfg, err := mail.ParseURL(srv.URL("Stadt Musterstadt <noreply@stadt.example>"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Timeout = 5 * time.Second
	m, err := mail.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	ts := newTestServer(t, withConfig(func(c *Config) {
		c.Mail = m
		c.PublicURL = publicURL
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		for _, o := range opts {
			o(c)
		}
	}))
	return ts, srv, logs
}

// savedPageOf starts a Kita draft and returns the browser, the token and
// the path of its saved page.
func savedPageOf(t *testing.T, ts *testServer) (*browser, string, string) {
	t.Helper()
	b := newBrowser(t, ts.URL(t))
	p := b.startDraft("kita-gebuehren")
	p.must(t, 200, "/person")
	token := strings.Split(p.url.Path, "/")[4]
	return b, token, "/" + testTenant + "/kita-gebuehren/d/" + token + "/saved"
}

var expiresRE = regexp.MustCompile(`(?:bis zum|until) ([^:<]+):`)

// TestResumeMailFormAbsentWithoutMailer: no mailer, no form, and no
// route that would send.
func TestResumeMailFormAbsentWithoutMailer(t *testing.T) {
	ts := newTestServer(t)
	b, _, saved := savedPageOf(t, ts)
	p := b.get(saved + "?from=person")
	p.must(t, 200, "/saved", "Ihre Angaben sind gespeichert")
	for _, s := range []string{`name="email"`, "Link per E-Mail senden", `<form`} {
		if strings.Contains(p.body, s) {
			t.Errorf("saved page without a mailer has %q", s)
		}
	}
	p = b.post(saved, vals("_csrf", p.csrfOr(t, b), "email", "a@example.org"))
	if p.status != 404 {
		t.Errorf("POST saved without a mailer: %d", p.status)
	}
}

// csrfOr returns the page's CSRF token or, when it has no form, one from
// the service's start page.
func (p page) csrfOr(t *testing.T, b *browser) string {
	if m := csrfRE.FindStringSubmatch(p.body); m != nil {
		return m[1]
	}
	return b.get("/" + testTenant + "/kita-gebuehren/").csrf(t)
}

// TestResumeMail: the form on the saved page; a refused post without
// CSRF token and invalid addresses send nothing; a valid address gets
// exactly one mail with the link, the service title and the expiry, in
// the page's language; the draft stays; sends per draft are limited;
// neither address nor link reach the log.
func TestResumeMail(t *testing.T) {
	ts, sink, logs := mailServer(t, smtptest.Options{}, "")
	b, token, saved := savedPageOf(t, ts)
	resume := ts.URL(t) + "/" + testTenant + "/kita-gebuehren/d/" + token
	const addr = "juergen.muessig@example.org"

	p := b.get(saved + "?from=person")
	p.must(t, 200, "/saved", resume, "Link per E-Mail senden",
		`type="email"`, `name="email"`, `autocomplete="email"`, `for="f-email"`, `aria-describedby="f-email-hint"`, `id="f-email-hint"`)
	action := p.action(t)
	if !strings.HasSuffix(action, "/saved?from=person") {
		t.Fatalf("form action %q", action)
	}
	csrf := p.csrf(t)
	m := expiresRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatal("no expiry on the saved page")
	}
	expires := html.UnescapeString(m[1])

	// no CSRF token: refused, nothing sent
	p = b.post(action, vals("email", addr))
	p.must(t, 403, "")
	// a token from elsewhere
	p = b.post(action, vals("_csrf", tampered(csrf), "email", addr))
	p.must(t, 403, "")

	// invalid addresses: the page again with the error, nothing sent
	for _, bad := range []string{"", "juergen", "juergen@", "juergen@localhost", "Jürgen <j@example.org>", "a@b.example, c@d.example", "a@[127.0.0.1]"} {
		p = b.post(action, vals("_csrf", csrf, "email", bad))
		p.must(t, 422, "/saved", `role="alert"`, `href="#f-email"`, `id="f-email-error"`, `aria-invalid="true"`,
			`aria-describedby="f-email-hint f-email-error"`, "<title>Fehler: ", resume)
		if bad != "" && !strings.Contains(p.body, `value="`+html.EscapeString(bad)+`"`) {
			t.Errorf("%q not kept in the field", bad)
		}
	}
	if n := len(sink.Messages()); n != 0 {
		t.Fatalf("%d mails after refused posts", n)
	}

	// a valid address: one mail, then the confirmation
	p = b.post(action, vals("_csrf", csrf, "email", " "+addr+" "))
	p.must(t, 200, "/saved", "Wir haben Ihnen den Link per E-Mail gesendet", `role="status"`)
	if p.url.Query().Get("from") != "person" || strings.Contains(p.url.String(), "example.org") {
		t.Errorf("landed on %s", p.url)
	}
	msgs := sink.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d mails, want 1", len(msgs))
	}
	got := msgs[0]
	if len(got.To) != 1 || got.To[0] != addr {
		t.Errorf("mail to %q", got.To)
	}
	if s := got.Header("Subject"); !strings.Contains(s, "Übernahme von Kita-Gebühren") {
		t.Errorf("subject %q", s)
	}
	text := got.Text()
	for _, want := range []string{resume + "\n", "„Übernahme von Kita-Gebühren“", "bis zum " + expires, "Guten Tag"} {
		if !strings.Contains(text, want) {
			t.Errorf("mail lacks %q:\n%s", want, text)
		}
	}

	// in English when the page is English
	p = b.get(saved + "?lang=en")
	p.must(t, 200, "/saved", "Send the link by email")
	p = b.post(p.action(t), vals("_csrf", csrf, "email", addr))
	p.must(t, 200, "/saved", "We have sent you the link by email")
	msgs = sink.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d mails, want 2", len(msgs))
	}
	if text := msgs[1].Text(); !strings.Contains(text, "Coverage of daycare fees") || !strings.Contains(text, resume) || !strings.Contains(text, "Hello") {
		t.Errorf("English mail:\n%s", text)
	}

	// three mails per draft and hour; the fourth is refused
	p = b.post(saved, vals("_csrf", csrf, "email", addr))
	p.must(t, 200, "/saved")
	p = b.post(saved, vals("_csrf", csrf, "email", addr))
	p.must(t, 429, "")
	if n := len(sink.Messages()); n != 3 {
		t.Fatalf("%d mails, want 3", n)
	}

	// the draft is still there
	b.get(resume).must(t, 200, "/person")

	l := logs.String()
	if !strings.Contains(l, "resume link mailed") {
		t.Errorf("no log of the mail:\n%s", l)
	}
	for _, secret := range []string{addr, token} {
		if strings.Contains(l, secret) {
			t.Errorf("log contains %q:\n%s", secret, l)
		}
	}
}

// TestResumeMailFailure: the SMTP server refuses the recipient; the
// citizen gets a friendly error, the draft stays, the log says only that
// sending failed.
func TestResumeMailFailure(t *testing.T) {
	const addr = "geheim@example.org"
	ts, sink, logs := mailServer(t, smtptest.Options{RejectRcpt: "550 5.1.1 <" + addr + ">: mailbox unavailable"}, "")
	b, token, saved := savedPageOf(t, ts)
	p := b.get(saved)
	p = b.post(p.action(t), vals("_csrf", p.csrf(t), "email", addr))
	p.must(t, 503, "/saved", `role="alert"`, "Die E-Mail konnte gerade nicht gesendet werden", "Ihre Angaben bleiben gespeichert", `value="`+addr+`"`)
	if n := len(sink.Messages()); n != 0 {
		t.Fatalf("%d mails", n)
	}
	b.get("/"+testTenant+"/kita-gebuehren/d/"+token).must(t, 200, "/person")
	l := logs.String()
	if !strings.Contains(l, "resume link mail failed") {
		t.Errorf("no log of the failure:\n%s", l)
	}
	for _, secret := range []string{addr, "geheim", token} {
		if strings.Contains(l, secret) {
			t.Errorf("log contains %q:\n%s", secret, l)
		}
	}
}

// TestResumeMailPublicURL: with a public URL the link is built from it,
// not from the request's (client-controlled) host headers.
func TestResumeMailPublicURL(t *testing.T) {
	ts, sink, _ := mailServer(t, smtptest.Options{}, "https://formulare.stadt.example/")
	b, token, saved := savedPageOf(t, ts)
	want := "https://formulare.stadt.example/" + testTenant + "/kita-gebuehren/d/" + token
	p := b.get(saved)
	p.must(t, 200, "/saved", want)
	req := newRequest(t, "POST", b.abs(p.action(t)), strings.NewReader(vals("_csrf", p.csrf(t), "email", "a@example.org").Encode()),
		"Content-Type", "application/x-www-form-urlencoded", "X-Forwarded-Host", "evil.example")
	b.do(req).must(t, 200, "/saved")
	msgs := sink.Messages()
	if len(msgs) != 1 || !strings.Contains(msgs[0].Text(), want+"\n") || strings.Contains(msgs[0].Text(), "evil") {
		t.Fatalf("mails %+v", msgs)
	}
}
