// Package apitest holds test fixtures that the tests of several api
// packages share: the compiled example services, a filled-in Kita
// application, the text of a PDF and a cleaner for fuzzed header
// values. It is imported by tests only.
package apitest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/amtsform/amtsform/engine"
)

// The example services are compiled once per test binary (CUE is slow);
// compiled services are immutable and safe to share.
var (
	examplesOnce sync.Once
	examplesSvcs []*engine.Service
	examplesErr  error
)

// ExamplesDir is the examples/ directory of the repository.
func ExamplesDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "examples")
}

// Examples returns the compiled services of examples/.
func Examples(t testing.TB) []*engine.Service {
	t.Helper()
	examplesOnce.Do(func() {
		examplesSvcs, examplesErr = engine.LoadServices([]string{ExamplesDir()})
	})
	if examplesErr != nil {
		t.Fatal(examplesErr)
	}
	return examplesSvcs
}

// Example returns the compiled example service id.
func Example(t testing.TB, id string) *engine.Service {
	t.Helper()
	for _, s := range Examples(t) {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("no example %s", id)
	return nil
}

// KitaData is a complete document of the kita-gebuehren example, with
// umlauts and ß in names, two children and a covered fee.
func KitaData() map[string]any {
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

// PDFText extracts the text of a PDF with pdftotext; the test is skipped
// when poppler-utils is not installed.
func PDFText(t *testing.T, pdf []byte) string {
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

// HeaderValue returns s without carriage returns, line feeds and NUL
// bytes, which would end a header line early or make the request
// unreadable, so that a fuzzed string can be sent as a header value.
func HeaderValue(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == 0 {
			return -1
		}
		return r
	}, s)
}
