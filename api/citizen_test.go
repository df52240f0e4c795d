package api

import (
	"bytes"
	"errors"
	"html/template"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/record"
	"github.com/amtsform/amtsform/ui"
)

func loadService(t testing.TB, name string) *engine.Service {
	t.Helper()
	for _, s := range exampleServices(t) {
		if s.ID == name {
			return s
		}
	}
	t.Fatalf("no example %s", name)
	return nil
}

// pdfText extracts the text of a PDF with pdftotext; the test is skipped
// when poppler-utils is not installed.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("not a PDF: %.20q", pdf)
	}
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Skip("pdftotext not installed (apt-get install poppler-utils)")
	}
	p := filepath.Join(t.TempDir(), "r.pdf")
	if err := os.WriteFile(p, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-enc", "UTF-8", p, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func kitaData() map[string]any {
	return map[string]any{
		"applicant": map[string]any{"givenName": "Jürgen", "familyName": "Müßig", "birthDate": "1985-04-02"},
		"address":   map[string]any{"street": "Hauptstraße", "houseNumber": "5a", "postalCode": "60311", "city": "Frankfurt am Main"},
		"children": []any{
			map[string]any{"name": "Lena", "birthDate": "2021-05-01", "careType": "krippe", "monthlyFee": int64(25050)},
			map[string]any{"name": "Önder", "birthDate": "2012-01-09", "careType": "hort", "monthlyFee": int64(1250)},
		},
		"income":     int64(2400000),
		"iban":       "DE89370400440532013000",
		"consent":    true,
		"coveredFee": int64(26300),
	}
}

func TestReceiptPDF(t *testing.T) {
	svc := loadService(t, "kita-gebuehren")
	sub := &record.Submission{
		Ref:      "KITA-2026-000042",
		Tenant:   "musterstadt",
		Data:     kitaData(),
		Computed: map[string]any{"coveredFee": int64(26300)},
		Office:   "jugendamt-frankfurt",
		Created:  time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC),
	}
	s := &Server{}
	for _, lang := range []string{"de", "en"} {
		pdf, err := s.receiptPDF(svc, sub, lang)
		if err != nil {
			t.Fatal(err)
		}
		text := pdfText(t, pdf)
		want := []string{"KITA-2026-000042", "Jürgen", "Müßig", "Hauptstraße", "Önder", "Jugendamt Frankfurt", "DE89370400440532013000"}
		if lang == "de" {
			want = append(want, "Übernahme von Kita-Gebühren", "Eingangsbestätigung", "01.03.2026, 10:30 Uhr",
				"250,50 €", "12,50 €", "24.000,00 €", "263,00 €", "Kind 2", "Krippe (unter 3 Jahren)", "Ja", "Vorname des Kindes")
		} else {
			want = append(want, "Coverage of daycare fees", "Receipt", "€250.50", "€24,000.00", "Child 2", "After-school care")
		}
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%s receipt lacks %q:\n%s", lang, w, text)
			}
		}
	}
}

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
		if got := formatMoney(c.cents, "de"); got != c.de {
			t.Errorf("%d de: %q, want %q", c.cents, got, c.de)
		}
		if got := formatMoney(c.cents, "en"); got != c.en {
			t.Errorf("%d en: %q, want %q", c.cents, got, c.en)
		}
	}
}

func uiTemplates() (*template.Template, error) { return ui.Templates() }

func evalOpts() engine.Options {
	return engine.Options{Today: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
}

// TestDevPreview: in dev mode compile problems replace every citizen page,
// pages load dev.js, and /_dev/wait returns when the specs change.
func TestDevPreview(t *testing.T) {
	var (
		mu       sync.Mutex
		problems error
		changed  = make(chan struct{})
	)
	state := func() (error, <-chan struct{}) {
		mu.Lock()
		defer mu.Unlock()
		return problems, changed
	}
	ts := newTestServer(t, withConfig(func(c *Config) { c.Dev, c.DevState = true, state }))
	b := newBrowser(t, ts.URL(t))
	b.get("/"+testTenant+"/kita-gebuehren/").must(t, 200, "", "/static/dev.js")

	mu.Lock()
	problems = errors.New("examples/kita-gebuehren/service.cue:12:3: data.incme: no field \"incme\" in the data model\nexamples/kita-gebuehren/service.cue:40:1: second problem")
	mu.Unlock()
	p := b.get("/" + testTenant + "/kita-gebuehren/")
	p.must(t, 500, "", "service.cue:12:3", "second problem", "/static/dev.js")

	done := make(chan page, 1)
	go func() { done <- b.get("/_dev/wait") }()
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	close(changed)
	changed, problems = make(chan struct{}), nil
	mu.Unlock()
	select {
	case w := <-done:
		if w.status != 200 {
			t.Fatalf("/_dev/wait: %d", w.status)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("/_dev/wait did not return on a change")
	}
	b.get("/"+testTenant+"/kita-gebuehren/").must(t, 200, "", "Antrag starten")

	// Without dev mode there is no wait endpoint and no script.
	plain := newTestServer(t)
	pb := newBrowser(t, plain.URL(t))
	pb.get("/_dev/wait").must(t, 404, "")
	if strings.Contains(pb.get("/"+testTenant+"/kita-gebuehren/").body, "dev.js") {
		t.Fatal("dev.js outside dev mode")
	}
}
