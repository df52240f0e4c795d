package receipt

import (
	"strings"
	"testing"
	"time"

	"github.com/amtsform/amtsform/api/apitest"
	"github.com/amtsform/amtsform/engine/record"
)

func TestReceiptPDF(t *testing.T) {
	svc := apitest.Example(t, "kita-gebuehren")
	sub := &record.Submission{
		Ref:      "KITA-2026-000042",
		Tenant:   "musterstadt",
		Data:     apitest.KitaData(),
		Computed: map[string]any{"coveredFee": int64(26300)},
		Office:   "jugendamt-frankfurt",
		Created:  time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC),
	}
	for _, lang := range []string{"de", "en"} {
		pdf, err := PDF(svc, sub, Details{Lang: lang})
		if err != nil {
			t.Fatal(err)
		}
		text := apitest.PDFText(t, pdf)
		want := []string{"KITA-2026-000042", "Jürgen", "Müßig", "Hauptstraße", "Önder", "Jugendamt Frankfurt", "DE89370400440532013000"}
		if lang == "de" {
			want = append(want, "Übernahme von Kita-Gebühren", "Eingangsbestätigung", "01.03.2026, 10:30 Uhr",
				"250,50 €", "12,50 €", "24.000,00 €", "263,00 €", "Kind 2", "Krippe (unter 3 Jahren)", "Ja", "Vorname des Kindes")
		} else {
			want = append(want, "Coverage of daycare fees", "Receipt", "€250.50", "€24,000.00", "Child 2", "After-school care")
		}
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%s receipt lacks %q:\n%s", lang, w, text)
			}
		}
	}
}
