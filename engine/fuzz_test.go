package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"sync"
	"testing"
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
// must be a *DocumentError, and every field error must carry a path and a
// code.
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
		r := s.Evaluate(doc, Options{})
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
