// Package casework is the back office's work on submitted cases: the
// inbox of an office, the case view, claim and assignment without silent
// override, due and follow-up dates and priority, the service's workflow
// (roles, guards, required comments, four-eyes), notes, mails to the
// citizen and document requests.
//
// Authorization is decided here, for every front end alike (back-office
// pages, staff API): a case of an office the actor does not see, or of
// another tenant, is record.ErrNotFound; an auditor reads but never acts
// (ErrForbidden); a lost race is record.ErrConflict, as a *ConflictError
// naming who won. Every action appends an event to the case's history and
// is handed to the Auditor.
package casework

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/catalog"
	"github.com/amtsform/amtsform/engine/directory"
	"github.com/amtsform/amtsform/engine/record"
	"github.com/amtsform/amtsform/mail"
)

// Roles of staff members. Workflow transitions name their own roles
// ("sachbearbeitung", "leitung", …): an actor takes a transition when one
// of its Roles is among them; RoleCaseworker also counts as the
// standard workflow role "sachbearbeitung".
const (
	RoleAdmin      = "admin"
	RoleCaseworker = "caseworker"
	RoleAuditor    = "auditor"
	// WorkflowCaseworker is the standard workflow role a caseworker has.
	WorkflowCaseworker = "sachbearbeitung"
)

// ActorSystem is the actor of transitions the system takes (documents
// received, deadline passed); ActorCitizen the citizen's.
const (
	ActorSystem  = "system"
	ActorCitizen = "citizen"
)

// Actor is the signed-in staff member or integration token acting on cases.
type Actor struct {
	ID      string // user id or "token:<id>"
	Name    string // display name
	Tenant  string
	Roles   []string // "admin", "caseworker", "auditor", and workflow roles
	Offices []string // offices whose cases the actor sees NOW (own + deputy within period); the caller passes every office for an admin
	Addr    string   // client address, for the audit trail
}

func (a *Actor) has(role string) bool { return slices.Contains(a.Roles, role) }

func (a *Actor) canRead() bool {
	return a.has(RoleAdmin) || a.has(RoleCaseworker) || a.has(RoleAuditor)
}

func (a *Actor) canAct() bool { return a.ID != "" && (a.has(RoleAdmin) || a.has(RoleCaseworker)) }

// sees reports whether a case of office is visible to a.
func (a *Actor) sees(office string) bool { return office != "" && slices.Contains(a.Offices, office) }

// mayTake reports whether a holds one of the roles of t.
func (a *Actor) mayTake(t *engine.Transition) bool {
	for _, r := range t.Roles {
		if a.has(r) || (r == WorkflowCaseworker && a.has(RoleCaseworker)) {
			return true
		}
	}
	return false
}

// ErrForbidden reports an action not allowed for this actor (HTTP 403).
var ErrForbidden = errors.New("forbidden")

// ConflictError is a lost race: the case was claimed, assigned or changed
// by someone else meanwhile. It wraps record.ErrConflict.
type ConflictError struct {
	By   string // who holds the case now ("" when unknown)
	What string // "claimed", "changed"
}

func (e *ConflictError) Error() string {
	if e.By != "" {
		return fmt.Sprintf("case %s by %s meanwhile", e.What, e.By)
	}
	return "case " + e.What + " meanwhile"
}

func (e *ConflictError) Unwrap() error { return record.ErrConflict }

// Codes of ActionError.
const (
	CodeCommentRequired = "commentRequired"
	CodeGuardFailed     = "guardFailed"
	CodeFourEyes        = "fourEyes"
	CodeNotAllowed      = "notAllowed"    // the transition does not start in the case's state
	CodeBadRequest      = "invalid"       // a parameter is out of range (priority, sort, note length, fields)
	CodeText            = "text"          // a note, comment or message is not plain text (see plainText)
	CodeAssignee        = "assignee"      // the assignee does not work for the case's office (Options.Colleagues)
	CodeNoContact       = "noContact"     // a document request needs the citizen's e-mail address
	CodeNoFiles         = "noFiles"       // a document request fulfilled without files
	CodeNotRequested    = "notRequested"  // a file for a field that was not requested
	CodeRequestClosed   = "requestClosed" // the document request was fulfilled already
)

