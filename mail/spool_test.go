package mail

import (
	"context"
	"io"
	"mime"
	"mime/quotedprintable"
	netmail "net/mail"
	"os"
	"path/filepath"
	"testing"
)

func TestSpool(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	s, err := NewSpool(dir, "Stadt <noreply@stadt.example>")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Notify(ctx, Message{To: "erika@example.org", Subject: "Ihr Antrag KITA-2026-000001: Bewilligt – Übernahme", Body: "Grüße\nvom Jugendamt", Lang: "de"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Notify(ctx, Message{To: "not an address", Subject: "x", Body: "y"}); err == nil {
		t.Fatal("bad address spooled")
	}
	names, err := s.List()
	if err != nil || len(names) != 1 {
		t.Fatalf("spool %v %v", names, err)
	}
	f, err := os.Open(filepath.Join(dir, names[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := netmail.ReadMessage(f)
	if err != nil {
		t.Fatal(err)
	}
	subj, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	body, _ := io.ReadAll(quotedprintable.NewReader(m.Body))
	if subj != "Ihr Antrag KITA-2026-000001: Bewilligt – Übernahme" || string(body) != "Grüße\r\nvom Jugendamt" || m.Header.Get("To") != "erika@example.org" {
		t.Fatalf("spooled %q %q %v", subj, body, m.Header)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("temporary files left: %v", ents)
	}
}
