package engine

import (
	"math/rand"
	"regexp"
	"testing"
	"time"
)

// matchPatterns are the specs' patterns and some the fast matcher must
// decline (overlapping repeats, alternation, case folding).
var matchPatterns = []string{
	`^[0-9]{5}$`,
	`^[0-9]{1,4}[a-zA-Z]?([-/][0-9]{1,4}[a-zA-Z]?)?$`,
	`^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$`,
	`^[A-Za-z0-9_-]{8,64}$`,
	`^[^@\s]+@[^@\s]+\.[^@\s]+$`,
	`^amtsform:attachment$`,
	`^[0-9]*[0-9]$`,
	`^a+a$`,
	`^(ab|a)c$`,
	`^(?i)abc$`,
	`^.x?$`,
	`^ä{2,}ö*$`,
	`[0-9]{5}`,
	`^\d+(\.\d{1,2})?$`,
}

// TestMatchStringAgreesWithRegexp: the fast matcher answers as
// regexp.MatchString on random strings near each pattern's alphabet.
func TestMatchStringAgreesWithRegexp(t *testing.T) {
	rnd := rand.New(rand.NewSource(1))
	alphabet := []rune("0123456789aAbBcXZ-/_@. \n\tüäöä:\uFFFD")
	fast := 0
	for _, p := range matchPatterns {
		re := regexp.MustCompile(p)
		matcher := matcherFor(re)
		if _, ok := compileSeq(p); ok {
			fast++
		}
		inputs := []string{"", "60311", "23a", "12-14b", "DE89370400440532013000", "abcdefgh", "a@b.de", "amtsform:attachment", "ääö", "\xff\xfe", "1.25"}
		for range 3000 {
			r := make([]rune, rnd.Intn(12))
			for i := range r {
				r[i] = alphabet[rnd.Intn(len(alphabet))]
			}
			inputs = append(inputs, string(r))
		}
		for _, in := range inputs {
			if got, want := matcher(in), re.MatchString(in); got != want {
				t.Errorf("%s on %q: fast %v, regexp %v", p, in, got, want)
			}
		}
	}
	if fast < 6 {
		t.Errorf("only %d patterns take the fast path", fast)
	}
	for _, p := range []string{`^[0-9]*[0-9]$`, `^a+a$`, `^(ab|a)c$`, `^(?i)abc$`, `[0-9]{5}`, `^[^@\s]+@[^@\s]+\.[^@\s]+$`} {
		if _, ok := compileSeq(p); ok {
			t.Errorf("%s: taken by the fast path, which cannot decide it", p)
		}
	}
}

// FuzzValidDate: validDate agrees with time.Parse("2006-01-02").
func FuzzValidDate(f *testing.F) {
	for _, s := range []string{"2024-02-29", "2023-02-29", "1900-02-29", "2000-02-29", "0000-01-01", "2026-13-01", "2026-00-10", "2026-04-31", "2026-1-01", "2026-01-1x", "+026-01-01", "2026-12-31"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, err := time.Parse("2006-01-02", s)
		if got := validDate(s); got != (err == nil) {
			t.Fatalf("validDate(%q) = %v, time.Parse error %v", s, got, err)
		}
	})
}

// TestValidDateEveryDay walks every day of four centuries.
func TestValidDateEveryDay(t *testing.T) {
	for y := 1896; y <= 2104; y += 1 {
		for m := 1; m <= 12; m++ {
			for d := 0; d <= 32; d++ {
				s := time.Date(y, time.Month(m), 1, 0, 0, 0, 0, time.UTC).Format("2006-01-") + twoDigits(d)
				_, err := time.Parse("2006-01-02", s)
				if validDate(s) != (err == nil) {
					t.Fatalf("validDate(%q) = %v, time.Parse error %v", s, validDate(s), err)
				}
			}
		}
	}
}

func twoDigits(d int) string { return string([]byte{byte('0' + d/10), byte('0' + d%10)}) }
