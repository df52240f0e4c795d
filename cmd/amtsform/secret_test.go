package main

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

func TestParseSecret(t *testing.T) {
	random := make([]byte, 32)
	for i := range random {
		random[i] = byte(i*37 + 11)
	}
	for _, tc := range []struct {
		name, secret string
		ok           bool
	}{
		{"a word (recovered offline in 0.4 s before)", "kita", false},
		{"a long passphrase, not encoded", "the quick brown fox jumps over the lazy dog again", false},
		{"hex, 32 bytes", hex.EncodeToString(random), true},
		{"hex with a newline", hex.EncodeToString(random) + "\n", true},
		{"hex, 16 bytes", hex.EncodeToString(random[:16]), false},
		{"base64, 32 bytes", base64.StdEncoding.EncodeToString(random), true},
		{"base64url unpadded", base64.RawURLEncoding.EncodeToString(random), true},
		{"32 equal bytes", strings.Repeat("00", 32), false},
		{"a repeated pattern", strings.Repeat("0102", 16), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := parseSecret(tc.secret)
			if (err == nil) != tc.ok {
				t.Fatalf("parseSecret: %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "openssl rand -hex 32") {
				t.Errorf("the error does not say how to make a secret: %v", err)
			}
			if tc.ok && len(b) < 32 {
				t.Errorf("%d bytes", len(b))
			}
		})
	}
}