// ActionError is an action the rules refuse (HTTP 422), with a stable
// code the front ends turn into a friendly message.
type ActionError struct {
	Code   string
	Detail string // for logs and developers; never citizen data
}

func (e *ActionError) Error() string {
	if e.Detail != "" {
		return "casework: " + e.Code + ": " + e.Detail
	}
	return "casework: " + e.Code
}

// Store is what casework needs of a store (engine/mongostore implements it).
type Store interface {
	GetSubmission(ctx context.Context, tenant, ref string) (*record.Submission, error)
	// UpdateSubmission applies ch if the stored version equals
	// expectVersion (and the assignee ch.ExpectAssignee), writing its
	// event in the same write; else record.ErrConflict.
	UpdateSubmission(ctx context.Context, tenant, ref string, expectVersion int64, ch record.SubmissionChange) (*record.Submission, error)
	InboxPage(ctx context.Context, q record.InboxQuery) (*record.InboxPage, error)
	AppendEvent(ctx context.Context, ev *record.Event) error
	Events(ctx context.Context, tenant, ref string) ([]record.Event, error)
	PutFile(ctx context.Context, tenant, owner, name string, r io.Reader) (*record.Attachment, error)
	OpenFile(ctx context.Context, tenant, id string) (io.ReadCloser, *record.Attachment, error)
	OwnedFile(ctx context.Context, tenant, owner, id string) (*record.Attachment, error)
	DeleteFile(ctx context.Context, tenant, id string) error
}

// Auditor records audit entries (engine/audit.Log).
type Auditor interface {
	Record(ctx context.Context, e record.AuditEntry) error
}

// Message is a mail to the citizen.
type Message = mail.Message

// Notifier delivers mails to citizens: mail.Notifier over SMTP, or
// mail.Spool without SMTP.
type Notifier interface {
	Notify(ctx context.Context, m Message) error
}

// Options configure a Work.
type Options struct {
	Audit Auditor  // may be nil
	Mail  Notifier // may be nil: no mails are sent
	// Outbox lists and retries a case's delivery jobs (deliveries.go);
	// nil: the case view lists every destination as pending.
	Outbox Outbox
	// PublicURL is the citizens' base URL (for the document request
	// link), e.g. "https://formulare.stadt.example".
	PublicURL string
	// Colleagues says who may be given a case (Assign refuses anyone
	// else); nil: Assign takes any assignee.
	Colleagues Colleagues
	Now        func() time.Time
	Logger     *slog.Logger
}

// Colleagues tells whom a case may be given (*staff.Staff).
type Colleagues interface {
	// MayWork reports whether the staff member id of tenant is an
	// enabled caseworker who sees the cases of office now.
	MayWork(ctx context.Context, tenant, office, id string) (bool, error)
}

// Work is the casework of an installation. It is safe for concurrent use.
type Work struct {
	store Store
	cat   *catalog.Catalog
	dir   *directory.Directory
	opts  Options
	log   *slog.Logger
}

// New returns the casework over store.
func New(store Store, cat *catalog.Catalog, dir *directory.Directory, opts Options) *Work {
	w := &Work{store: store, cat: cat, dir: dir, opts: opts, log: opts.Logger}
	if w.log == nil {
		w.log = slog.Default()
	}
	return w
}

func (w *Work) now() time.Time {
	if w.opts.Now != nil {
		return w.opts.Now()
	}
	return time.Now()
}

// Query selects an inbox page.
type Query struct {
	Office   string // "" = all offices the actor sees
	Mine     bool   // only cases assigned to the actor
	Service  string
	Status   []string
	From, To time.Time // received between
	Overdue  bool
	// FollowUp selects cases whose follow-up date (Wiedervorlage) is reached.
	FollowUp bool
	Assignee string // "-" = unassigned
	Ref      string // search by reference (prefix, case-insensitive)
	Sort     string // "age" (oldest first, default), "-age", "due", "priority"
	Skip     int
	Limit    int // default 50, max 200
}

