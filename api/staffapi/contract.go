package staffapi

// ──────────────────────────────────────────────────────────────────────
// STAND-INS FOR engine/casework AND engine/staff (session contract).
// These packages are being written on other branches. At merge, the lead
// replaces this file with:
//
//	type (
//		Actor          = casework.Actor
//		Query          = casework.Query
//		Page           = casework.Page
//		Case           = casework.Case
//		ConflictError  = casework.ConflictError
//		ActionError    = casework.ActionError
//		Principal      = staff.Principal
//		User           = record.User
//	)
//	var ErrForbidden = casework.ErrForbidden
//	func caseFields(s *record.Submission) (string, time.Time, time.Time, int) {
//		return s.Assignee, s.Due, s.FollowUp, s.Priority
//	}
//
// Nothing else in the package changes (the tests' fakes build these types
// with the field names used here). Only the fields the staff API uses are
// here.
// ──────────────────────────────────────────────────────────────────────

import (
	"errors"
	"time"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/record"
)

type Actor struct {
	ID, Name, Tenant string
	Roles, Offices   []string
	Addr             string
}

type Query struct {
	Office   string
	Mine     bool
	Service  string
	Status   []string
	From, To time.Time
	Overdue  bool
	Assignee string
	Ref      string
	Sort     string
	Skip     int
	Limit    int
}

type Page struct {
	Cases  []*record.Submission
	Total  int
	Counts map[string]int
}

type Case struct {
	Sub     *record.Submission
	Service *engine.Service
	Events  []record.Event
	Actions []engine.Transition
}

var ErrForbidden = errors.New("forbidden")

type ConflictError struct{ By, What string }

func (e *ConflictError) Error() string { return "conflict: " + e.What + " by " + e.By }
func (e *ConflictError) Unwrap() error { return record.ErrConflict }

type ActionError struct{ Code string }

func (e *ActionError) Error() string { return "action refused: " + e.Code }

type User struct {
	ID, Tenant, Name string
	Roles, Offices   []string
}

type Principal struct {
	User    *User
	TokenID string
}

func (p *Principal) EffectiveOffices(now time.Time) []string { return p.User.Offices }

func caseFields(s *record.Submission) (assignee string, due, followUp time.Time, priority int) {
	return "", time.Time{}, time.Time{}, 0
}
