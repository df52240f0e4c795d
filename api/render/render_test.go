package render

import "testing"

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
