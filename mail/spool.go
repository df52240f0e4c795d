package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/quotedprintable"
	netmail "net/mail"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Message is one plain-text mail to one recipient.
type Message struct {
	To      string
	Subject string
	Body    string
	Lang    string // "de" or "en": the language of Subject and Body
}

// Spool writes mails as .eml files (RFC 5322, UTF-8, quoted-printable)
// into a directory instead of sending them: the mail of an installation
// without SMTP, listed in the back office. Each file is written to a
// temporary name and renamed, so a reader never sees half a mail.
type Spool struct {
	Dir  string
	From string // sender address; "noreply@localhost" when empty
	Now  func() time.Time
}

// NewSpool returns a spool writing into dir (created if missing).
func NewSpool(dir, from string) (*Spool, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("mail spool: %w", err)
	}
	return &Spool{Dir: dir, From: from}, nil
}

// Notify writes m into the spool.
func (s *Spool) Notify(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := netmail.ParseAddress(m.To); err != nil {
		return &Error{Step: "address", cause: err}
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	at := now().UTC()
	var id [8]byte
	_, _ = rand.Read(id[:])
	name := at.Format("20060102T150405.000000000Z") + "-" + hex.EncodeToString(id[:]) + ".eml"
	from := s.From
	if from == "" {
		from = "noreply@localhost"
	}
	var b bytes.Buffer
	hdr := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	hdr("From", from)
	hdr("To", m.To)
	hdr("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	hdr("Date", at.Format(time.RFC1123Z))
	hdr("Message-ID", "<"+hex.EncodeToString(id[:])+"@amtsform.spool>")
	if m.Lang != "" {
		hdr("Content-Language", m.Lang)
	}
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	_, _ = qp.Write([]byte(strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n")))
	_ = qp.Close()
	tmp, err := os.CreateTemp(s.Dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("mail spool: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename: already gone
	if _, err := tmp.Write(b.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("mail spool: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("mail spool: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("mail spool: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(s.Dir, name)); err != nil {
		return fmt.Errorf("mail spool: %w", err)
	}
	return nil
}

// List returns the names of the spooled mails, oldest first.
func (s *Spool) List() ([]string, error) {
	ents, err := os.ReadDir(s.Dir)
	if err != nil {
		return nil, fmt.Errorf("mail spool: %w", err)
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".eml") && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// Notifier sends Messages through a Mailer (the SMTP server configured).
type Notifier struct{ Mailer *Mailer }

// Notify sends m.
func (n Notifier) Notify(ctx context.Context, m Message) error {
	return n.Mailer.Send(ctx, m.To, m.Subject, m.Body)
}
