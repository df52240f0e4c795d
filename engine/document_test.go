package engine

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// TestParseDocumentErrorPaths: errors name the path where reading
// stopped, and limits are ErrTooLarge.
func TestParseDocumentErrorPaths(t *testing.T) {
	lim := Limits{MaxBytes: 1000, MaxDepth: 4, MaxItems: 2, MaxKeys: 3, MaxString: 5, MaxNumbers: 5}
	tests := []struct {
		in, path string
		tooLarge bool
	}{
		{`{"a":{"b":[1,{"c":tru}]}}`, "a.b[1].c", false},
		{`{"a":{"b":[1,2,3]}}`, "a.b", true},
		{`{"a":[{"s":"123456"}]}`, "a[0].s", true},
		{`{"a":{"n":123456}}`, "a.n", true},
		{`{"a":{"b":{"c":{"d":{}}}}}`, "a.b.c.d", true},
		{`{"a":{"x":1,"x":2}}`, "a.x", false},
		{`{"a":{"w":1,"x":2,"y":3,"z":4}}`, "a", true},
		{`{"a":[1 2]}`, "a", false},
		{`{"a":"\q"}`, "a", false},
		{`{"a":-}`, "a", false},
		{`{"a":1.e3}`, "a", false},
		{`{"a":"x`, "a", false},
		{`{"a"}`, "a", false},
		{``, "", false},
	}
	for _, tt := range tests {
		_, err := ParseDocument(strings.NewReader(tt.in), lim)
		var de *DocumentError
		if !errors.As(err, &de) {
			t.Errorf("%s: error %v, want a *DocumentError", tt.in, err)
			continue
		}
		if de.Path != tt.path || errors.Is(err, ErrTooLarge) != tt.tooLarge {
			t.Errorf("%s: %v (path %q, too large %v), want path %q, too large %v", tt.in, err, de.Path, errors.Is(err, ErrTooLarge), tt.path, tt.tooLarge)
		}
	}
}

// TestParseDocumentValues: numbers keep their text, escapes are decoded,
// and names and texts do not change when the document's buffer does.
func TestParseDocumentValues(t *testing.T) {
	in := `{"n":[3,3.0,-0,1e400,99999999999999999999],"s":"a\"\\\/\b\f\n\r\t\u00e4\ud83d\ude00","e":[],"o":{},"t":true,"f":false,"z":null}`
	got, err := ParseDocument(strings.NewReader(in), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"n": []any{json.Number("3"), json.Number("3.0"), json.Number("-0"), json.Number("1e400"), json.Number("99999999999999999999")},
		"s": "a\"\\/\b\f\n\r\tä😀",
		"e": []any{}, "o": map[string]any{}, "t": true, "f": false, "z": nil,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v\nwant %#v", got, want)
	}
}

// TestValidatorDeepPath: paths deeper than the validator's inline
// segments render in full.
func TestValidatorDeepPath(t *testing.T) {
	var vd validator
	var want []string
	for i := range len(vd.segs) + 5 {
		name := string(rune('a' + i%26))
		vd.push(name, -1)
		want = append(want, name)
	}
	vd.push("", 7)
	if got, w := vd.path(), strings.Join(want, ".")+"[7]"; got != w {
		t.Errorf("path %q, want %q", got, w)
	}
	vd.pop()
	vd.pop()
	if got, w := vd.path(), strings.Join(want[:len(want)-1], "."); got != w {
		t.Errorf("after pop: path %q, want %q", got, w)
	}
}
