package record

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"math"
	"strings"
	"testing"
	"time"
)

// hashPayloadReflect is HashPayload as it was first written: every part
// through json.Encoder. Stored hashes were made this way, so the fast
// path must agree with it byte for byte.
func hashPayloadReflect(parts ...any) string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	for _, p := range parts {
		if err := enc.Encode(p); err != nil {
			io.WriteString(h, err.Error())
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestHashPayloadMatchesEncodingJSON(t *testing.T) {
	deep := any("leaf")
	for i := 0; i < 150; i++ {
		deep = []any{deep}
	}
	tests := []struct {
		name  string
		parts []any
	}{
		{"kita", []any{"api/v1/submissions", "kita-gebuehren", map[string]any{
			"applicant": map[string]any{"givenName": "Anna", "familyName": "Schäfer"},
			"children":  []any{map[string]any{"name": "Mia", "monthlyFee": json.Number("250.00")}},
			"income":    json.Number("24000"), "consent": true, "remarks": nil,
		}}},
		{"store parts", []any{"kita-gebuehren", map[string]any{"income": int64(24000), "rate": 0.5}, []string{"f1", "f2"}}},
		{"nil list of files", []any{"svc", map[string]any{}, []string(nil)}},
		{"nil values", []any{map[string]any(nil), []any(nil), nil}},
		{"escapes", []any{"<a href=\"x\">&</a>", "tab\there", "\x00\x1f\x7f", "line\u2028sep\u2029", "bad \xff utf-8", `back\slash`}},
		{"keys needing escapes", []any{map[string]any{"<k>": 1, "ä": 2, "a\"b": 3, "": 4, "Z": 5, "a": 6}}},
		{"numbers", []any{json.Number(""), json.Number("-0"), json.Number("1e5"), json.Number("1.5E-3"), json.Number("0.10"), int64(-42), 7}},
		{"invalid number", []any{json.Number("01")}},
		{"invalid number inside", []any{map[string]any{"n": json.Number("1.")}}},
		{"number not a number", []any{json.Number("abc")}},
		{"floats", []any{0.0, math.Copysign(0, -1), 1e-7, 1e-6, 123456789.125, 1e20, 1e21, 1.5e300, -2.5e-10, 3.0}},
		{"not finite", []any{math.Inf(1)}},
		{"nan inside", []any{[]any{1.0, math.NaN()}}},
		{"other types", []any{time.Date(2026, 12, 1, 14, 0, 0, 5, time.UTC), int32(5), []int{1, 2}, map[string]string{"b": "2", "a": "1"}, struct{ A int }{1}}},
		{"other type inside", []any{map[string]any{"at": time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}},
		{"deep", []any{deep}},
		{"unencodable", []any{func() {}, make(chan int)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := HashPayload(tt.parts...), hashPayloadReflect(tt.parts...); got != want {
				t.Errorf("HashPayload = %s, encoding/json gives %s", got, want)
			}
		})
	}
}

// TestHashPayloadStable pins one hash as stored by earlier versions.
func TestHashPayloadStable(t *testing.T) {
	got := HashPayload("api/v1/submissions", "kita-gebuehren", map[string]any{"b": json.Number("1"), "a": []any{"x", true, nil}})
	if want := hashPayloadReflect("api/v1/submissions", "kita-gebuehren", map[string]any{"b": json.Number("1"), "a": []any{"x", true, nil}}); got != want {
		t.Fatalf("HashPayload = %s, want %s", got, want)
	}
}

// FuzzHashPayload decodes JSON as the API does (numbers kept as
// json.Number), also as float64s, and compares both hashes with
// encoding/json's.
func FuzzHashPayload(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":[true,null,"x"],"c":{"d":"<&>"}}`,
		`{"name":"Schäfer","fee":250.00,"n":-0.0e+0}`,
		`["\u2028","\ud800",1e400,"\u0000"]`,
		`{"":{"":[[[]]]}}`,
		`1.5e-7`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, number := range []bool{true, false} {
			d := json.NewDecoder(bytes.NewReader(data))
			if number {
				d.UseNumber()
			}
			var v any
			if d.Decode(&v) != nil {
				return
			}
			if got, want := HashPayload("p", v), hashPayloadReflect("p", v); got != want {
				t.Fatalf("UseNumber=%v: %s vs encoding/json %s for %s", number, got, want, strings.TrimSpace(string(data)))
			}
		}
	})
}

func BenchmarkHashPayload(b *testing.B) {
	doc := map[string]any{
		"applicant": map[string]any{"givenName": "Anna", "familyName": "Schäfer", "birthDate": "1988-04-12"},
		"address":   map[string]any{"street": "Hauptstraße", "houseNumber": "12", "postalCode": "65719", "city": "Hofheim"},
		"email":     "anna.schaefer@example.org", "income": json.Number("24000"), "iban": "DE89370400440532013000",
		"children": []any{
			map[string]any{"name": "Mia", "birthDate": "2021-05-01", "careType": "kindergarten", "monthlyFee": json.Number("250")},
			map[string]any{"name": "Paul", "birthDate": "2023-02-11", "careType": "krippe", "monthlyFee": json.Number("320")},
		},
	}
	b.Run("canonical", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			HashPayload("api/v1/submissions", "kita-gebuehren", doc)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			hashPayloadReflect("api/v1/submissions", "kita-gebuehren", doc)
		}
	})
}
