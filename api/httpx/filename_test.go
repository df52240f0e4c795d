package httpx

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestFileName(t *testing.T) {
	long := strings.Repeat("ä", 150) + ".pdf"
	for _, tt := range []struct{ in, want string }{
		{"Nachweis-Müller.pdf", "Nachweis-Müller.pdf"},
		{`C:\Users\anna\Bescheid.pdf`, "Bescheid.pdf"},
		{"../../etc/passwd", "passwd"},
		{"a\x00b\x01c\td\ne\x7f.pdf", "abcde.pdf"},
		{"rechnung\u202Efdp.exe", "rechnungfdp.exe"},
		{"\xff\xfe.pdf", "\uFFFD.pdf"},
		{"  bild.png  ", "bild.png"},
		{"", "upload"},
		{"..", "upload"},
		{"dir/", "upload"},
		{"\x01\x02", "upload"},
		{long, strings.Repeat("ä", 100)},
	} {
		got := FileName(tt.in)
		if got != tt.want {
			t.Errorf("FileName(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if len(got) > MaxFileName || !utf8.ValidString(got) {
			t.Errorf("FileName(%q) = %q: too long or not UTF-8", tt.in, got)
		}
	}
}
