package mongostore

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/amtsform/amtsform/engine/record"
)

// plainSubmissionDoc is submissionDoc without its MarshalBSON: the
// driver's reflection codec encodes it.
type plainSubmissionDoc submissionDoc

// fill sets every field below v to a value that is not its zero value
// (one entry in each slice and map), so that a field added to a stored
// struct is compared without changing this test.
func fill(v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("s-" + v.Type().Name())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(2.5)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Struct:
		if v.Type() == tTime {
			v.Set(reflect.ValueOf(time.Date(2026, 3, 1, 10, 30, 0, 123456789, time.UTC)))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), depth+1)
			}
		}
	case reflect.Slice:
		if depth < 6 {
			s := reflect.MakeSlice(v.Type(), 1, 1)
			fill(s.Index(0), depth+1)
			v.Set(s)
		}
	case reflect.Pointer:
		if depth < 6 {
			p := reflect.New(v.Type().Elem())
			fill(p.Elem(), depth+1)
			v.Set(p)
		}
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		if v.Type().Key().Kind() == reflect.String {
			e := reflect.New(v.Type().Elem()).Elem()
			if e.Kind() == reflect.Interface {
				e.Set(reflect.ValueOf("v"))
			} else {
				fill(e, depth+1)
			}
			m.SetMapIndex(reflect.ValueOf("k"), e)
		}
		v.Set(m)
	case reflect.Interface:
		v.Set(reflect.ValueOf("any"))
	}
}

// canon turns a BSON value into Go values in which a document is a map
// (its order does not count: a Go map has none) and every scalar keeps
// its BSON type.
func canon(t *testing.T, v bson.RawValue) any {
	t.Helper()
	switch v.Type {
	case bson.TypeEmbeddedDocument:
		elems, err := v.Document().Elements()
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]any{}
		for _, e := range elems {
			m[e.Key()] = canon(t, e.Value())
		}
		return m
	case bson.TypeArray:
		vals, err := v.Array().Values()
		if err != nil {
			t.Fatal(err)
		}
		out := []any{}
		for _, x := range vals {
			out = append(out, canon(t, x))
		}
		return out
	}
	return [2]any{v.Type, string(v.Value)}
}

func topKeys(t *testing.T, raw []byte) []string {
	elems, err := bson.Raw(raw).Elements()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range elems {
		out = append(out, e.Key())
	}
	return out
}

