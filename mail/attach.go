package mail

import (
	"bytes"
	"context"

	gomail "github.com/wneessen/go-mail"
)

// Attachment is a file attached to a mail.
type Attachment struct {
	Name, ContentType string
	Data              []byte
}

// SendWithAttachments sends one plain-text mail with attachments to one
// recipient (the mail destination of engine/delivery). Like Send it is
// neither signed nor encrypted (no S/MIME); the transport is TLS as
// configured.
func (m *Mailer) SendWithAttachments(ctx context.Context, to, subject, textBody string, atts []Attachment) error {
	msg := gomail.NewMsg()
	if err := msg.From(m.cfg.From); err != nil {
		return &Error{Step: "address", cause: err}
	}
	if err := msg.To(to); err != nil {
		return &Error{Step: "address", cause: err}
	}
	msg.Subject(subject)
	msg.SetMessageID()
	msg.SetDate()
	msg.SetBodyString(gomail.TypeTextPlain, textBody)
	msg.SetUserAgent("Amtsform")
	for _, a := range atts {
		if err := msg.AttachReader(a.Name, bytes.NewReader(a.Data), gomail.WithFileContentType(gomail.ContentType(a.ContentType))); err != nil {
			return &Error{Step: "attach", cause: err}
		}
	}
	return m.send(ctx, msg)
}
