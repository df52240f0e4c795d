package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

var (
	kitaOnce sync.Once
	kitaSvc  *Service
	kitaErr  error
)

func kita(t testing.TB) *Service {
	kitaOnce.Do(func() { kitaSvc, kitaErr = Load("../examples/kita-gebuehren") })
	if kitaErr != nil {
		t.Fatal(kitaErr)
	}
	return kitaSvc
}

// FuzzValidate feeds arbitrary bytes through the document parser and the
// whole evaluation of the Kita service: no input may panic, every error
// must be a *DocumentError, every field error must carry a path and a
// code, and the result is the same whether the rules read the document
// handed over or a copy.
func FuzzValidate(f *testing.F) {
	s := kita(f)
	for _, t := range s.Tests {
		b, _ := jsonMarshal(t.Input)
		f.Add(b)
	}
	f.Add([]byte(`{"children":[{"monthlyFee":1e400}],"income":-0}`))
	f.Add([]byte(`{"item":{"x":1},"today":"x","coveredFee":"a"}`))
	f.Add([]byte(`[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := ParseDocument(bytes.NewReader(data), Limits{})
		if err != nil {
			var de *DocumentError
			if !errors.As(err, &de) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		again, _ := ParseDocument(bytes.NewReader(data), Limits{})
		today := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
		r := s.Evaluate(doc, Options{Today: today, Owned: true})
		// Rules reading the document itself, or a copy: the same result.
		if rc := s.Evaluate(again, Options{Today: today, copyView: true}); !reflect.DeepEqual(r, rc) {
			t.Fatalf("owned and shared: %+v\ncopy: %+v", r, rc)
		}
		for _, e := range r.Errors {
			if e.Code == "" {
				t.Fatalf("error without code: %+v", e)
			}
		}
		if r.Valid() && r.Office == "" {
			t.Fatal("valid document without office")
		}
	})
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// FuzzParseDocument compares ParseDocument with encoding/json: on input
// encoding/json accepts, ParseDocument gives the same value unless the
// input is outside what a document may be (not an object, a member given
// twice, invalid UTF-8, a limit); on input encoding/json rejects, it
// fails too. It never panics, and every error is a *DocumentError.
func FuzzParseDocument(f *testing.F) {
	for _, s := range []string{
		`{"a":1}`, `{}`, `{"a":[1,2,{"b":null}],"c":"x\u00e4\ud83d\ude00\n"}`,
		`{"n":-0.5e+10,"m":1E400,"k":0}`, `{"s":"\ud800\ud800\udc00"}`, `{"s":"\udc00x"}`,
		`{"a":01}`, `{"a":1.}`, `{"a":"\x"}`, `{"a":tru}`, `{"a":1,}`, `[1]`, `{"a":1} {}`,
		`{"a":1,"a":2}`, " \t\n{\r\n} ", `{"a":"` + "\x01" + `"}`, "{\"a\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	s := kita(f)
	for _, t := range s.Tests {
		b, _ := jsonMarshal(t.Input)
		f.Add(b)
	}
	wide := Limits{MaxBytes: 1 << 20, MaxDepth: 1 << 20, MaxItems: 1 << 20, MaxKeys: 1 << 20, MaxString: 1 << 20, MaxNumbers: 1 << 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseDocument(bytes.NewReader(data), wide)
		var std any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		stdErr := dec.Decode(&std)
		if stdErr == nil && !json.Valid(data) {
			stdErr = errors.New("trailing data")
		}
		if err != nil {
			var de *DocumentError
			if !errors.As(err, &de) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if stdErr == nil {
				_, isObject := std.(map[string]any)
				if isObject && utf8.Valid(data) && !errors.Is(err, ErrTooLarge) && !strings.Contains(err.Error(), "given twice") {
					t.Fatalf("ParseDocument: %v; encoding/json accepts %q", err, data)
				}
			}
			return
		}
		if stdErr != nil {
			t.Fatalf("ParseDocument accepts %q; encoding/json: %v", data, stdErr)
		}
		if !reflect.DeepEqual(any(got), std) {
			t.Fatalf("%q:\n ParseDocument %#v\n encoding/json %#v", data, got, std)
		}
	})
}
