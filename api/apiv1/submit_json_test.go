package apiv1

import (
	"encoding/json"
	"testing"
	"time"
)

// TestSubmissionJSON: the answer of a submit is what encoding/json
// writes, byte for byte, also for texts it escapes and odd times.
func TestSubmissionJSON(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, s := range []Submission{
		{},
		{Reference: "KITA-2026-000042", Status: "submitted", Office: "jugendamt", Created: time.Date(2026, 12, 1, 11, 0, 0, 123_000_000, time.UTC),
			StatusSecret: "aB-_09", StatusURL: "/api/v1/musterstadt/submissions/KITA-2026-000042?secret=aB-_09", ReceiptURL: "/r.pdf?secret=x&y=<z>"},
		{Reference: "Ä\"\\\n\x00\u2028\x7f", Office: "a<b>&c", Created: time.Date(2026, 3, 29, 2, 30, 0, 0, berlin)},
		{Reference: string([]byte{0xff, 'a'}), Created: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Created: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		want, werr := json.Marshal(s)
		got, err := s.appendJSON(nil)
		if (werr != nil) != (err != nil) {
			t.Errorf("%+v: appendJSON error %v, encoding/json error %v", s, err, werr)
		}
		if werr != nil {
			continue // a year beyond 9999
		}
		if string(got) != string(want) {
			t.Errorf("appendJSON\n %s\nencoding/json\n %s", got, want)
		}
	}
}
