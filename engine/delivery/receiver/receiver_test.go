package receiver

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	secret := []byte("geheim")
	body := []byte(`{"deliveryId":"x","data":{"a":1}}`)
	now := time.Unix(1_800_000_000, 0)
	ts, sig := Sign(secret, body, now)
	if ts != "1800000000" || len(sig) != 128 {
		t.Fatalf("headers %q %q", ts, sig)
	}
	for _, tc := range []struct {
		name   string
		secret []byte
		ts     string
		sig    string
		body   []byte
		at     time.Time
		want   error
	}{
		{"valid", secret, ts, sig, body, now, nil},
		{"valid after 4m59s", secret, ts, sig, body, now.Add(4*time.Minute + 59*time.Second), nil},
		{"changed body", secret, ts, sig, []byte(`{"deliveryId":"x","data":{"a":2}}`), now, ErrSignature},
		{"wrong secret", []byte("falsch"), ts, sig, body, now, ErrSignature},
		{"older than 5 minutes", secret, ts, sig, body, now.Add(5*time.Minute + time.Second), ErrStale},
		{"from the future", secret, ts, sig, body, now.Add(-6 * time.Minute), ErrStale},
		{"changed timestamp", secret, "1800000001", sig, body, now, ErrSignature},
		{"no timestamp", secret, "", sig, body, now, ErrStale},
		{"no signature", secret, ts, "", body, now, ErrSignature},
		{"not hex", secret, ts, strings.Repeat("zz", 64), body, now, ErrSignature},
		{"upper-case hex of the right mac", secret, ts, strings.ToUpper(sig), body, now, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.secret, tc.ts, tc.sig, tc.body, tc.at)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestReadVerified(t *testing.T) {
	secret := []byte("geheim")
	body := `{"ok":true}`
	ts, sig := Sign(secret, []byte(body), time.Now())
	r := httptest.NewRequest("POST", "/", strings.NewReader(body))
	r.Header.Set(HeaderTimestamp, ts)
	r.Header.Set(HeaderSignature, sig)
	b, err := ReadVerified(r, secret, 1<<10)
	if err != nil || string(b) != body {
		t.Fatalf("ReadVerified = %q, %v", b, err)
	}
	r = httptest.NewRequest("POST", "/", strings.NewReader(body))
	r.Header.Set(HeaderTimestamp, ts)
	r.Header.Set(HeaderSignature, sig)
	if _, err := ReadVerified(r, secret, 5); err == nil {
		t.Fatal("a body beyond the limit was read")
	}
}
