package casework

import (
	"testing"
	"time"

	"github.com/amtsform/amtsform/engine/intake"
)

// TestSubmitSetsDue: a case submitted through intake is due
// processingDays after it was received, and the inbox marks it overdue
// after that.
func TestSubmitSetsDue(t *testing.T) {
	f := newFixture(t)
	in := &intake.Intake{Store: f.store, Catalog: f.cat, Secret: []byte("secret-secret-secret-secret-1234"), Now: f.time, Background: func(fn func()) { fn() }}
	doc := map[string]any{
		"applicant": map[string]any{"givenName": "Erika", "familyName": "Mustermann", "birthDate": "1985-06-01"},
		"address":   map[string]any{"street": "Römerberg", "houseNumber": "23", "postalCode": "60311", "city": "Frankfurt am Main"},
		"email":     "erika@example.org",
		"children":  []any{map[string]any{"name": "Lena", "birthDate": "2020-03-01", "careType": "kindergarten", "monthlyFee": int64(18000)}},
		"income":    int64(2400000), "iban": "DE89370400440532013000", "consent": true,
	}
	sub, _, err := in.SubmitDocument(ctxTest, "ffm", "kita-gebuehren", doc, "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if want := sub.Created.AddDate(0, 0, 30); sub.Due.Sub(want).Abs() > time.Second || sub.Office != "jugendamt-frankfurt" || sub.Status != "eingegangen" {
		t.Fatalf("submitted: due %v (received %v), office %s, status %s", sub.Due, sub.Created, sub.Office, sub.Status)
	}
	if p, err := f.work.Inbox(ctxTest, anna, Query{Overdue: true}); err != nil || p.Total != 0 {
		t.Fatalf("overdue now: %+v %v", p, err)
	}
	f.clock.Add(31 * 24 * 3600)
	p, err := f.work.Inbox(ctxTest, anna, Query{Overdue: true, Sort: "due"})
	if err != nil || p.Total != 1 || p.Cases[0].Ref != sub.Ref {
		t.Fatalf("overdue after 31 days: %+v %v", p, err)
	}
}
