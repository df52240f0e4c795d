package registry

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// The signature scheme (see docs/packages.md for why this one).
//
// A published version is signed with an Ed25519 key (crypto/ed25519 of
// the standard library). What is signed is an in-toto Statement v1 whose
// subject is the OCI manifest of the module version, by digest; the
// manifest in turn names the module zip by digest, so one changed byte
// anywhere changes what is checked. The statement travels in a DSSE
// envelope (the envelope format of in-toto, sigstore and cosign
// attestations: the signature covers PAE(payloadType, payload)), stored
// in the registry as an OCI referrer artifact whose subject is the
// module's manifest. Registries that keep referrers (Harbor, zot, the
// OCI distribution spec 1.1 referrers API) keep it next to the module;
// modregistry's Mirror copies it with the module.
const (
	// EnvelopeMediaType is the media type of the signature layer and
	// the artifact type of the referrer manifest.
	EnvelopeMediaType = "application/vnd.dsse.envelope.v1+json"
	// StatementType is the payload type of the envelope.
	StatementType = "application/vnd.in-toto+json"
	// PredicateType names what the statement says: the subject is a
	// CUE module version published by the signer.
	PredicateType = "https://amtsform.dev/attestation/cue-module/v1"
)

// Envelope is a DSSE envelope.
type Envelope struct {
	PayloadType string      `json:"payloadType"`
	Payload     string      `json:"payload"` // base64 (standard)
	Signatures  []Signature `json:"signatures"`
}

// Signature is one signature of an envelope.
type Signature struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"` // base64 (standard)
}

// Statement is the in-toto Statement v1 a publisher signs.
type Statement struct {
	Type          string    `json:"_type"`
	Subject       []Subject `json:"subject"`
	PredicateType string    `json:"predicateType"`
	Predicate     Predicate `json:"predicate"`
}

// Subject is what a statement is about.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Predicate is what the publisher states about a module version.
type Predicate struct {
	Module  string `json:"module"`  // e.g. land.hessen.example/kita@v1
	Version string `json:"version"` // e.g. v1.2.0
	// Zip is the digest of the module zip the manifest names.
	Zip string `json:"zip"`
}

// pae is DSSE's pre-authentication encoding.
func pae(payloadType string, payload []byte) []byte {
	return fmt.Appendf(nil, "DSSEv1 %d %s %d %s", len(payloadType), payloadType, len(payload), payload)
}

// A Signer signs module versions with an Ed25519 private key.
type Signer struct {
	key ed25519.PrivateKey
	id  string // the key id written; "" means the key's own (tests forge others)
}

// NewSigner returns a signer for key.
func NewSigner(key ed25519.PrivateKey) *Signer { return &Signer{key: key} }

// Public returns the signer's public key.
func (s *Signer) Public() PublicKey { return PublicKey{key: s.key.Public().(ed25519.PublicKey)} }

func (s *Signer) sign(st *Statement) ([]byte, error) {
	payload, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	sig := ed25519.Sign(s.key, pae(StatementType, payload))
	return json.Marshal(Envelope{
		PayloadType: StatementType,
		Payload:     base64.StdEncoding.EncodeToString(payload),
		Signatures:  []Signature{{KeyID: s.keyID(), Sig: base64.StdEncoding.EncodeToString(sig)}},
	})
}

func (s *Signer) keyID() string {
	if s.id != "" {
		return s.id
	}
	return s.Public().ID()
}

// PublicKey is a publisher's Ed25519 public key.
type PublicKey struct {
	key ed25519.PublicKey
}

// ID is the key's id: "ed25519:" and the first 16 hex digits of the
// SHA-256 of its PKIX encoding.
func (k PublicKey) ID() string {
	der, _ := x509.MarshalPKIXPublicKey(k.key)
	sum := sha256.Sum256(der)
	return "ed25519:" + hex.EncodeToString(sum[:8])
}

// String returns the key as an installation names it: "ed25519:" and
// the base64 of the raw 32-byte key.
func (k PublicKey) String() string {
	return "ed25519:" + base64.StdEncoding.EncodeToString(k.key)
}

