package backoffice

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/engine/record"
)

// deliveryRow is one destination of the case in the case view.
type deliveryRow struct {
	Title, Kind, State, Detail string
	// Dead: dead-lettered; RetryURL is set when the user (an admin) may
	// retry it.
	Dead             bool
	RetryURL, FormID string
	Destination      string
}

var kindTitles = map[string][2]string{
	"webhook":   {"Schnittstelle (Webhook)", "interface (webhook)"},
	"feed":      {"Abruf durch das Fachverfahren", "fetched by the receiver"},
	"mail":      {"E-Mail", "email"},
	"directory": {"Verzeichnis", "directory"},
}

// deliveries fills the case view's destinations; a failure to read them
// is logged and shown, the case view stands.
func (s *server) deliveries(c *fiber.Ctx, v *caseView, l string) {
	if s.d.Deliveries == nil {
		return
	}
	ds, err := s.d.Deliveries.Deliveries(c.UserContext(), s.actor(c), v.Ref)
	if err != nil {
		s.log.Warn("case view: deliveries not read", "case", v.Ref, "err", err)
		v.DeliveriesError = true
		return
	}
	admin := hasRole(principal(c), "admin")
	for _, d := range ds {
		row := deliveryRow{Title: d.Title.In(l), Kind: d.Kind, FormID: "retry-" + d.Destination}
		if row.Title == "" {
			row.Title = d.Destination
		}
		if k, ok := kindTitles[d.Kind]; ok {
			row.Kind = tr(l, k[0], k[1])
		}
		row.State, row.Detail = s.deliveryState(d.Job, l)
		if j := d.Job; j != nil && j.Status == record.DeliveryDead {
			row.Dead = true
			if admin {
				row.RetryURL, row.Destination = v.URL+"/retry", d.Destination
			}
		}
		v.Deliveries = append(v.Deliveries, row)
	}
}

// deliveryState says where a job stands, and the detail (times, the
// receiver's verdict, the last error, the attempts).
func (s *server) deliveryState(j *record.DeliveryJob, l string) (string, string) {
	if j == nil {
		return tr(l, "ausstehend", "pending"), ""
	}
	attempts := fmt.Sprintf(tr(l, "%d Versuche", "%d attempts"), j.Attempts)
	if j.Attempts == 1 {
		attempts = tr(l, "1 Versuch", "1 attempt")
	}
	switch j.Status {
	case record.DeliveryDelivered:
		if j.Verdict == "accept" {
			return tr(l, "vom Fachverfahren angenommen", "accepted by the receiver"), tr(l, "am ", "on ") + s.dateTime(j.Delivered, l)
		}
		return tr(l, "übermittelt", "delivered"), tr(l, "am ", "on ") + s.dateTime(j.Delivered, l) + " · " + attempts
	case record.DeliveryRejected:
		reason := strings.TrimSpace(strings.TrimPrefix(j.Verdict, "reject:"))
		return tr(l, "vom Fachverfahren abgelehnt", "rejected by the receiver"), tr(l, "Begründung: ", "Reason: ") + reason
	case record.DeliveryDead:
		return tr(l, "gescheitert, zurückgestellt", "failed, dead-lettered"),
			attempts + " · " + tr(l, "letzter Fehler: ", "last error: ") + j.LastError
	}
	if j.Attempts == 0 {
		if j.Kind == "feed" {
			return tr(l, "bereit zum Abruf", "ready to be fetched"), ""
		}
		return tr(l, "ausstehend", "pending"), ""
	}
	detail := attempts
	if !j.Next.IsZero() {
		detail += " · " + tr(l, "nächster Versuch ", "next attempt ") + s.dateTime(j.Next, l)
	}
	if j.LastError != "" {
		detail += " · " + tr(l, "letzter Fehler: ", "last error: ") + j.LastError
	}
	return tr(l, "wird erneut versucht", "being retried"), detail
}

// retryDelivery makes a dead-lettered delivery due again (admins).
func (s *server) retryDelivery(c *fiber.Ctx) error {
	if s.d.Deliveries == nil {
		return fiber.ErrNotFound
	}
	// casework decides: another office's case is not found, a
	// non-admin is refused (403)
	dest := strings.Clone(c.FormValue("destination"))
	if dest == "" {
		return fiber.NewError(fiber.StatusBadRequest, "no destination")
	}
	if _, err := s.d.Deliveries.RetryDelivery(c.UserContext(), s.actor(c), caseRef(c), dest); err != nil {
		var ae *ActionError
		if errors.As(err, &ae) || errors.Is(err, record.ErrConflict) {
			return s.refused(c, nil, errorItem{Href: "#deliveries", Message: tr(lang(c),
				"Diese Übermittlung ist nicht zurückgestellt und kann nicht wiederholt werden.",
				"This delivery is not dead-lettered and cannot be retried.")})
		}
		return err
	}
	return done(c, "retry")
}
