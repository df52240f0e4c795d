package citizen

import (
	"net/url"
	"reflect"
	"testing"

	"github.com/amtsform/amtsform/engine"
)

// TestDecodeCheckbox: an unticked yes/no checkbox means false, while an
// unticked consent (only true allowed) stays unanswered, so that it is
// reported as required rather than as a wrong value.
func TestDecodeCheckbox(t *testing.T) {
	page := &engine.Page{ID: "p", Fields: []*engine.Field{
		{Path: "newsletter", Name: "newsletter", Kind: engine.KindBool, Widget: "checkbox"},
		{Path: "consent", Name: "consent", Kind: engine.KindBool, Widget: "checkbox", Const: true},
	}}
	tests := []struct {
		body string
		want map[string]any
	}{
		{"", map[string]any{"newsletter": false}},
		{"newsletter=on&consent=true", map[string]any{"newsletter": true, "consent": true}},
		{"consent=on", map[string]any{"newsletter": false, "consent": true}},
	}
	for _, tt := range tests {
		vals, _ := url.ParseQuery(tt.body)
		d := newFormDecoder(&postedForm{values: vals}, nil, formAction{kind: "continue"})
		if got := d.page(page, map[string]any{}); !reflect.DeepEqual(map[string]any(got), tt.want) {
			t.Errorf("%q: got %v, want %v", tt.body, got, tt.want)
		}
	}
}

// TestDecodeCheckboxes: a multiple choice posts its name once per ticked
// box; nothing ticked is no answer, and a value that is no option is kept
// for the engine to report.
func TestDecodeCheckboxes(t *testing.T) {
	opts := []engine.Option{{Value: "sport"}, {Value: "musik"}, {Value: "kunst"}}
	page := &engine.Page{ID: "p", Fields: []*engine.Field{
		{Path: "classes", Name: "classes", Kind: engine.KindList, Widget: "checkboxes", Options: opts},
	}}
	tests := []struct {
		body     string
		want     map[string]any
		rejected int
	}{
		{"", map[string]any{}, 0},
		{"classes=sport", map[string]any{"classes": []any{"sport"}}, 0},
		{"classes=sport&classes=kunst", map[string]any{"classes": []any{"sport", "kunst"}}, 0},
		{"classes=", map[string]any{}, 0},
		{"classes=ballett", map[string]any{"classes": []any{"ballett"}}, 0},
		{"classes%5B0%5D=sport", map[string]any{}, 1},
	}
	for _, tt := range tests {
		vals, _ := url.ParseQuery(tt.body)
		d := newFormDecoder(&postedForm{values: vals}, nil, formAction{kind: "continue"})
		got := d.page(page, map[string]any{})
		if !reflect.DeepEqual(map[string]any(got), tt.want) || len(d.rejected) != tt.rejected {
			t.Errorf("%q: got %v (rejected %v), want %v (%d rejected)", tt.body, got, d.rejected, tt.want, tt.rejected)
		}
	}
}
