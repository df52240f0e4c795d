package citizen

import (
	"strings"
	"testing"
)

func TestCheckEmail(t *testing.T) {
	for _, ok := range []string{"a@example.org", "jürgen.müßig@beispiel.de", "x+tag@sub.example.co.uk", " a@example.org "} {
		if _, msg := checkEmail(ok, "de"); msg != "" {
			t.Errorf("%q refused: %s", ok, msg)
		}
	}
	for _, bad := range []string{"", "a", "a@", "@example.org", "a@example", "a@example.", "a@.example.org", "a@ex..org",
		"a b@example.org", "<a@example.org>", "A <a@example.org>", "a@example.org\r\nBcc: b@example.org", "a@[10.0.0.1]",
		strings.Repeat("a", 65) + "@example.org", "a@" + strings.Repeat("b", 250) + ".org"} {
		if _, msg := checkEmail(bad, "en"); msg == "" {
			t.Errorf("%q accepted", bad)
		}
	}
}
