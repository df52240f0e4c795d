package intake_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"testing"

	"github.com/amtsform/amtsform/engine/intake"
)

// TestStatusSecretStable: status secrets are derived, never stored, so
// the derivation must not change: HMAC-SHA256 over tenant, NUL and
// reference, the first 15 bytes as base64url. Two installations' secrets
// are used in turn and concurrently (the keyed HMACs are reused).
func TestStatusSecretStable(t *testing.T) {
	want := func(secret, tenant, ref string) string {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(tenant + "\x00" + ref))
		return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:15])
	}
	a := &intake.Intake{Secret: []byte("secret-secret-secret-secret-1234")}
	b := &intake.Intake{Secret: []byte("another-installation-secret-5678")}
	// Python: hmac.new(secret, b"musterstadt\x00KITA-2026-000001", sha256)
	if got := a.StatusSecret("musterstadt", "KITA-2026-000001"); got != "ncMP7GuWEnNR2WDvEKtO" {
		t.Fatalf("secret %q changed", got)
	}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, ref := range []string{"KITA-2026-000001", "HUND-2026-000002", "", "GEB-2027-1"} {
				for _, e := range []*intake.Intake{a, b, a} {
					if got, w := e.StatusSecret("musterstadt", ref), want(string(e.Secret), "musterstadt", ref); got != w {
						t.Errorf("%d: %q, want %q", i, got, w)
					}
				}
			}
		}()
	}
	wg.Wait()
}
