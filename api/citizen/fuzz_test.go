package citizen

import (
	"net/url"
	"sync"
	"testing"

	"github.com/amtsform/amtsform/api/apitest"
	"github.com/amtsform/amtsform/engine"
)

var (
	fuzzOnce sync.Once
	fuzzSvcs []*engine.Service
)

// FuzzFormDecode feeds arbitrary form bodies and button values to the
// decoder of every page of every example, then evaluates the result:
// nothing may panic, whatever a client posts.
func FuzzFormDecode(f *testing.F) {
	fuzzOnce.Do(func() {
		var err error
		fuzzSvcs, err = engine.LoadServices([]string{apitest.ExamplesDir()})
		if err != nil {
			f.Fatal(err)
		}
	})
	f.Add("applicant.givenName=J%C3%BCrgen&income=24.000,50&children%5B0%5D.monthlyFee=12,5&_n:children=3", "add:children")
	f.Add("children%5B9999999999%5D.name=x&_n:children=-1&dogs%5B0%5D.breed=rottweiler", "remove:children:99")
	f.Add("income=1e400&consent=on&iban=DE89+3704", "clear:incomeProof")
	f.Add("a=%FF%FE&&=&_n:dogs=abc", "")
	f.Fuzz(func(t *testing.T, body, action string) {
		vals, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		act, err := parseAction(action)
		if err != nil {
			return
		}
		for _, s := range fuzzSvcs {
			for _, p := range s.Form.Pages {
				d := newFormDecoder(&postedForm{values: vals}, nil, act)
				doc := d.page(p, map[string]any{})
				s.Evaluate(map[string]any(doc), engine.Options{})
			}
		}
	})
}
