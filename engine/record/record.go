// Package record holds the records Amtsform stores: drafts, submissions,
// their events and attachments, and the sentinel errors stores return. It
// is free of CUE and expr, so a storage adapter links no evaluator.
//
// Values in Data and Computed maps are plain Go values: string, bool,
// int64, float64, nil, time.Time, map[string]any and []any. Stores return
// integers as int64 whatever integer type was written. Money is integer
// cents.
package record

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"time"
)

// Sentinel errors returned by stores and by the domain packages. Callers
// test for them with errors.Is.
var (
	// ErrNotFound reports that a draft, submission, file or service does not exist.
	ErrNotFound = errors.New("not found")

	// ErrConflict reports a lost optimistic-concurrency race or a
	// uniqueness violation: the caller's view of the data is stale.
	ErrConflict = errors.New("conflict")

	// ErrExpired reports that a draft or token exists but is past its expiry.
	ErrExpired = errors.New("expired")

	// ErrTooLarge reports a file or record beyond a configured limit.
	ErrTooLarge = errors.New("too large")

	// ErrIdempotencyMismatch reports a repeated submit with a known
	// idempotency key but a different payload (HTTP 422).
	ErrIdempotencyMismatch = errors.New("idempotency key reused with a different payload")

	// ErrUnsupportedType reports an upload whose sniffed content type is
	// not on the allowlist (HTTP 415).
	ErrUnsupportedType = errors.New("unsupported content type")
)

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

// Submission is an application handed in. Data, Computed and Service are
// immutable once stored, Attachments only grow (documents sent later);
// Status, Office and the case fields change through UpdateSubmission with
// optimistic concurrency.
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
	// Assignee is the staff user id working on the case; "" = unassigned.
	Assignee string
	// Due is when the case should be decided (received + the service's
	// processingDays); zero = no due date.
	Due time.Time
	// FollowUp (Wiedervorlage) brings the case back into the inbox on
	// that date; zero = none.
	FollowUp time.Time
	// Priority is PriorityNormal, PriorityHigh or PriorityUrgent.
	Priority int
}

// Priorities of a case.
const (
	PriorityNormal = 0
	PriorityHigh   = 1
	PriorityUrgent = 2
)

// Case event types (written by the casework package).
const (
	EventClaimed            = "claimed"
	EventAssigned           = "assigned"
	EventTransition         = "transition"
	EventNote               = "note"
	EventViewed             = "viewed"
	EventDownloaded         = "downloaded"
	EventScheduled          = "scheduled"
	EventDocumentsRequested = "documents_requested"
	EventDocumentsReceived  = "documents_received"
)

// SubmitRequest is what Submit stores.
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
	// Due is the case's due date (received + the service's processing
	// days); zero = none.
	Due time.Time
	// AttachmentIDs are ids of stored files; the store copies their
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
	// Year is the year of the reference number, as the installation's
	// time zone sees At; 0 means the UTC year of At.
	Year int
	// Jobs are the delivery jobs (outbox), stored in the same write as the submission; the store sets their ids and times (see delivery.go).
	Jobs []DeliveryJob
}

// SubmissionChange is a state change of a submission. Empty fields and
// nil pointers are left unchanged; a pointer to the zero value clears
// the field. The change and its event are written atomically.
type SubmissionChange struct {
	Status string
	Office string
	// Assignee sets the assignee ("" unassigns).
	Assignee *string
	// ExpectAssignee, when set, makes the change fail with ErrConflict
	// unless the stored assignee equals it (claim without silent
	// override), checked in the same conditional write as the version.
	ExpectAssignee *string
	Due            *time.Time
	FollowUp       *time.Time
	Priority       *int
	// AddAttachments are ids of stored files uploaded under
	// AttachmentOwner (documents the citizen sent later, see casework):
	// the store adds their measured metadata to Attachments and links
	// them to the submission, so they share its retention.
	AddAttachments  []string
	AttachmentOwner string
	// Type is the event type written for the change; EventStatusChanged
	// when empty. A change of only the office writes EventReassigned.
	Type  string
	Actor string
	Data  map[string]any // extra event data (no personal data)
	At    time.Time      // defaults to now
}

// InboxQuery selects submissions for a case worker's list, newest first
// unless Sort says otherwise.
type InboxQuery struct {
	Tenant string   // required
	Office string   // optional
	Status []string // optional: any of
	// Offices, when Office is empty and Offices is not, restricts the
	// list to cases of these offices (the offices an actor sees).
	Offices []string
	Service string // optional: service id
	// From and To bound the reception time (Created): From <= Created < To.
	From, To time.Time
	// Overdue selects cases whose Due is set and before Now.
	Overdue bool
	// Assignee selects cases of one assignee; "-" selects unassigned ones.
	Assignee string
	// Ref selects references starting with it (case-insensitive).
	Ref string
	// FollowUp selects cases whose follow-up date is set and reached (<= Now).
	FollowUp bool
	// Now is the time Overdue and FollowUp compare with; zero = now.
	Now time.Time
	// Sort: "" or "-age" newest first (ListSubmissions' order), "age"
	// oldest first, "due" earliest due first (cases without due last),
	// "priority" most urgent first, then oldest.
	Sort  string
	Skip  int
	Limit int // default 50, at most 500
}

// InboxPage is one page of an inbox with the number of all matching
// cases and the counts per status of the same filter without Status.
type InboxPage struct {
	Cases  []*Submission
	Total  int
	Counts map[string]int
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
	Versions                                     int // service versions
	Deliveries                                   int // delivery jobs, open and finished
	DeliveryRecords                              int // their attempts and steps
	Accounts                                     int // staff accounts and API tokens
	Skipped, Conflicts                           int
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

// SourceFile is one file of a service definition, relative to the
// service's module root.
type SourceFile struct {
	Path string
	Data []byte
}

// ServiceVersion is a compiled service version as a server offered it:
// the source files it was compiled from (not a serialisation of the
// model), so that a later run can compile it again and serve the drafts
// and submissions pinned to it.
type ServiceVersion struct {
	Hash      string // content hash, see ServiceRef.Hash
	ServiceID string
	Version   string // the definition's declared version
	Compiler  string // compiler version that produced Hash
	Files     []SourceFile
	Offered   time.Time // when a server first offered it
}
