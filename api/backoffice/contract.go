package backoffice

// ---------------------------------------------------------------------
// STAND-INS FOR engine/casework, engine/staff and engine/audit.
//
// These types mirror the signatures of /work/contract.md, which other
// helpers are implementing at the same time. At merge the lead replaces
// this file with aliases of the real types, e.g.
//
//	type Actor = casework.Actor
//	type Query = casework.Query
//	type Page = casework.Page
//	type Case = casework.Case
//	type DocumentRequest = casework.DocumentRequest
//	type ConflictError = casework.ConflictError
//	type ActionError = casework.ActionError
//	var ErrForbidden = casework.ErrForbidden
//	type Submission = record.Submission
//	type AuditEntry = record.AuditEntry
//	type User = staff.User
//	type Deputy = staff.Deputy
//	type Principal = staff.Principal
//	var ErrBadCredentials, ErrLocked, ErrDisabled, ErrNoRole = staff.ErrBadCredentials, staff.ErrLocked, staff.ErrDisabled, staff.ErrNoRole
//	const sessionCookie = staff.SessionCookie
//	func recordSubmission(s *Submission) *record.Submission { return s }
//	func requestsDocuments(t engine.Transition) ([]string, int, bool) { return t.Documents, t.DeadlineDays, t.RequestDocuments }
//
// and checks that the real implementations fit the interfaces:
//
//	var (
//		_ Cases   = (*casework.Work)(nil)
//		_ Staff   = (*staff.Staff)(nil)
//		_ OIDC    = (*staff.OIDC)(nil)
//		_ Audit   = (*audit.Log)(nil)
//		_ Catalog = (*catalog.Catalog)(nil)
//	)
//
// Nothing else in the package depends on these being stand-ins.
// ---------------------------------------------------------------------

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/record"
)

// Actor is the signed-in staff member acting on cases (casework.Actor).
type Actor struct {
	ID      string
	Name    string
	Tenant  string
	Roles   []string
	Offices []string
	Addr    string
}

// ErrForbidden: the action is not allowed for this actor (403).
var ErrForbidden = errors.New("forbidden")

// ConflictError is a lost race with who won (casework.ConflictError).
type ConflictError struct {
	By   string
	What string
}

func (e *ConflictError) Error() string { return fmt.Sprintf("conflict: %s by %s", e.What, e.By) }
func (e *ConflictError) Unwrap() error { return record.ErrConflict }

// ActionError is a refused action with a stable code: commentRequired,
// guardFailed, fourEyes, notAllowed, invalid, noContact
// (casework.ActionError).
type ActionError struct {
	Code   string
	Detail string
}

func (e *ActionError) Error() string { return "action refused: " + e.Code }

// Query selects cases for an inbox (casework.Query).
type Query struct {
	Office   string
	Mine     bool
	Service  string
	Status   []string
	From, To time.Time
	Overdue  bool
	FollowUp bool // only cases whose follow-up date has come
	Assignee string
	Ref      string
	Sort     string
	Skip     int
	Limit    int
}

// Page is one page of an inbox (casework.Page).
type Page struct {
	Cases  []*Submission
	Total  int
	Counts map[string]int
}

// Case is what the case view shows (casework.Case).
type Case struct {
	Sub      *Submission
	Service  *engine.Service
	Events   []record.Event
	Actions  []engine.Transition
	Requests []DocumentRequest
}

// DocumentRequest asks the citizen for files (casework.DocumentRequest).
type DocumentRequest struct {
	ID        string
	Fields    []string
	Message   string
	Deadline  time.Time
	Fulfilled time.Time
	Token     string
}

// Submission is record.Submission with the fields the casework helper
// adds (Assignee, Due, FollowUp, Priority).
type Submission struct {
	Ref         string
	Tenant      string
	Service     record.ServiceRef
	Data        map[string]any
	Computed    map[string]any
	Office      string
	Attachments []record.Attachment
	Status      string
	Created     time.Time
	Updated     time.Time
	Version     int64
	Assignee    string
	Due         time.Time
	FollowUp    time.Time
	Priority    int
}

// recordSubmission is what the receipt renders.
func recordSubmission(s *Submission) *record.Submission {
	return &record.Submission{Ref: s.Ref, Tenant: s.Tenant, Service: s.Service, Data: s.Data, Computed: s.Computed,
		Office: s.Office, Attachments: s.Attachments, Status: s.Status, Created: s.Created, Updated: s.Updated, Version: s.Version}
}

// AuditEntry is one entry of the audit trail (record.AuditEntry).
type AuditEntry struct {
	Tenant string
	Seq    int64
	At     time.Time
	Actor  string
	Action string
	Object string
	Addr   string
	Detail map[string]string
	Prev   string
	Hash   string
}

// User is a staff account (staff.User).
type User struct {
	ID, Tenant, Name, Email string
	Roles                   []string
	Offices                 []string
	Deputies                []Deputy
	Disabled                bool
	Source                  string
	Created                 time.Time
}

// Deputy stands in for an office or a person (staff.Deputy).
type Deputy struct {
	Office, User string
	From, Until  time.Time
}

// Principal is who a session or token belongs to (staff.Principal).
type Principal struct {
	User      *User
	SessionID string
	TokenID   string
	CSRF      string
}

// EffectiveOffices are the user's offices and those they stand in for
// at now.
func (p *Principal) EffectiveOffices(now time.Time) []string {
	out := append([]string(nil), p.User.Offices...)
	for _, d := range p.User.Deputies {
		if d.Office != "" && !now.Before(d.From) && (d.Until.IsZero() || now.Before(d.Until)) {
			out = append(out, d.Office)
		}
	}
	return out
}

// Sign-in errors (staff.ErrBadCredentials, staff.ErrLocked,
// staff.ErrDisabled).
var (
	ErrBadCredentials = errors.New("bad credentials")
	ErrLocked         = errors.New("account locked")
	ErrDisabled       = errors.New("account disabled")
	ErrNoRole         = errors.New("no role")
)

// sessionCookie holds the session secret (staff.SessionCookie).
const sessionCookie = "af_staff"

// requestsDocuments says whether a workflow transition opens a document
// request, for which attachment fields (nil: every one) and with how
// many days to answer (casework's engine.Transition has RequestDocuments,
// Documents and DeadlineDays; the stand-in guesses from the id).
func requestsDocuments(t engine.Transition) (fields []string, deadlineDays int, ok bool) {
	return nil, 14, strings.Contains(t.ID, "nachford")
}
