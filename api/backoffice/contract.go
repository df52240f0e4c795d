package backoffice

// The types the back office shares with engine/casework, engine/staff
// and engine/audit, and the checks that those fit its interfaces.

import (
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/audit"
	"github.com/amtsform/amtsform/engine/casework"
	"github.com/amtsform/amtsform/engine/catalog"
	"github.com/amtsform/amtsform/engine/diff"
	"github.com/amtsform/amtsform/engine/record"
	"github.com/amtsform/amtsform/engine/registry"
	"github.com/amtsform/amtsform/engine/staff"
)

type (
	Actor           = casework.Actor
	Query           = casework.Query
	Page            = casework.Page
	Case            = casework.Case
	DocumentRequest = casework.DocumentRequest
	Delivery        = casework.Delivery
	ConflictError   = casework.ConflictError
	ActionError     = casework.ActionError
	Submission      = record.Submission
	AuditEntry      = record.AuditEntry
	User            = staff.User
	Deputy          = staff.Deputy
	Principal       = staff.Principal

	CatalogueOverview = registry.Overview
	ModuleEntry       = registry.ModuleEntry
	ServiceEntry      = registry.ServiceEntry
	InstallPlan       = registry.InstallPlan
	Installed         = registry.Installed
	DiffReport        = diff.Report
	DiffChange        = diff.Change
	DiffSide          = diff.Side
	Counterexample    = diff.Counterexample
)

var (
	ErrForbidden      = casework.ErrForbidden
	ErrBadCredentials = staff.ErrBadCredentials
	ErrLocked         = staff.ErrLocked
	ErrDisabled       = staff.ErrDisabled
	ErrNoRole         = staff.ErrNoRole
	// ErrConfirm: an install with changes graded ERR, not confirmed.
	ErrConfirm = registry.ErrConfirm
	// ErrChanged: a confirmation for other content than was shown.
	ErrChanged = registry.ErrChanged
)

// diffErr is the grade that needs confirmation.
const diffErr = diff.Err

// refusal explains a refused version (unsigned, untrusted, …), or "".
func refusal(err error) string { return registry.Refusal(err) }

// sessionCookie holds the session secret.
const sessionCookie = staff.SessionCookie

// recordSubmission is what the receipt renders.
func recordSubmission(s *Submission) *record.Submission { return s }

// requestsDocuments says whether a workflow transition opens a document
// request, for which attachment fields and with how many days to answer.
func requestsDocuments(t engine.Transition) (fields []string, deadlineDays int, ok bool) {
	return t.Documents, t.DeadlineDays, t.RequestDocuments
}

var (
	_ Cases     = (*casework.Work)(nil)
	_ Staff     = (*staff.Staff)(nil)
	_ OIDC      = (*staff.OIDC)(nil)
	_ Audit     = (*audit.Log)(nil)
	_ Catalog   = (*catalog.Catalog)(nil)
	_ Catalogue = (*registry.Catalogue)(nil)
)

var _ Deliveries = (*casework.Work)(nil)
