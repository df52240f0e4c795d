package citizen

import (
	"io"
	"testing"
	"time"

	"github.com/amtsform/amtsform/api/apitest"
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/ui"
)

// BenchmarkRenderTemplate measures the template alone, without the store.
func BenchmarkRenderTemplate(b *testing.B) {
	svc := apitest.Example(b, "kita-gebuehren")
	s := &server{}
	tmpl, err := ui.Templates()
	if err != nil {
		b.Fatal(err)
	}
	s.tmpl = tmpl
	data := apitest.KitaData()
	res := svc.Evaluate(data, engine.Options{Today: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)})
	page := svc.Form.Page("kinder")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		st := &formState{svc: svc, lang: "de", data: data, computed: res.Computed, hidden: hiddenSet(res.Hidden),
			errs: map[string][]string{}, placed: map[string]bool{}, labels: map[string]string{}}
		p := &pageData{Lang: "de", Fields: st.pageFields(page), Step: 2, Steps: 3}
		if err := s.tmpl.ExecuteTemplate(io.Discard, "page.html", p); err != nil {
			b.Fatal(err)
		}
	}
}
