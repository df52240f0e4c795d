package httpx

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxFileName is the longest file name FileName keeps, in bytes.
const MaxFileName = 200

// FileName cleans the file name a client sent with an upload, for
// display and for the Content-Disposition of downloads only (files are
// stored by id): the base name after the last / or \, valid UTF-8,
// without control and format characters (such as U+202E, which turns
// "gpj.exe" around), trimmed and at most MaxFileName bytes; "upload"
// when nothing is left. Both audiences' uploads use it.
func FileName(n string) string {
	if i := strings.LastIndexAny(n, `/\`); i >= 0 {
		n = n[i+1:]
	}
	n = strings.ToValidUTF8(n, "\uFFFD")
	n = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, n)
	n = strings.TrimSpace(n)
	for len(n) > MaxFileName {
		_, size := utf8.DecodeLastRuneInString(n)
		n = n[:len(n)-size]
	}
	n = strings.TrimSpace(n)
	if n == "" || n == "." || n == ".." {
		n = "upload"
	}
	return n
}
