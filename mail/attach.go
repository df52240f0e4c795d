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
	msg, err := m.newMsg(to, subject, textBody)
	if err != nil {
		return err
	}
	for _, a := range atts {
		if err := msg.AttachReader(a.Name, bytes.NewReader(a.Data), gomail.WithFileContentType(gomail.ContentType(a.ContentType))); err != nil {
			return &Error{Step: "attach", cause: err}
		}
	}
	return m.send(ctx, msg)
}
