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
