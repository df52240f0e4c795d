package registry

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"cuelang.org/go/mod/module"
	"github.com/opencontainers/go-digest"
)

// An envelope as the hand-written encoder before go-securesystemslib
// wrote it (encoding/json statement, PAE by hand) still verifies: the
// on-registry format did not change.
func TestEnvelopeCompatible(t *testing.T) {
	s := mustSigner(t)
	mv := module.MustNewVersion("land.hessen.example/kita@v1", "v1.0.0")
	d := digest.FromString("manifest")
	z := digest.FromString("zip")
	payload, _ := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []map[string]any{{"name": mv.String(), "digest": map[string]string{"sha256": d.Encoded()}}},
		"predicateType": PredicateType,
		"predicate":     map[string]string{"module": mv.Path(), "version": mv.Version(), "zip": string(z)},
	})
	pae := fmt.Appendf(nil, "DSSEv1 %d %s %d %s", len(StatementType), StatementType, len(payload), payload)
	env, _ := json.Marshal(map[string]any{
		"payloadType": StatementType,
		"payload":     base64.StdEncoding.EncodeToString(payload),
		"signatures":  []map[string]string{{"keyid": s.Public().ID(), "sig": base64.StdEncoding.EncodeToString(ed25519.Sign(s.key, pae))}},
	})
	if _, by, err := checkSignature(mv, env, []PublicKey{s.Public()}, d, z); err != nil || by != s.Public().ID() {
		t.Fatalf("old envelope: by %q, %v", by, err)
	}
	// And what the library writes has the same shape.
	st, err := newStatement(mv.String(), d, Predicate{Module: mv.Path(), Version: mv.Version(), Zip: string(z)})
	if err != nil {
		t.Fatal(err)
	}
	env2, err := s.sign(t.Context(), st)
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		PayloadType string `json:"payloadType"`
		Payload     []byte `json:"payload"`
		Signatures  []struct{ KeyID, Sig string }
	}
	if err := json.Unmarshal(env2, &e); err != nil || e.PayloadType != StatementType || len(e.Signatures) != 1 || e.Signatures[0].KeyID != s.Public().ID() {
		t.Fatalf("new envelope %s: %v", env2, err)
	}
	var got map[string]any
	json.Unmarshal(e.Payload, &got)
	var want map[string]any
	json.Unmarshal(payload, &want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("statement\n got %v\nwant %v", got, want)
	}
	// Ed25519 is deterministic and the statement compacted: signing
	// again gives the same bytes.
	if env3, _ := s.sign(t.Context(), st); string(env3) != string(env2) {
		t.Errorf("signing twice gave two envelopes")
	}
	// Trusting no key for the module: untrusted, whatever the envelope.
	if _, _, err := checkSignature(mv, env2, nil, d, z); !errors.Is(err, ErrUntrusted) {
		t.Errorf("no keys: %v", err)
	}
}
