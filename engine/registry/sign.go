package registry

import (
	"bytes"
	"context"
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
	"slices"
	"strings"

	"cuelabs.dev/go/oci/ociregistry"
	ita1 "github.com/in-toto/attestation/go/v1"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/secure-systems-lab/go-securesystemslib/signerverifier"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
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
//
// The envelope, its pre-authentication encoding and the signature check
// are go-securesystemslib's dsse package (with its signerverifier for
// Ed25519); the statement is the in-toto attestation framework's Go
// binding (github.com/in-toto/attestation/go/v1). What this file adds is
// the key format (PEM PKCS #8, "ed25519:<base64>"), the key ids, the
// trust per module prefix and the reasons for a refusal.
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
type Envelope = dsse.Envelope

// Statement is the in-toto Statement v1 a publisher signs.
type Statement = ita1.Statement

// Predicate is what the publisher states about a module version.
type Predicate struct {
	Module  string `json:"module"`  // e.g. land.hessen.example/kita@v1
	Version string `json:"version"` // e.g. v1.2.0
	// Zip is the digest of the module zip the manifest names.
	Zip string `json:"zip"`
}

// newStatement is the statement for the module version named name (its
// module.Version.String()), whose OCI manifest is d and whose zip the
// manifest names is p.Zip.
func newStatement(name string, d ociregistry.Digest, p Predicate) (*Statement, error) {
	pred, err := structpb.NewStruct(map[string]any{"module": p.Module, "version": p.Version, "zip": p.Zip})
	if err != nil {
		return nil, err
	}
	st := &Statement{
		Type:          ita1.StatementTypeUri,
		Subject:       []*ita1.ResourceDescriptor{{Name: name, Digest: map[string]string{d.Algorithm().String(): d.Encoded()}}},
		PredicateType: PredicateType,
		Predicate:     pred,
	}
	return st, st.Validate()
}

// marshalStatement encodes st as compact JSON (protojson varies its
// whitespace on purpose; compacted, the same statement gives the same
// bytes and, Ed25519 being deterministic, the same envelope).
func marshalStatement(st *Statement) ([]byte, error) {
	b, err := protojson.Marshal(st)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// parseStatement decodes and validates a signed statement and its
// predicate.
func parseStatement(b []byte) (*Statement, *Predicate, error) {
	var st Statement
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, &st); err != nil {
		return nil, nil, err
	}
	if err := st.Validate(); err != nil {
		return nil, nil, err
	}
	if st.GetPredicateType() != PredicateType {
		return nil, nil, fmt.Errorf("predicate type %q, want %q", st.GetPredicateType(), PredicateType)
	}
	pj, err := protojson.Marshal(st.GetPredicate())
	if err != nil {
		return nil, nil, err
	}
	var p Predicate
	if err := json.Unmarshal(pj, &p); err != nil {
		return nil, nil, err
	}
	return &st, &p, nil
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

func (s *Signer) sign(ctx context.Context, st *Statement) ([]byte, error) {
	payload, err := marshalStatement(st)
	if err != nil {
		return nil, err
	}
	sv, err := signerverifier.NewED25519SignerVerifierFromSSLibKey(&signerverifier.SSLibKey{
		KeyType: signerverifier.ED25519KeyType,
		Scheme:  signerverifier.ED25519KeyType,
		KeyID:   s.keyID(),
		KeyVal: signerverifier.KeyVal{
			Public:  hex.EncodeToString(s.key.Public().(ed25519.PublicKey)),
			Private: hex.EncodeToString(s.key),
		},
	})
	if err != nil {
		return nil, err
	}
	es, err := dsse.NewEnvelopeSigner(sv)
	if err != nil {
		return nil, err
	}
	env, err := es.SignPayload(ctx, StatementType, payload)
	if err != nil {
		return nil, err
	}
	return json.Marshal(env)
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

// verifier is k as a DSSE verifier that accepts signatures with k's id.
func (k PublicKey) verifier() (dsse.Verifier, error) {
	return signerverifier.NewED25519SignerVerifierFromSSLibKey(&signerverifier.SSLibKey{
		KeyType: signerverifier.ED25519KeyType,
		Scheme:  signerverifier.ED25519KeyType,
		KeyID:   k.ID(),
		KeyVal:  signerverifier.KeyVal{Public: hex.EncodeToString(k.key)},
	})
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
// returns the signed statement, its predicate and the id of the key that
// signed it. Untrusted: no signature names a trusted key's id; bad: one
// does, and dsse's verifier accepts none of them.
func verifyEnvelope(ctx context.Context, env []byte, trusted []PublicKey) (*Statement, *Predicate, string, error) {
	var e Envelope
	if err := json.Unmarshal(env, &e); err != nil {
		return nil, nil, "", fmt.Errorf("%w: the signature envelope is not JSON: %v", ErrBadSignature, err)
	}
	var signers []string
	for _, s := range e.Signatures {
		signers = append(signers, s.KeyID)
	}
	by := strings.Join(signers, ", ")
	if e.PayloadType != StatementType {
		return nil, nil, by, fmt.Errorf("%w: payload type %q, want %q", ErrBadSignature, e.PayloadType, StatementType)
	}
	// The trusted keys that signatures name, each once.
	var named []string
	var verifiers []dsse.Verifier
	for _, k := range trusted {
		id := k.ID()
		if slices.Contains(named, id) || !slices.Contains(signers, id) {
			continue
		}
		v, err := k.verifier()
		if err != nil {
			return nil, nil, by, err
		}
		named = append(named, id)
		verifiers = append(verifiers, v)
	}
	if len(verifiers) == 0 {
		return nil, nil, by, fmt.Errorf("%w (signed by %s)", ErrUntrusted, by)
	}
	ev, err := dsse.NewEnvelopeVerifier(verifiers...)
	if err != nil {
		return nil, nil, by, err
	}
	accepted, payload, err := ev.VerifyAndDecode(ctx, &e)
	if err != nil || len(accepted) == 0 {
		return nil, nil, strings.Join(named, ", "), fmt.Errorf("%w: signature by trusted key %s is invalid", ErrBadSignature, strings.Join(named, ", "))
	}
	by = accepted[0].KeyID
	st, p, err := parseStatement(payload)
	if err != nil {
		return nil, nil, by, fmt.Errorf("%w: statement: %v", ErrBadSignature, err)
	}
	return st, p, by, nil
}