// TestEncodingMatchesReflection: the submission's own encoder writes the
// document the driver's codecs write, for every field (also those added
// later) and for every kind of answer.
func TestEncodingMatchesReflection(t *testing.T) {
	full := &submissionDoc{}
	fill(reflect.ValueOf(full).Elem(), 0)
	full.Data = map[string]any{
		"s": "Jürgen", "i": int64(-3), "f": 2.5, "b": false, "n": nil, "int": 5, "i32": int32(9),
		"num": json.Number("12"), "t": time.Date(1969, 7, 20, 20, 17, 40, 900_000_000, time.UTC),
		"m": map[string]any{"a": []any{int64(1), "x", map[string]any{"deep": true}}, "empty": map[string]any{}},
		"l": []any{}, "nilList": []any(nil), "nilMap": map[string]any(nil),
	}
	cases := map[string]*submissionDoc{
		"every field": full,
		"as submitted": {
			ID: "musterstadt/KITA-2026-000001", Ref: "KITA-2026-000001", Tenant: "musterstadt",
			Service: serviceDoc{ID: "kita", Version: "1.0.0", Hash: "abc"},
			Data:    map[string]any{"income": int64(24000)}, Computed: []computedDoc{{Path: "coverage", Value: 0.5}},
			Status: "submitted", Created: time.Now(), Updated: time.Now(), Version: 1,
			Events: []eventDoc{{ID: "e1", Type: "submitted", At: time.Now(), Data: map[string]any{"status": "submitted"}}, {ID: "e2"}},
			Outbox: []eventDoc{},
		},
		"zero": {},
	}
	for name, d := range cases {
		t.Run(name, func(t *testing.T) {
			fast, err := bson.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			slow, err := bson.Marshal((*plainSubmissionDoc)(d))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := topKeys(t, fast), topKeys(t, slow); !reflect.DeepEqual(got, want) {
				t.Fatalf("fields %v, want %v", got, want)
			}
			got := canon(t, bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: fast})
			want := canon(t, bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: slow})
			if !reflect.DeepEqual(got, want) {
				t.Errorf("MarshalBSON\n %v\nreflection\n %v", got, want)
			}
			var back submissionDoc
			if err := bson.Unmarshal(fast, &back); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func BenchmarkEncodeSubmission(b *testing.B) {
	d := &submissionDoc{
		ID: "musterstadt/KITA-2026-000001", Ref: "KITA-2026-000001", Tenant: "musterstadt",
		Service: serviceDoc{ID: "kita-gebuehren", Version: "1.0.0", Hash: "0123456789abcdef0123456789abcdef"},
		Data: map[string]any{
			"applicant": map[string]any{"givenName": "Anna", "familyName": "Schäfer", "birthDate": "1988-04-12"},
			"address":   map[string]any{"street": "Hauptstraße", "houseNumber": "12", "postalCode": "65719", "city": "Hofheim"},
			"email":     "anna.schaefer@example.org", "income": int64(24000), "iban": "DE89370400440532013000",
			"children": []any{
				map[string]any{"name": "Mia", "birthDate": "2021-05-01", "careType": "kindergarten", "monthlyFee": int64(25000)},
				map[string]any{"name": "Paul", "birthDate": "2023-02-11", "careType": "krippe", "monthlyFee": int64(32000)},
			},
		},
		Computed: []computedDoc{{Path: "coverage", Value: 0.5}, {Path: "total", Value: int64(57000)}},
		Status:   "submitted", Created: time.Now(), Updated: time.Now(), Version: 1,
		Idem: "key/musterstadt/x", IdemKey: "x", PayloadHash: "ffff",
		Events: []eventDoc{{ID: "e1", Tenant: "musterstadt", Type: "submitted", At: time.Now(), Actor: "citizen", Data: map[string]any{"service": "kita", "version": "1.0.0", "status": "submitted"}},
			{ID: "e2", Tenant: "musterstadt", Type: "routed", At: time.Now(), Actor: "system", Data: map[string]any{"office": "amt"}}},
		Outbox: []eventDoc{},
	}
	b.Run("MarshalBSON", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := bson.Marshal(d); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reflection", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := bson.Marshal((*plainSubmissionDoc)(d)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestPlainMap: a fresh submission answers with the validated answers
// themselves when they are plain values, and with a normalised copy
// otherwise.
func TestPlainMap(t *testing.T) {
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		in     map[string]any
		shared bool
		want   map[string]any
	}{
		{"plain", map[string]any{"a": "x", "n": int64(1), "f": 0.5, "b": true, "z": nil, "t": at, "l": []any{map[string]any{"k": "v"}}}, true, nil},
		{"nil", nil, true, nil},
		{"int", map[string]any{"n": 1}, false, map[string]any{"n": int64(1)}},
		{"nested int32", map[string]any{"l": []any{map[string]any{"n": int32(2)}}}, false, map[string]any{"l": []any{map[string]any{"n": int64(2)}}}},
		{"local time", map[string]any{"t": at.In(time.FixedZone("CET", 3600))}, false, map[string]any{"t": at}},
		{"bson.D", map[string]any{"d": bson.D{{Key: "k", Value: "v"}}}, false, map[string]any{"d": map[string]any{"k": "v"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := plainMap(tt.in)
			if tt.shared {
				if !reflect.DeepEqual(got, tt.in) || (tt.in != nil && reflect.ValueOf(got).Pointer() != reflect.ValueOf(tt.in).Pointer()) {
					t.Fatalf("plainMap copied or changed a plain map: %v", got)
				}
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("plainMap = %#v, want %#v", got, tt.want)
			}
		})
	}
}

// TestInsertSorted: rows inserted in any order (equal times, older and
// newer ones) end up as a stable sort would put them.
func TestInsertSorted(t *testing.T) {
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var rows []*record.Submission
	for i, m := range []int{5, 1, 5, 9, 0, 9, 3, 5, 10, 2} {
		rows = append(rows, &record.Submission{Tenant: "t", Ref: fmt.Sprintf("R%02d", i), Created: base.Add(time.Duration(m) * time.Minute)})
	}
	var l []*record.Submission
	for _, r := range rows {
		l = insertSorted(l, r, less)
	}
	want := append([]*record.Submission(nil), rows...)
	sort.SliceStable(want, func(i, j int) bool { return less(want[i], want[j]) })
	for i := range want {
		if l[i] != want[i] {
			t.Fatalf("position %d: %s, want %s", i, l[i].Ref, want[i].Ref)
		}
	}
}