// Summary is an inbox row: a submission without Data and Computed.
type Summary = record.Submission

// Page is one inbox page.
type Page struct {
	Cases  []*record.Submission
	Total  int
	Counts map[string]int // by status, same filter without Status
}

// Case is one case as an actor sees it.
type Case struct {
	Sub      *record.Submission
	Service  *engine.Service // the version the case was submitted under
	Events   []record.Event
	Actions  []engine.Transition // what THIS actor may do now (roles, guard, four-eyes)
	Requests []DocumentRequest
}

// DocumentRequest is a request for documents from the citizen.
type DocumentRequest struct {
	ID        string
	Fields    []string
	Message   string
	Deadline  time.Time
	Fulfilled time.Time // zero while open
	Token     string    // only for the citizen link, right after RequestDocuments
}

// Inbox returns a page of the cases the actor sees.
func (w *Work) Inbox(ctx context.Context, a Actor, q Query) (*Page, error) {
	if !a.canRead() {
		return nil, ErrForbidden
	}
	rq := record.InboxQuery{Tenant: a.Tenant, Service: q.Service, Status: q.Status, From: q.From, To: q.To,
		Overdue: q.Overdue, FollowUp: q.FollowUp, Assignee: q.Assignee, Ref: strings.TrimSpace(q.Ref), Now: w.now(), Skip: q.Skip, Limit: q.Limit}
	switch q.Sort {
	case "", "age":
		rq.Sort = "age"
	case "-age", "due", "priority":
		rq.Sort = q.Sort
	default:
		return nil, &ActionError{Code: CodeBadRequest, Detail: "sort " + q.Sort}
	}
	if rq.Limit <= 0 {
		rq.Limit = 50
	}
	rq.Limit = min(rq.Limit, 200)
	rq.Skip = max(rq.Skip, 0)
	if q.Mine {
		rq.Assignee = a.ID
	}
	if q.Office != "" {
		if !a.sees(q.Office) {
			return nil, fmt.Errorf("office %s: %w", q.Office, record.ErrNotFound)
		}
		rq.Office = q.Office
	} else {
		if len(a.Offices) == 0 {
			return &Page{Cases: []*record.Submission{}, Counts: map[string]int{}}, nil
		}
		rq.Offices = a.Offices
	}
	p, err := w.store.InboxPage(ctx, rq)
	if err != nil {
		return nil, err
	}
	return &Page{Cases: p.Cases, Total: p.Total, Counts: p.Counts}, nil
}

// load returns a case the actor sees, or record.ErrNotFound.
func (w *Work) load(ctx context.Context, a *Actor, ref string) (*record.Submission, error) {
	if a.Tenant == "" || ref == "" {
		return nil, fmt.Errorf("case %s: %w", ref, record.ErrNotFound)
	}
	sub, err := w.store.GetSubmission(ctx, a.Tenant, ref)
	if err != nil {
		return nil, err
	}
	if sub.Tenant != a.Tenant || !a.sees(sub.Office) {
		return nil, fmt.Errorf("case %s: %w", ref, record.ErrNotFound)
	}
	if !a.canRead() {
		return nil, ErrForbidden
	}
	return sub, nil
}

// loadForAction is load for an action: auditors and actors without a
// working role are refused.
func (w *Work) loadForAction(ctx context.Context, a *Actor, ref string) (*record.Submission, error) {
	sub, err := w.load(ctx, a, ref)
	if err != nil {
		return nil, err
	}
	if !a.canAct() {
		return nil, ErrForbidden
	}
	return sub, nil
}

func (w *Work) service(sub *record.Submission) (*engine.Service, error) {
	if w.cat == nil {
		return nil, fmt.Errorf("casework: no catalogue")
	}
	return w.cat.Pinned(sub.Service)
}

