package delivery

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/amtsform/amtsform/mail"
)

// MailSender sends one mail with attachments (mail.Mailer.SendMail).
type MailSender interface {
	SendMail(ctx context.Context, m *MailMessage) error
}

// MailMessage is a mail to an office's mailbox.
type MailMessage struct {
	To, Subject, Text string
	Attachments       []MailAttachment
}

// MailAttachment is a file attached to a mail.
type MailAttachment struct {
	Name, ContentType string
	Data              []byte
}

// Mail sends the submission to the binding's mailbox, or the office's,
// with the receipt PDF (Options.Receipt) and the attachments. It is not
// signed or encrypted (no S/MIME): the mail carries personal data, so
// bind mail destinations only to mailboxes on the municipality's own
// mail system (or to a transport-encrypted relay), see docs/delivery.md.
// It is one step: a mail the server accepted is not sent again.
type Mail struct{ Sender MailSender }

// Send implements Sender.
func (m *Mail) Send(ctx context.Context, a *Attempt) error {
	to := a.Binding.Mailbox
	if to == "" && a.d.opt.Offices != nil {
		if o, ok := a.d.opt.Offices.Office(a.Sub.Tenant, a.Sub.Office); ok {
			to = o.Email
		}
	}
	if to == "" {
		return &Permanent{Err: fmt.Errorf("mail %s: no mailbox (binding or office)", a.Job.Destination)}
	}
	_, files, err := a.d.build(ctx, a, false)
	if err != nil {
		return err
	}
	title := a.Sub.Service.ID
	if a.Service != nil && a.Service.Form != nil && a.Service.Form.Title.De != "" {
		title = a.Service.Form.Title.De
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Neue Einreichung %s (%s)\n\n", a.Sub.Ref, title)
	fmt.Fprintf(&b, "Eingegangen: %s\n", a.Sub.Created.In(berlin).Format("02.01.2006 15:04"))
	fmt.Fprintf(&b, "Zustellungskennung: %s\n", a.DeliveryID)
	fmt.Fprintf(&b, "Anlagen: %d (die Eingangsbestätigung mit allen Angaben ist beigefügt)\n", len(files))
	msg := &MailMessage{To: to, Subject: "Einreichung " + a.Sub.Ref + " – " + title, Text: b.String()}
	for _, f := range files {
		msg.Attachments = append(msg.Attachments, MailAttachment{Name: f.info.Filename, ContentType: f.info.MimeType, Data: f.data})
	}
	_, err = a.Last(ctx, "mail", func(ctx context.Context) (string, error) {
		return "", m.Sender.SendMail(ctx, msg)
	})
	return err
}

// SMTP sends delivery mails over the server's mailer.
func SMTP(m *mail.Mailer) MailSender { return smtpSender{m} }

type smtpSender struct{ m *mail.Mailer }

func (s smtpSender) SendMail(ctx context.Context, msg *MailMessage) error {
	atts := make([]mail.Attachment, len(msg.Attachments))
	for i, a := range msg.Attachments {
		atts[i] = mail.Attachment{Name: a.Name, ContentType: a.ContentType, Data: a.Data}
	}
	err := s.m.SendWithAttachments(ctx, msg.To, msg.Subject, msg.Text, atts)
	var me *mail.Error
	if errors.As(err, &me) && !me.Temporary && strings.HasPrefix(me.Step, "send: ") {
		return &Permanent{Err: err} // the server refused it for good (5xx)
	}
	return err
}
