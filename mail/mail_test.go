package mail

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/amtsform/amtsform/mail/smtptest"
)

func TestParseURL(t *testing.T) {
	for _, c := range []struct {
		url  string
		want Config
		err  string
	}{
		{url: "smtp://user:p%40ss@mail.stadt.example:587?from=noreply@stadt.example",
			want: Config{Host: "mail.stadt.example", Port: 587, Username: "user", Password: "p@ss", From: "noreply@stadt.example", TLS: StartTLS}},
		{url: "smtp://mail.stadt.example?from=noreply@stadt.example",
			want: Config{Host: "mail.stadt.example", Port: 587, From: "noreply@stadt.example", TLS: StartTLS}},
		{url: "smtps://u:p@mail.stadt.example?from=Stadt%20Musterstadt%20%3Cnoreply@stadt.example%3E&timeout=5s&auth=login",
			want: Config{Host: "mail.stadt.example", Port: 465, Username: "u", Password: "p", From: "Stadt Musterstadt <noreply@stadt.example>", TLS: ImplicitTLS, Auth: "login", Timeout: 5 * time.Second}},
		{url: "smtp://relay:25?from=a@b.example&tls=none&helo=amtsform.stadt.example",
			want: Config{Host: "relay", Port: 25, From: "a@b.example", TLS: NoTLS, HELO: "amtsform.stadt.example"}},
		{url: "smtp://relay:25?from=a@b.example&tls=opportunistic",
			want: Config{Host: "relay", Port: 25, From: "a@b.example", TLS: Opportunistic}},

		{url: "http://relay?from=a@b.example", err: "scheme"},
		{url: "smtp://relay", err: "no sender"},
		{url: "smtp://relay?from=not-an-address", err: "sender address"},
		{url: "smtp://relay:99999?from=a@b.example", err: "port"},
		{url: "smtp://?from=a@b.example", err: "no host"},
		{url: "smtp://relay?from=a@b.example&tls=maybe", err: "tls="},
		{url: "smtps://relay?from=a@b.example&tls=none", err: "smtps"},
		{url: "smtp://relay?from=a@b.example&auth=plain", err: "needs a user"},
		{url: "smtp://u:p@relay?from=a@b.example&auth=magic", err: "auth="},
		{url: "smtp://relay?from=a@b.example&timeout=soon", err: "timeout"},
		{url: "smtp://relay?from=a@b.example&form=x", err: "unknown SMTP URL parameter"},
		{url: "smtp://u:secret@re lay?from=a@b.example", err: "not a valid URL"},
	} {
		got, err := ParseURL(c.url)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err %v, want …%s…", c.url, err, c.err)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("%s: error shows the password: %v", c.url, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.url, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s:\n got %+v\nwant %+v", c.url, got, c.want)
		}
	}
}