// audit records an entry; for reads the caller fails when it fails.
func (w *Work) audit(ctx context.Context, a *Actor, action, ref string, detail map[string]string) error {
	if w.opts.Audit == nil {
		return nil
	}
	err := w.opts.Audit.Record(ctx, record.AuditEntry{Tenant: a.Tenant, At: w.now().UTC(), Actor: a.ID, Action: action, Object: ref, Addr: a.Addr, Detail: detail})
	if err != nil {
		return fmt.Errorf("casework: audit: %w", err)
	}
	return nil
}

// auditAfter records the entry of a change already written: a failure is
// logged, the change stands.
func (w *Work) auditAfter(ctx context.Context, a *Actor, action, ref string, detail map[string]string) {
	if err := w.audit(ctx, a, action, ref, detail); err != nil {
		w.log.Error("audit entry not written", "action", action, "case", ref, "err", err)
	}
}

// Case returns a case with its history, the actions the actor may take
// and its document requests. The view is recorded (event and audit).
func (w *Work) Case(ctx context.Context, a Actor, ref string) (*Case, error) {
	sub, err := w.load(ctx, &a, ref)
	if err != nil {
		return nil, err
	}
	svc, err := w.service(sub)
	if err != nil {
		return nil, err
	}
	if err := w.audit(ctx, &a, "case.viewed", ref, nil); err != nil {
		return nil, err
	}
	if err := w.store.AppendEvent(ctx, &record.Event{Tenant: a.Tenant, Submission: ref, Type: record.EventViewed, Actor: a.ID}); err != nil {
		return nil, err
	}
	evs, err := w.store.Events(ctx, a.Tenant, ref)
	if err != nil {
		return nil, err
	}
	c := &Case{Sub: sub, Service: svc, Events: evs, Requests: requests(evs)}
	if a.canAct() {
		for _, t := range svc.Workflow.From(sub.Status) {
			if w.check(svc, sub, evs, &a, &t, "-") == nil {
				c.Actions = append(c.Actions, t)
			}
		}
	}
	return c, nil
}

// Attachment opens a file of a case: one handed in with the submission
// or one the citizen sent later for a document request. The download is
// recorded (event and audit).
func (w *Work) Attachment(ctx context.Context, a Actor, ref, id string) (record.Attachment, io.ReadCloser, error) {
	sub, err := w.load(ctx, &a, ref)
	if err != nil {
		return record.Attachment{}, nil, err
	}
	if !slices.ContainsFunc(sub.Attachments, func(x record.Attachment) bool { return x.ID == id }) {
		return record.Attachment{}, nil, fmt.Errorf("attachment of case %s: %w", ref, record.ErrNotFound)
	}
	if err := w.audit(ctx, &a, "attachment.downloaded", ref, map[string]string{"attachment": id}); err != nil {
		return record.Attachment{}, nil, err
	}
	if err := w.store.AppendEvent(ctx, &record.Event{Tenant: a.Tenant, Submission: ref, Type: record.EventDownloaded, Actor: a.ID, Data: map[string]any{"attachment": id}}); err != nil {
		return record.Attachment{}, nil, err
	}
	rc, att, err := w.store.OpenFile(ctx, a.Tenant, id)
	if err != nil {
		return record.Attachment{}, nil, err
	}
	return *att, rc, nil
}

// conflict turns a lost race into a *ConflictError naming who holds the
// case now.
func (w *Work) conflict(ctx context.Context, tenant, ref string, err error) error {
	if !errors.Is(err, record.ErrConflict) {
		return err
	}
	cur, gerr := w.store.GetSubmission(ctx, tenant, ref)
	if gerr != nil {
		return fmt.Errorf("%w", &ConflictError{What: "changed"})
	}
	if cur.Assignee != "" {
		return &ConflictError{By: cur.Assignee, What: "claimed"}
	}
	return &ConflictError{What: "changed"}
}

