package engine

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"time"
)

// This file holds the storage-facing domain types and the Store interface.
// Implementations live elsewhere (engine/mongostore); engine itself never
// imports a database driver.
//
// Values in Data and Computed maps are plain Go values: string, bool,
// int64, float64, nil, time.Time, map[string]any and []any. Stores return
// integers as int64 whatever integer type was written. Money is integer
// cents.

// ServiceRef pins the exact service definition a draft or submission was
// made with.
type ServiceRef struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Hash    string `json:"hash"` // content hash of the compiled spec
}

// Draft is a citizen's unfinished application. It is addressed by an
// unguessable token and updated with optimistic concurrency.
type Draft struct {
	ID      string // token, see NewToken; set by CreateDraft when empty
	Tenant  string
	Service ServiceRef
	Page    string // id of the page reached
	Data    map[string]any
	Created time.Time
	Updated time.Time
	Expires time.Time
	Version int64 // incremented by every successful write
}

// Attachment describes a stored file. All fields except Name are set by
// the store from what it measured, never from the client.
type Attachment struct {
	ID          string
	Name        string // file name as given by the client (display only)
	Size        int64
	SHA256      string // hex
	ContentType string // sniffed
}

// Event types written by the store. Callers may use other types with
// AppendEvent.
const (
	EventSubmitted     = "submitted"
	EventRouted        = "routed"
	EventStatusChanged = "status_changed"
	EventReassigned    = "reassigned"
	EventDelivered     = "delivered"
	EventDeleted       = "deleted" // tombstone: carries no personal data
)

// Event is one entry of a submission's append-only history.
type Event struct {
	ID         string // unique, time-ordered within a submission; set by the store
	Tenant     string
	Submission string // reference number
	Type       string
	At         time.Time
	Actor      string         // user id or "system"; never a citizen's name
	Data       map[string]any // e.g. {"from": "new", "to": "in_review"}
}

// Submission is an application handed in. Data, Computed, Service and
// Attachments are immutable once stored; Status and Office change through
// UpdateSubmission with optimistic concurrency.
type Submission struct {
	Ref            string // human reference number, e.g. KITA-2026-000042
	Tenant         string
	Service        ServiceRef
	Data           map[string]any
	Computed       map[string]any
	Office         string
	Attachments    []Attachment
	Status         string
	Created        time.Time
	Updated        time.Time
	Version        int64
	IdempotencyKey string
	PayloadHash    string
}

// SubmitRequest is what Store.Submit stores.
type SubmitRequest struct {
	Tenant string
	// Prefix of the reference number, e.g. "KITA". Numbers are counted per
	// tenant, service and year.
	Prefix   string
	Service  ServiceRef
	Data     map[string]any // validated, hidden fields dropped
	Computed map[string]any // recomputed on the server
	Office   string         // routed office; a "routed" event is written when set
	Status   string         // initial status; "submitted" when empty
	// AttachmentIDs are ids returned by PutFile; the store copies their
	// measured metadata into the submission and enforces the total limit.
	AttachmentIDs []string
	// AttachmentOwner, when set, is the owner (draft token) every
	// attachment must have been uploaded under; a file of another owner
	// is reported as not found.
	AttachmentOwner string
	// IdempotencyKey is the client's key, scoped to Tenant. Empty means no
	// idempotency protection.
	IdempotencyKey string
	// PayloadHash identifies the request for idempotency; when empty the
	// store uses HashPayload(Service.ID, Data, AttachmentIDs).
	PayloadHash string
	Actor       string
	At          time.Time // defaults to now
}

// SubmissionChange is a state change of a submission. Empty fields are
// left unchanged. The change and its event are written atomically.
type SubmissionChange struct {
	Status string
	Office string
	Actor  string
	Data   map[string]any // extra event data (no personal data)
	At     time.Time      // defaults to now
}

// InboxQuery selects submissions for a case worker's list, newest first.
type InboxQuery struct {
	Tenant string   // required
	Office string   // optional
	Status []string // optional: any of
	Skip   int
	Limit  int // default 50, at most 500
}

// SubmissionKey identifies a submission.
type SubmissionKey struct {
	Tenant string
	Ref    string
}

// ExportFilter selects what Export writes.
type ExportFilter struct {
	Tenant string    // empty: all tenants
	Since  time.Time // zero: everything; else submissions created at or after Since
}

// ImportStats counts what Import wrote, what it skipped because an
// identical record was already there, and conflicts: records whose id
// exists in the target with different content (left unchanged).
type ImportStats struct {
	Submissions, Events, Files, Chunks, Counters int
	Skipped, Conflicts                           int
}

