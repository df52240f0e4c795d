package render

import (
	"reflect"
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

func TestDropRepeatedHeading(t *testing.T) {
	h := func(label string, depth int) Row { return Row{Label: label, Depth: depth, Heading: true} }
	a := func(label string, depth int) Row { return Row{Label: label, Value: "x", Depth: depth} }
	for _, tc := range []struct {
		name  string
		title string
		rows  []Row
		want  []Row
	}{
		{"repeated", "Halterin oder Halter", []Row{h("Halterin oder Halter", 0), a("Name", 1), a("Geburtsdatum", 1), a("E-Mail", 0)},
			[]Row{a("Name", 0), a("Geburtsdatum", 0), a("E-Mail", 0)}},
		{"case and space", "Halterin oder Halter ", []Row{h("halterin oder halter", 0), a("Name", 1)}, []Row{a("Name", 0)}},
		{"nested group keeps its depth below", "Kinder", []Row{h("Kinder", 0), h("Kind 1", 1), a("Name", 2), a("Einkommen", 0)},
			[]Row{h("Kind 1", 0), a("Name", 1), a("Einkommen", 0)}},
		{"other title", "Hund", []Row{h("Halterin oder Halter", 0), a("Name", 1)}, []Row{h("Halterin oder Halter", 0), a("Name", 1)}},
		{"first row an answer", "Name", []Row{a("Name", 0)}, []Row{a("Name", 0)}},
		{"empty", "Hund", nil, nil},
	} {
		if got := DropRepeatedHeading(tc.title, tc.rows); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