// Claim assigns the case to the actor, if it is unassigned (or already
// the actor's) at version. A case someone else holds is never taken over
// silently: *ConflictError naming the holder.
func (w *Work) Claim(ctx context.Context, a Actor, ref string, version int64) (*record.Submission, error) {
	sub, err := w.loadForAction(ctx, &a, ref)
	if err != nil {
		return nil, err
	}
	if sub.Assignee == a.ID {
		return sub, nil
	}
	if sub.Assignee != "" {
		return nil, &ConflictError{By: sub.Assignee, What: "claimed"}
	}
	none := ""
	up, err := w.store.UpdateSubmission(ctx, a.Tenant, ref, version, record.SubmissionChange{
		Assignee: &a.ID, ExpectAssignee: &none, Type: record.EventClaimed, Actor: a.ID, At: w.now()})
	if err != nil {
		return nil, w.conflict(ctx, a.Tenant, ref, err)
	}
	w.auditAfter(ctx, &a, "case.claimed", ref, nil)
	return up, nil
}

// Assign gives the case to the staff member to ("" = nobody) if it is
// still at version: a case claimed meanwhile is not taken over. With
// Options.Colleagues a case goes only to a caseworker who sees its
// office (an ActionError with CodeAssignee otherwise), so that it never
// lands with someone who cannot open it; keeping the current assignee
// is no change and always allowed.
func (w *Work) Assign(ctx context.Context, a Actor, ref string, version int64, to string) (*record.Submission, error) {
	sub, err := w.loadForAction(ctx, &a, ref)
	if err != nil {
		return nil, err
	}
	if sub.Version != version {
		return nil, w.conflict(ctx, a.Tenant, ref, record.ErrConflict)
	}
	if to != "" && to != sub.Assignee && w.opts.Colleagues != nil {
		ok, err := w.opts.Colleagues.MayWork(ctx, a.Tenant, sub.Office, to)
		if err != nil {
			return nil, fmt.Errorf("casework: assign: %w", err)
		}
		if !ok {
			return nil, &ActionError{Code: CodeAssignee, Detail: "the assignee does not work for the case's office"}
		}
	}
	expect := sub.Assignee
	up, err := w.store.UpdateSubmission(ctx, a.Tenant, ref, version, record.SubmissionChange{
		Assignee: &to, ExpectAssignee: &expect, Type: record.EventAssigned, Actor: a.ID, At: w.now()})
	if err != nil {
		return nil, w.conflict(ctx, a.Tenant, ref, err)
	}
	w.auditAfter(ctx, &a, "case.assigned", ref, map[string]string{"to": to})
	return up, nil
}

// maxNote is the longest note or comment, in characters.
const maxNote = 4000

// plainText returns a note, comment or message as it is stored: line
// breaks as LF, white space around it (including the control characters
// that count as white space) trimmed. It refuses text that is not UTF-8
// or that holds a control character other than a line break or a tab
// (CodeText, the rule engine.CheckText applies to citizens' texts: a
// NUL, an escape sequence or a stray byte would be stored, shown, mailed
// to the citizen and exported as sent), and text longer than maxNote
// characters (CodeBadRequest).
func plainText(what, s string) (string, error) {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
	n, code := engine.CheckText(s)
	switch code {
	case engine.CodeEncoding:
		return "", &ActionError{Code: CodeText, Detail: what + " is not UTF-8"}
	case engine.CodeControl:
		return "", &ActionError{Code: CodeText, Detail: what + " holds a control character"}
	}
	if n > maxNote {
		return "", &ActionError{Code: CodeBadRequest, Detail: what + " has at most 4000 characters"}
	}
	return s, nil
}

