package render

import (
	"testing"

	"github.com/amtsform/amtsform/engine"
)

func TestFormatMoney(t *testing.T) {
	for _, c := range []struct {
		cents  int64
		de, en string
	}{
		{0, "0,00 €", "€0.00"},
		{5, "0,05 €", "€0.05"},
		{1250, "12,50 €", "€12.50"},
		{123456789, "1.234.567,89 €", "€1,234,567.89"},
		{-100, "-1,00 €", "€-1.00"},
	} {
		if got := FormatMoney(c.cents, "de"); got != c.de {
			t.Errorf("%d de: %q, want %q", c.cents, got, c.de)
		}
		if got := FormatMoney(c.cents, "en"); got != c.en {
			t.Errorf("%d en: %q, want %q", c.cents, got, c.en)
		}
	}
}

func TestFormatMultipleChoice(t *testing.T) {
	f := &engine.Field{Widget: "checkboxes", Options: []engine.Option{
		{Value: "sport", Label: engine.Text{De: "Sport", En: "Sports"}},
		{Value: "kunst", Label: engine.Text{De: "Kunst", En: "Arts"}},
		{Value: "natur", Label: engine.Text{De: "Natur", En: "Nature"}},
	}}
	if got := FormatValue(f, []any{"natur", "sport"}, nil, "de"); got != "Sport, Natur" {
		t.Errorf("got %q, want the labels in the service's order", got)
	}
	if got := FormatValue(f, []any{"kunst"}, nil, "en"); got != "Arts" {
		t.Errorf("got %q", got)
	}
}