func newMailer(t *testing.T, srv *smtptest.Server, from string) *Mailer {
	t.Helper()
	cfg, err := ParseURL(srv.URL(from))
	if err != nil {
		t.Fatal(err)
	}
	cfg.TLSConfig = srv.ClientTLSConfig()
	cfg.Timeout = 5 * time.Second
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestSendPlain sends through a relay without TLS and checks envelope,
// headers and an umlaut body.
func TestSendPlain(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	m := newMailer(t, srv, "Stadt Musterstadt <noreply@stadt.example>")
	body := "Guten Tag,\n\nÜbernahme von Kita-Gebühren: https://formulare.stadt.example/musterstadt/kita/d/abc\n"
	if err := m.Send(context.Background(), "buerger@example.org", "Ihr Link – Übernahme", body); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d mails", len(msgs))
	}
	got := msgs[0]
	if got.From != "noreply@stadt.example" || len(got.To) != 1 || got.To[0] != "buerger@example.org" {
		t.Errorf("envelope from %q to %q", got.From, got.To)
	}
	if s := got.Header("Subject"); s != "Ihr Link – Übernahme" {
		t.Errorf("subject %q", s)
	}
	if s := got.Header("From"); !strings.Contains(s, "Stadt Musterstadt") {
		t.Errorf("From header %q", s)
	}
	for _, h := range []string{"Message-ID", "Date"} {
		if got.Header(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
	if !strings.Contains(got.Header("Content-Type"), "charset=UTF-8") {
		t.Errorf("content type %q", got.Header("Content-Type"))
	}
	if text := got.Text(); !strings.Contains(text, "Übernahme von Kita-Gebühren: https://formulare.stadt.example/musterstadt/kita/d/abc") {
		t.Errorf("body:\n%s", text)
	}
}

// TestSendStartTLSAuth: STARTTLS, then AUTH PLAIN, then the mail.
func TestSendStartTLSAuth(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{StartTLS: true, User: "amtsform", Password: "s3cret"})
	m := newMailer(t, srv, "noreply@stadt.example")
	if err := m.Send(context.Background(), "a@example.org", "x", "y"); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || !msgs[0].TLS || msgs[0].Auth != "amtsform" {
		t.Fatalf("mails %+v", msgs)
	}
}

// TestSendImplicitTLSAuth: smtps, AUTH PLAIN chosen by autodiscovery
// (which go-mail offers only on an encrypted connection).
func TestSendImplicitTLSAuth(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{ImplicitTLS: true, User: "amtsform", Password: "s3cret"})
	m := newMailer(t, srv, "noreply@stadt.example")
	if err := m.Send(context.Background(), "a@example.org", "x", "y"); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || !msgs[0].TLS || msgs[0].Auth != "amtsform" {
		t.Fatalf("mails %+v", msgs)
	}
}

// TestStartTLSRequired: a server without STARTTLS gets nothing in plain
// text when the URL asks for STARTTLS (the default for smtp://).
func TestStartTLSRequired(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	cfg, err := ParseURL("smtp://" + srv.Addr() + "?from=noreply@stadt.example")
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Send(context.Background(), "a@example.org", "x", "y"); err == nil {
		t.Fatal("sent without TLS")
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("%d mails", n)
	}
}

// TestSendErrorsNameNoAddress: a refused recipient and an unreachable
// server give errors whose text names neither the address nor content.
func TestSendErrorsNameNoAddress(t *testing.T) {
	for _, reply := range []string{"550 5.1.1 <geheim@example.org>: mailbox unavailable", "451 4.3.0 <geheim@example.org> try later"} {
		srv := smtptest.Start(t, smtptest.Options{RejectRcpt: reply})
		m := newMailer(t, srv, "noreply@stadt.example")
		err := m.Send(context.Background(), "geheim@example.org", "Betreff", "Inhalt")
		var me *Error
		if !errors.As(err, &me) {
			t.Fatalf("%s: err %v", reply, err)
		}
		if strings.Contains(err.Error(), "geheim") || strings.Contains(err.Error(), "Inhalt") {
			t.Errorf("error text shows the address: %v", err)
		}
		if want := strings.HasPrefix(reply, "4"); me.Temporary != want {
			t.Errorf("%s: temporary %v", reply, me.Temporary)
		}
	}

	// nothing listens on a port just closed
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	cfg, _ := ParseURL("smtp://" + addr + "?from=noreply@stadt.example&tls=none&timeout=2s")
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = m.Send(context.Background(), "geheim@example.org", "x", "y")
	var me *Error
	if !errors.As(err, &me) || me.Step != "connect" || strings.Contains(err.Error(), "geheim") {
		t.Fatalf("err %v", err)
	}

	// an address the library refuses
	err = m.Send(context.Background(), "not an address", "x", "y")
	if !errors.As(err, &me) || me.Step != "address" {
		t.Fatalf("err %v", err)
	}
}

func TestSendHonoursContext(t *testing.T) {
	// a server that accepts and never answers
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	cfg, _ := ParseURL("smtp://" + ln.Addr().String() + "?from=noreply@stadt.example&tls=none&timeout=30s")
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = m.Send(ctx, "a@example.org", "x", "y")
	if err == nil {
		t.Fatal("no error")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v despite the context", d)
	}
}