// Note adds an internal note to the case's history.
func (w *Work) Note(ctx context.Context, a Actor, ref, text string) error {
	if _, err := w.loadForAction(ctx, &a, ref); err != nil {
		return err
	}
	text, err := plainText("a note", text)
	if err != nil {
		return err
	}
	if text == "" {
		return &ActionError{Code: CodeBadRequest, Detail: "a note has 1 to 4000 characters"}
	}
	if err := w.store.AppendEvent(ctx, &record.Event{Tenant: a.Tenant, Submission: ref, Type: record.EventNote, Actor: a.ID, At: w.now(), Data: map[string]any{"text": text}}); err != nil {
		return err
	}
	w.auditAfter(ctx, &a, "case.note", ref, nil)
	return nil
}

// Schedule sets the due date, the follow-up date and the priority (nil
// leaves one, a zero time clears a date).
func (w *Work) Schedule(ctx context.Context, a Actor, ref string, version int64, due, followUp *time.Time, priority *int) (*record.Submission, error) {
	if _, err := w.loadForAction(ctx, &a, ref); err != nil {
		return nil, err
	}
	if priority != nil && (*priority < record.PriorityNormal || *priority > record.PriorityUrgent) {
		return nil, &ActionError{Code: CodeBadRequest, Detail: "priority is 0, 1 or 2"}
	}
	up, err := w.store.UpdateSubmission(ctx, a.Tenant, ref, version, record.SubmissionChange{
		Due: due, FollowUp: followUp, Priority: priority, Type: record.EventScheduled, Actor: a.ID, At: w.now()})
	if err != nil {
		return nil, w.conflict(ctx, a.Tenant, ref, err)
	}
	w.auditAfter(ctx, &a, "case.scheduled", ref, nil)
	return up, nil
}

// preparer returns who took the transition into the case's current
// state: the last transition event leading there ("" when none).
func preparer(evs []record.Event, status string) string {
	for i := len(evs) - 1; i >= 0; i-- {
		e := evs[i]
		if (e.Type == record.EventTransition || e.Type == record.EventStatusChanged || e.Type == record.EventDocumentsRequested || e.Type == record.EventDocumentsReceived) && e.Data["to"] == status {
			return e.Actor
		}
	}
	return ""
}

// check applies the rules of a transition for an actor: it starts in the
// case's state, the actor has a role, the guard holds, four-eyes, and a
// comment when required (comment "-" skips that check).
func (w *Work) check(svc *engine.Service, sub *record.Submission, evs []record.Event, a *Actor, t *engine.Transition, comment string) error {
	if !t.StartsIn(sub.Status) {
		return &ActionError{Code: CodeNotAllowed, Detail: fmt.Sprintf("transition %s does not start in %s", t.ID, sub.Status)}
	}
	if !a.mayTake(t) {
		return ErrForbidden
	}
	if t.FourEyes && preparer(evs, sub.Status) == a.ID {
		return &ActionError{Code: CodeFourEyes, Detail: "the decision was prepared by the same user"}
	}
	if ok, err := w.guard(svc, sub, t); err != nil {
		return err
	} else if !ok {
		return &ActionError{Code: CodeGuardFailed, Detail: "guard of " + t.ID}
	}
	if t.Comment && comment != "-" && strings.TrimSpace(comment) == "" {
		return &ActionError{Code: CodeCommentRequired}
	}
	return nil
}

func (w *Work) guard(svc *engine.Service, sub *record.Submission, t *engine.Transition) (bool, error) {
	if t.Guard == "" {
		return true, nil
	}
	data := make(map[string]any, len(sub.Data)+len(sub.Computed))
	for k, v := range sub.Data {
		data[k] = v
	}
	for k, v := range sub.Computed { // top-level computed values ("coveredFee")
		if !strings.ContainsAny(k, ".[") {
			data[k] = v
		}
	}
	return svc.TransitionAllowed(t, data, engine.CaseFacts{Status: sub.Status, Assignee: sub.Assignee, Office: sub.Office,
		Priority: sub.Priority, Received: sub.Created, Today: w.now()})
}

