// Package receiver is the receiving side of Amtsform's webhook
// deliveries, for Fachverfahren written in Go: it verifies the
// FIT-Connect-style signature of a request, decrypts JWE-encrypted data
// and attachments with the receiver's private key, and checks their
// SHA-512 hashes against the envelope's metadata. It depends on the
// standard library and go-jose only.
//
//	body, err := receiver.ReadVerified(r, secret, 32<<20)
//	if err != nil { http.Error(w, "forbidden", 403); return }
//	var env receiver.Envelope
//	json.Unmarshal(body, &env)
//	data, err := env.DataBytes(privateKey) // nil key: not encrypted
//	// deduplicate on env.DeliveryID, store, answer 2xx
package receiver

import (
	"crypto/hmac"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Headers of a signed request.
const (
	HeaderTimestamp = "callback-timestamp"
	HeaderSignature = "callback-authentication"
)

// MaxAge is how old a signature's timestamp may be (and how far in the
// future): 5 minutes, as FIT-Connect requires.
const MaxAge = 5 * time.Minute

// Errors of Verify.
var (
	ErrSignature = errors.New("receiver: signature does not match")
	ErrStale     = errors.New("receiver: timestamp missing or older than 5 minutes")
	ErrHash      = errors.New("receiver: content does not match its hash")
)

// Sign returns the callback headers for body: callback-timestamp (unix
// seconds) and callback-authentication, the hex HMAC-SHA512 of
// "<timestamp>.<body>" with secret.
func Sign(secret []byte, body []byte, at time.Time) (timestamp, signature string) {
	timestamp = strconv.FormatInt(at.Unix(), 10)
	return timestamp, hex.EncodeToString(mac(secret, timestamp, body))
}

func mac(secret []byte, timestamp string, body []byte) []byte {
	m := hmac.New(sha512.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte("."))
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a signature made by Sign at now: the timestamp must be
// within MaxAge and the HMAC equal (compared in constant time).
func Verify(secret []byte, timestamp, signature string, body []byte, now time.Time) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrStale
	}
	if d := now.Sub(time.Unix(ts, 0)); d > MaxAge || d < -MaxAge {
		return ErrStale
	}
	got, err := hex.DecodeString(signature)
	if err != nil {
		return ErrSignature
	}
	if !hmac.Equal(got, mac(secret, timestamp, body)) {
		return ErrSignature
	}
	return nil
}

// ReadVerified reads a request's body (at most max bytes) and verifies
// its signature.
func ReadVerified(r *http.Request, secret []byte, max int64) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > max {
		return nil, fmt.Errorf("receiver: body larger than %d bytes", max)
	}
	if err := Verify(secret, r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderSignature), body, time.Now()); err != nil {
		return nil, err
	}
	return body, nil
}

// Decrypt opens a JWE (compact serialisation; RSA-OAEP-256, A256GCM)
// with the receiver's private key.
func Decrypt(key *jose.JSONWebKey, jwe string) ([]byte, error) {
	obj, err := jose.ParseEncrypted(jwe, []jose.KeyAlgorithm{jose.RSA_OAEP_256}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		return nil, fmt.Errorf("receiver: jwe: %w", err)
	}
	b, err := obj.Decrypt(key.Key)
	if err != nil {
		return nil, fmt.Errorf("receiver: jwe: %w", err)
	}
	return b, nil
}

func checkHash(h Hash, b []byte) error {
	sum := sha512.Sum512(b)
	if h.Type != "sha512" || !hmac.Equal([]byte(h.Content), []byte(hex.EncodeToString(sum[:]))) {
		return ErrHash
	}
	return nil
}

// DataBytes returns the data as sent (decrypted with key when it is
// encrypted), checked against its hash.
func (e *Envelope) DataBytes(key *jose.JSONWebKey) ([]byte, error) {
	b := []byte(e.Data)
	if e.EncryptedData != "" {
		if key == nil {
			return nil, errors.New("receiver: data is encrypted, no key given")
		}
		var err error
		if b, err = Decrypt(key, e.EncryptedData); err != nil {
			return nil, err
		}
	}
	if err := checkHash(e.Metadata.ContentStructure.Data.Hash, b); err != nil {
		return nil, err
	}
	return b, nil
}

// Attachment returns an inline attachment's content (decrypted with key
// when encrypted), checked against its hash. uploaded reports an
// attachment sent before the envelope (see AttachmentContent); check
// its content with CheckAttachment.
func (e *Envelope) Attachment(id string, key *jose.JSONWebKey) (b []byte, uploaded bool, err error) {
	for _, c := range e.Attachments {
		if c.AttachmentID != id {
			continue
		}
		switch {
		case c.Uploaded:
			return nil, true, nil
		case c.EncryptedContent != "":
			if key == nil {
				return nil, false, errors.New("receiver: attachment is encrypted, no key given")
			}
			if b, err = Decrypt(key, c.EncryptedContent); err != nil {
				return nil, false, err
			}
		default:
			if b, err = base64.StdEncoding.DecodeString(c.Content); err != nil {
				return nil, false, fmt.Errorf("receiver: attachment %s: %w", id, err)
			}
		}
		return b, false, e.CheckAttachment(id, b)
	}
	return nil, false, fmt.Errorf("receiver: no attachment %s", id)
}

// CheckAttachment checks an attachment's (plaintext) content against the
// hash in the metadata.
func (e *Envelope) CheckAttachment(id string, b []byte) error {
	for _, a := range e.Metadata.ContentStructure.Attachments {
		if a.AttachmentID == id {
			return checkHash(a.Hash, b)
		}
	}
	return fmt.Errorf("receiver: no attachment %s", id)
}
