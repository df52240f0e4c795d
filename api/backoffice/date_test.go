package backoffice

import (
	"testing"
	"time"
)

func TestParseDate(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip(err)
	}
	s := &server{zone: berlin}
	tests := []struct {
		in   string
		want string // yyyy-mm-dd, "" for an error
	}{
		{"2026-12-31", "2026-12-31"},
		{" 2026-12-31 ", "2026-12-31"},
		{"31.12.2026", "2026-12-31"},
		{"1.2.2027", "2027-02-01"},
		{"01.02.2027", "2027-02-01"},
		{"31.02.2026", ""},
		{"2026-02-30", ""},
		{"12/31/2026", ""},
		{"31.12.26", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, err := s.parseDate(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("parseDate(%q) = %v, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got.Format("2006-01-02") != tt.want || got.Location() != berlin || got.Hour() != 0 {
			t.Errorf("parseDate(%q) = %v, %v; want the start of %s in Berlin", tt.in, got, err, tt.want)
		}
	}
}