// Transition takes a workflow transition. A transition that requests
// documents opens a request for its declared fields with the comment as
// message (see RequestDocuments).
func (w *Work) Transition(ctx context.Context, a Actor, ref string, version int64, transition, comment string) (*record.Submission, error) {
	sub, err := w.loadForAction(ctx, &a, ref)
	if err != nil {
		return nil, err
	}
	svc, err := w.service(sub)
	if err != nil {
		return nil, err
	}
	t, ok := svc.Workflow.Transition(transition)
	if !ok {
		return nil, &ActionError{Code: CodeNotAllowed, Detail: "unknown transition " + transition}
	}
	if sub.Version != version {
		return nil, w.conflict(ctx, a.Tenant, ref, record.ErrConflict)
	}
	if comment, err = plainText("a comment", comment); err != nil {
		return nil, err
	}
	evs, err := w.store.Events(ctx, a.Tenant, ref)
	if err != nil {
		return nil, err
	}
	if err := w.check(svc, sub, evs, &a, t, comment); err != nil {
		return nil, err
	}
	if t.RequestDocuments {
		up, _, err := w.request(ctx, &a, sub, svc, t, version, nil, comment, time.Time{})
		return up, err
	}
	data := map[string]any{"transition": t.ID}
	if c := strings.TrimSpace(comment); c != "" {
		data["comment"] = c
	}
	up, err := w.store.UpdateSubmission(ctx, a.Tenant, ref, version, record.SubmissionChange{
		Status: t.To, Type: record.EventTransition, Actor: a.ID, At: w.now(), Data: data})
	if err != nil {
		return nil, w.conflict(ctx, a.Tenant, ref, err)
	}
	w.auditAfter(ctx, &a, "case.transition", ref, map[string]string{"transition": t.ID, "from": sub.Status, "to": t.To})
	w.notify(ctx, up, svc, t)
	return up, nil
}

// contact returns the citizen's e-mail address from the case data.
func contact(svc *engine.Service, sub *record.Submission) string {
	path := svc.Workflow.Contact
	if path == "" {
		path = "email"
	}
	var cur any = sub.Data
	for _, seg := range strings.Split(path, ".") {
		m, _ := cur.(map[string]any)
		cur = m[seg]
	}
	s, _ := cur.(string)
	return s
}

// mailVars are the placeholders of a case's mails.
func (w *Work) mailVars(sub *record.Submission, svc *engine.Service, lang string) map[string]string {
	office := sub.Office
	if o, ok := w.dir.Office(sub.Tenant, sub.Office); ok {
		office = o.Name.In(lang)
	}
	status := sub.Status
	if st, ok := svc.Workflow.States[sub.Status]; ok {
		status = st.Title.In(lang)
	}
	return map[string]string{"reference": sub.Ref, "office": office, "status": status}
}

// notify sends the mail of transition t, if it has one and the citizen
// gave an address. A failure is logged: the transition stands.
func (w *Work) notify(ctx context.Context, sub *record.Submission, svc *engine.Service, t *engine.Transition) {
	if t.Notify == nil {
		return
	}
	subject, body := bilingual(w, sub, svc, t.Notify.Subject, t.Notify.Body)
	w.send(ctx, sub, svc, subject, body, t.ID)
}

// bilingual fills a mail in German, followed by the English text.
func bilingual(w *Work, sub *record.Submission, svc *engine.Service, subject, body engine.Text) (string, string) {
	de, en := w.mailVars(sub, svc, "de"), w.mailVars(sub, svc, "en")
	s := engine.FillMail(subject.De, de)
	b := engine.FillMail(body.De, de)
	if body.En != "" {
		b += "\n\n— English —\n\n" + engine.FillMail(body.En, en)
	}
	return s, b
}

func (w *Work) send(ctx context.Context, sub *record.Submission, svc *engine.Service, subject, body, what string) {
	to := contact(svc, sub)
	if w.opts.Mail == nil || to == "" {
		return
	}
	if err := w.opts.Mail.Notify(context.WithoutCancel(ctx), Message{To: to, Subject: subject, Body: body, Lang: "de"}); err != nil {
		w.log.Warn("mail to the citizen not sent", "case", sub.Ref, "mail", what, "err", err)
	}
}
