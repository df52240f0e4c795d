package staffapi

import (
	"time"

	"github.com/amtsform/amtsform/engine/casework"
	"github.com/amtsform/amtsform/engine/record"
	"github.com/amtsform/amtsform/engine/staff"
)

// The types the staff API shares with the domain packages it calls.
type (
	Actor         = casework.Actor
	Query         = casework.Query
	Page          = casework.Page
	Case          = casework.Case
	ConflictError = casework.ConflictError
	ActionError   = casework.ActionError
	Principal     = staff.Principal
	User          = record.User
)

// ErrForbidden is casework's refusal of an action to this actor (403).
var ErrForbidden = casework.ErrForbidden

func caseFields(s *record.Submission) (assignee string, due, followUp time.Time, priority int) {
	return s.Assignee, s.Due, s.FollowUp, s.Priority
}
