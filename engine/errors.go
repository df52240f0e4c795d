package engine

import "errors"

// Sentinel errors returned by the engine and by Store implementations.
// Callers test for them with errors.Is.
var (
	// ErrNotFound reports that a draft, submission, file or service does not exist.
	ErrNotFound = errors.New("not found")

	// ErrConflict reports a lost optimistic-concurrency race or a
	// uniqueness violation: the caller's view of the data is stale.
	ErrConflict = errors.New("conflict")

	// ErrExpired reports that a draft or token exists but is past its expiry.
	ErrExpired = errors.New("expired")

	// ErrTooLarge reports input beyond a configured limit.
	ErrTooLarge = errors.New("too large")
)

// Sentinels added for the storage layer.
var (
	// ErrIdempotencyMismatch reports a repeated submit with a known
	// idempotency key but a different payload (HTTP 422).
	ErrIdempotencyMismatch = errors.New("idempotency key reused with a different payload")

	// ErrUnsupportedType reports an upload whose sniffed content type is
	// not on the allowlist (HTTP 415).
	ErrUnsupportedType = errors.New("unsupported content type")
)
