package casework

import (
	"strings"
	"testing"
	"time"

	"github.com/amtsform/amtsform/mail"
	"github.com/amtsform/amtsform/mail/smtptest"
)

// TestKitaWalkSMTP walks the Kita case with the mails delivered to a real
// SMTP server on loopback (STARTTLS, AUTH) and read back from it: the
// citizen's link from the received mail opens the document request.
func TestKitaWalkSMTP(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{StartTLS: true, User: "amtsform", Password: "s3cret"})
	cfg, err := mail.ParseURL(srv.URL("Jugendamt <noreply@stadt.example>"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.TLSConfig, cfg.Timeout = srv.ClientTLSConfig(), 5*time.Second
	m, err := mail.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureMail(t, mail.Notifier{Mailer: m})
	ref, link := walkKita(t, f)
	msgs := srv.Messages()
	if len(msgs) != 3 {
		t.Fatalf("%d mails delivered", len(msgs))
	}
	want := []string{"Ihr Antrag " + ref + " wird bearbeitet", "Unterlagen für Ihren Antrag " + ref + " / Documents for your application " + ref, "Ihr Antrag " + ref + ": Bewilligt"}
	for i, msg := range msgs {
		if msg.Header("Subject") != want[i] || len(msg.To) != 1 || msg.To[0] != "erika@example.org" || !msg.TLS || msg.Auth != "amtsform" {
			t.Errorf("mail %d: %q to %v (tls %v)", i, msg.Header("Subject"), msg.To, msg.TLS)
		}
	}
	body := msgs[1].Text()
	if !strings.Contains(body, link+"\n") || !strings.Contains(body, "Einkommensnachweis") || !strings.Contains(body, "Bitte den Steuerbescheid 2025.") {
		t.Fatalf("request mail:\n%s", body)
	}
	token := link[strings.LastIndex(link, "/")+1:]
	r, sub, _, err := f.work.Request(ctxTest, "ffm", token)
	if err != nil || sub.Ref != ref || r.Fulfilled.IsZero() {
		t.Fatalf("the mailed link: %+v %v", r, err)
	}
	if !strings.Contains(msgs[2].Text(), "bewilligt") || !strings.Contains(msgs[2].Text(), "granted") {
		t.Fatalf("decision mail:\n%s", msgs[2].Text())
	}
}