// Store persists drafts, submissions, events and files. Every method
// takes a context first; implementations apply a default deadline when the
// context has none. Implementations must be safe for concurrent use.
type Store interface {
	// CreateDraft stores a new draft. It sets ID (when empty), Created,
	// Updated and Version (1).
	CreateDraft(ctx context.Context, d *Draft) error
	// GetDraft returns ErrNotFound for unknown ids or another tenant's
	// drafts and ErrExpired for drafts past Expires.
	GetDraft(ctx context.Context, tenant, id string) (*Draft, error)
	// UpdateDraft writes Page, Data and Expires if the stored version
	// still equals d.Version; then d.Version and d.Updated are advanced.
	// A stale version returns ErrConflict.
	UpdateDraft(ctx context.Context, d *Draft) error
	DeleteDraft(ctx context.Context, tenant, id string) error

	// NextReference allocates a reference number PREFIX-YEAR-NNNNNN for a
	// tenant's service. Numbers are never handed out twice; gaps are
	// possible.
	NextReference(ctx context.Context, tenant, serviceID, prefix string, year int) (string, error)
	// Submit stores a submission with its first events in one write.
	// A repeated call with the same tenant and IdempotencyKey returns the
	// first submission and created == false if the payload hash matches,
	// and an error wrapping ErrIdempotencyMismatch otherwise.
	Submit(ctx context.Context, req *SubmitRequest) (sub *Submission, created bool, err error)
	GetSubmission(ctx context.Context, tenant, ref string) (*Submission, error)
	// UpdateSubmission applies ch if the stored version equals
	// expectVersion (else ErrConflict) and records the event in the same
	// write. It returns the updated submission.
	UpdateSubmission(ctx context.Context, tenant, ref string, expectVersion int64, ch SubmissionChange) (*Submission, error)
	// ListSubmissions returns an inbox page without Data and Computed.
	ListSubmissions(ctx context.Context, q InboxQuery) ([]*Submission, error)

	// AppendEvent adds an event that changes no submission field (e.g.
	// delivered). It sets ev.ID and ev.At when empty.
	AppendEvent(ctx context.Context, ev *Event) error
	// Events returns a submission's history, oldest first, including a
	// tombstone if the submission was deleted.
	Events(ctx context.Context, tenant, ref string) ([]Event, error)

	// PutFile streams r into the store. owner is the draft token (or any
	// grouping id) the file belongs to until it is submitted; the
	// per-owner total limit applies to it. It returns ErrTooLarge or
	// ErrUnsupportedType (wrapped) when limits are violated; nothing is
	// kept then.
	PutFile(ctx context.Context, tenant, owner, name string, r io.Reader) (*Attachment, error)
	// OpenFile streams a stored file. The caller must close the reader.
	OpenFile(ctx context.Context, tenant, id string) (io.ReadCloser, *Attachment, error)
	DeleteFile(ctx context.Context, tenant, id string) error

	// AcquireLease takes or renews the named lease for holder until
	// now+ttl. It returns false when another holder has an unexpired lease.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
	// DeleteExpiredDrafts deletes drafts with Expires <= now and their
	// files not referenced by a submission. It returns the number of drafts.
	DeleteExpiredDrafts(ctx context.Context, now time.Time) (int, error)
	// SubmissionServices returns the service ids that have submissions.
	SubmissionServices(ctx context.Context) ([]string, error)
	// SubmissionsUpdatedBefore returns up to limit submissions of a
	// service whose last change (Updated) is before t.
	SubmissionsUpdatedBefore(ctx context.Context, serviceID string, t time.Time, limit int) ([]SubmissionKey, error)
	// DeleteSubmission deletes a submission with its files and events and
	// writes a tombstone event (reference, time, reason). It is idempotent
	// and safe to repeat after a crash.
	DeleteSubmission(ctx context.Context, tenant, ref, reason string, at time.Time) error
	// RepairEvents copies embedded events that were not yet copied to the
	// event log (e.g. after a crash) and returns how many submissions it
	// repaired. Stores call it on open; the sweeper calls it too.
	RepairEvents(ctx context.Context) (int, error)

	// Export writes submissions, their events and files, tombstones and
	// reference counters as NDJSON, losslessly.
	Export(ctx context.Context, f ExportFilter, w io.Writer) error
	// Import reads Export's output. Records already present are skipped,
	// so importing twice creates no duplicates.
	Import(ctx context.Context, r io.Reader) (ImportStats, error)

	// Close waits for background work and releases resources.
	Close(ctx context.Context) error
}

// NewToken returns a URL-safe random token with 192 bits of entropy from
// crypto/rand.
func NewToken() string {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand: " + err.Error()) // never happens on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// HashPayload returns a hex SHA-256 of the JSON encoding of parts. Map keys
// are sorted by encoding/json, so equal values hash equally.
func HashPayload(parts ...any) string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	for _, p := range parts {
		if err := enc.Encode(p); err != nil {
			// unencodable values still hash deterministically by type
			io.WriteString(h, err.Error())
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