// ParsePublicKey reads a key written as String writes it, or a PEM
// "PUBLIC KEY" block (PKIX).
func ParsePublicKey(s string) (PublicKey, error) {
	s = strings.TrimSpace(s)
	if b, _ := pem.Decode([]byte(s)); b != nil {
		k, err := x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			return PublicKey{}, fmt.Errorf("public key: %w", err)
		}
		ek, ok := k.(ed25519.PublicKey)
		if !ok {
			return PublicKey{}, fmt.Errorf("public key: not an Ed25519 key")
		}
		return PublicKey{key: ek}, nil
	}
	raw, ok := strings.CutPrefix(s, "ed25519:")
	if !ok {
		return PublicKey{}, fmt.Errorf("public key %q: want \"ed25519:<base64>\" or a PEM block", s)
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return PublicKey{}, fmt.Errorf("public key %q: not a base64 Ed25519 key", s)
	}
	return PublicKey{key: ed25519.PublicKey(b)}, nil
}

// GenerateKey makes a new signing key.
func GenerateKey() (*Signer, error) {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return NewSigner(k), nil
}

// MarshalPrivateKey encodes the signer's key as a PEM "PRIVATE KEY"
// block (PKCS #8).
func (s *Signer) MarshalPrivateKey() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(s.key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ReadSigner reads a PEM PKCS #8 Ed25519 private key file.
func ReadSigner(file string) (*Signer, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM block", file)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an Ed25519 key", file)
	}
	return NewSigner(ek), nil
}

// The reasons an install refuses a version. Each error Verify returns
// wraps one of them.
var (
	// ErrUnsigned: the registry holds no signature for the version.
	ErrUnsigned = errors.New("the version is not signed")
	// ErrUntrusted: the version is signed, but by no key the
	// installation trusts for the module.
	ErrUntrusted = errors.New("signed by an untrusted key")
	// ErrBadSignature: a trusted key's signature does not verify.
	ErrBadSignature = errors.New("the signature does not verify")
	// ErrTampered: the content differs from what was signed or from
	// what the manifest names.
	ErrTampered = errors.New("the content differs from what was signed")
)

// Trust says which publishers' keys an installation trusts for which
// modules. A pattern is a module path ("land.hessen.example/kita") or a
// prefix ending in "/*" ("land.hessen.example/*", every module below).
type Trust map[string][]PublicKey

// Keys returns the keys trusted for the module path mpath (without its
// major version).
func (t Trust) Keys(mpath string) []PublicKey {
	var out []PublicKey
	for pat, keys := range t {
		if pat == mpath || (strings.HasSuffix(pat, "/*") && strings.HasPrefix(mpath, strings.TrimSuffix(pat, "*"))) {
			out = append(out, keys...)
		}
	}
	return out
}

// verifyEnvelope checks env against the keys trusted for the module and
// returns the signed statement and the id of the key that signed it.
func verifyEnvelope(env []byte, trusted []PublicKey) (*Statement, string, error) {
	var e Envelope
	if err := json.Unmarshal(env, &e); err != nil {
		return nil, "", fmt.Errorf("%w: the signature envelope is not JSON: %v", ErrBadSignature, err)
	}
	if e.PayloadType != StatementType {
		return nil, "", fmt.Errorf("%w: payload type %q, want %q", ErrBadSignature, e.PayloadType, StatementType)
	}
	payload, err := base64.StdEncoding.DecodeString(e.Payload)
	if err != nil {
		return nil, "", fmt.Errorf("%w: payload is not base64", ErrBadSignature)
	}
	var signers []string
	for _, s := range e.Signatures {
		signers = append(signers, s.KeyID)
		for _, k := range trusted {
			if k.ID() != s.KeyID {
				continue
			}
			sig, err := base64.StdEncoding.DecodeString(s.Sig)
			if err != nil || !ed25519.Verify(k.key, pae(e.PayloadType, payload), sig) {
				return nil, s.KeyID, fmt.Errorf("%w: signature by trusted key %s is invalid", ErrBadSignature, s.KeyID)
			}
			var st Statement
			if err := json.Unmarshal(payload, &st); err != nil {
				return nil, s.KeyID, fmt.Errorf("%w: statement: %v", ErrBadSignature, err)
			}
			return &st, s.KeyID, nil
		}
	}
	return nil, strings.Join(signers, ", "), fmt.Errorf("%w (signed by %s)", ErrUntrusted, strings.Join(signers, ", "))
}
