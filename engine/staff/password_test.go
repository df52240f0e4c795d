package staff

import (
	"strings"
	"testing"
)

func TestPasswordHash(t *testing.T) {
	h := hashPassword("correct horse battery", DefaultArgon2)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Count(h, "$") != 5 {
		t.Fatalf("hash %q is not a PHC argon2id string with the OWASP parameters", h)
	}
	if h2 := hashPassword("correct horse battery", DefaultArgon2); h2 == h {
		t.Error("two hashes of one password are equal (no salt)")
	}
	if ok, rehash := verifyPassword(h, "correct horse battery", DefaultArgon2); !ok || rehash {
		t.Errorf("verify = %v, rehash = %v", ok, rehash)
	}
	if ok, _ := verifyPassword(h, "correct horse batterx", DefaultArgon2); ok {
		t.Error("wrong password verified")
	}
	if ok, rehash := verifyPassword(h, "correct horse battery", Argon2Params{Memory: 65536, Time: 2, Threads: 1}); !ok || !rehash {
		t.Errorf("parameter change: verify = %v, rehash = %v, want true, true", ok, rehash)
	}
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=18$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$argon2id$v=19$m=0,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=19456,t=2,p=1$!!$aGFzaGhhc2hoYXNoaGFzaA", strings.Replace(h, "p=1", "p=0", 1)} {
		if ok, _ := verifyPassword(bad, "x", DefaultArgon2); ok {
			t.Errorf("malformed hash %q verified", bad)
		}
	}
}
