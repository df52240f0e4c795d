package backoffice_test

// In-memory fakes of casework, staff and audit, with the visibility rules
// the contract gives them: a case of another office or tenant is
// record.ErrNotFound, a lost race *ConflictError, a refused action
// *ActionError. The tests and the demo server (demo_test.go) use them.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	bo "github.com/amtsform/amtsform/api/backoffice"
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/record"
)

type world struct {
	mu       sync.Mutex
	now      func() time.Time
	services []*engine.Service // offered to every tenant
	cases    map[string]*bo.Submission
	events   map[string][]record.Event
	requests map[string][]bo.DocumentRequest
	files    map[string][]byte
	users    map[string]*bo.User
	password map[string]string
	locked   map[string]bool
	sessions map[string]string
	audit    []bo.AuditEntry
	nextID   int
	// oidcUser is whom the fake provider signs in; oidcCalls records
	// what Finish was called with.
	oidcUser  string
	oidcCalls []string
	// catalogue is the fake catalogue of shared modules.
	catalogue *fakeCatalogue
	// deliveries are the cases' destinations, by tenant/ref.
	deliveries map[string][]bo.Delivery
}

func newWorld(now func() time.Time, svcs []*engine.Service) *world {
	return &world{now: now, services: svcs, cases: map[string]*bo.Submission{}, events: map[string][]record.Event{},
		requests: map[string][]bo.DocumentRequest{}, files: map[string][]byte{}, users: map[string]*bo.User{},
		password: map[string]string{}, locked: map[string]bool{}, sessions: map[string]string{},
		catalogue: newFakeCatalogue(now), deliveries: map[string][]bo.Delivery{}}
}

func (w *world) id(prefix string) string {
	w.nextID++
	return fmt.Sprintf("%s%06d", prefix, w.nextID)
}

func (w *world) addUser(u *bo.User, password string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.users[u.ID] = u
	w.password[u.ID] = password
}

func (w *world) addCase(sub *bo.Submission, files map[string][]byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if sub.Version == 0 {
		sub.Version = 1
	}
	w.cases[sub.Tenant+"/"+sub.Ref] = sub
	for id, b := range files {
		w.files[id] = b
	}
	w.events[sub.Tenant+"/"+sub.Ref] = append(w.events[sub.Tenant+"/"+sub.Ref],
		record.Event{Type: "submitted", At: sub.Created, Actor: "citizen", Submission: sub.Ref, Tenant: sub.Tenant},
		record.Event{Type: "routed", At: sub.Created, Actor: "system", Data: map[string]any{"office": sub.Office}})
}

// service is the service version ref pins: the one with its hash, else
// (refs written without one) the first with its id.
func (w *world) service(ref record.ServiceRef) *engine.Service {
	for _, s := range w.services {
		if s.ID == ref.ID && ref.Hash != "" && s.Hash == ref.Hash {
			return s
		}
	}
	for _, s := range w.services {
		if s.ID == ref.ID {
			return s
		}
	}
	return nil
}

// ---------------------------------------------------------------- catalog

func (w *world) Pinned(ref record.ServiceRef) (*engine.Service, error) {
	if s := w.service(ref); s != nil {
		return s, nil
	}
	return nil, record.ErrNotFound
}

func (w *world) List(tenant string) []*engine.Service { return w.services }

// ---------------------------------------------------------------- staff

func (w *world) Login(ctx context.Context, username, password, addr string) (*bo.Principal, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.locked[username] {
		return nil, bo.ErrLocked
	}
	u, ok := w.users[username]
	if !ok || w.password[username] != password {
		return nil, bo.ErrBadCredentials
	}
	if u.Disabled {
		return nil, bo.ErrDisabled
	}
	return w.newSession(u), nil
}

func (w *world) newSession(u *bo.User) *bo.Principal {
	sid := w.id("sess-") + record.NewToken()
	w.sessions[sid] = u.ID
	return &bo.Principal{User: u, SessionID: sid, CSRF: "csrf-" + sid}
}

// session signs a user in directly (tests).
func (w *world) session(user string) *bo.Principal {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.newSession(w.users[user])
}

func (w *world) Session(ctx context.Context, id string) (*bo.Principal, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	uid, ok := w.sessions[id]
	if !ok {
		return nil, record.ErrNotFound
	}
	u := w.users[uid]
	if u == nil || u.Disabled {
		return nil, record.ErrNotFound
	}
	return &bo.Principal{User: u, SessionID: id, CSRF: "csrf-" + id}, nil
}

func (w *world) Logout(ctx context.Context, id string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.sessions, id)
	return nil
}

func (w *world) staffList(ctx context.Context, tenant string) ([]*bo.User, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []*bo.User
	for _, u := range w.users {
		if u.Tenant == tenant {
			out = append(out, u)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// fakeOIDC is a tenant's provider: AuthURL points at the callback with
// code "good" and the state.
type fakeOIDC struct {
	w      *world
	tenant string
}

func (o fakeOIDC) AuthURL(state, nonce, verifier string) string {
	return "/backoffice/oidc/" + o.tenant + "/callback?code=good&state=" + state
}

func (o fakeOIDC) Finish(ctx context.Context, code, verifier, nonce, addr string) (*bo.Principal, error) {
	o.w.mu.Lock()
	defer o.w.mu.Unlock()
	o.w.oidcCalls = append(o.w.oidcCalls, code+"|"+verifier+"|"+nonce)
	if code != "good" || verifier == "" || nonce == "" {
		return nil, fmt.Errorf("token exchange: %w", bo.ErrBadCredentials)
	}
	u := o.w.users[o.w.oidcUser]
	if u == nil {
		return nil, bo.ErrBadCredentials
	}
	return o.w.newSession(u), nil
}

// ---------------------------------------------------------------- audit

func (w *world) record(a bo.Actor, action, object string) {
	w.audit = append(w.audit, bo.AuditEntry{Tenant: a.Tenant, Seq: int64(len(w.audit) + 1), At: w.now(), Actor: a.ID, Action: action, Object: object, Addr: a.Addr})
}

func (w *world) auditList(ctx context.Context, tenant string, after int64, limit int) ([]bo.AuditEntry, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []bo.AuditEntry
	for _, e := range w.audit {
		if e.Tenant == tenant && e.Seq > after && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

type auditLog struct{ w *world }

func (l auditLog) List(ctx context.Context, tenant string, after int64, limit int) ([]bo.AuditEntry, error) {
	return l.w.auditList(ctx, tenant, after, limit)
}

func (l auditLog) Export(ctx context.Context, tenant, format string, out io.Writer) error {
	es, _ := l.w.auditList(ctx, tenant, 0, 1<<30)
	var b bytes.Buffer
	for _, e := range es {
		if format == "csv" {
			fmt.Fprintf(&b, "%d,%s,%s,%s,%s\n", e.Seq, e.At.Format(time.RFC3339), e.Actor, e.Action, e.Object)
		} else {
			j, _ := json.Marshal(e)
			b.Write(append(j, '\n'))
		}
	}
	_, err := out.Write(b.Bytes())
	return err
}

// ---------------------------------------------------------------- casework

type work struct{ w *world }

// visible finds a case the actor may see; any other is not found.
func (w *world) visible(a bo.Actor, ref string) (*bo.Submission, error) {
	sub, ok := w.cases[a.Tenant+"/"+ref]
	if !ok || sub.Tenant != a.Tenant || !slices.Contains(a.Offices, sub.Office) {
		return nil, fmt.Errorf("case %s: %w", ref, record.ErrNotFound)
	}
	return sub, nil
}

func canChange(a bo.Actor) bool {
	return slices.Contains(a.Roles, "caseworker") || slices.Contains(a.Roles, "admin")
}

func (k work) Inbox(ctx context.Context, a bo.Actor, q bo.Query) (*bo.Page, error) {
	w := k.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if q.Office != "" && !slices.Contains(a.Offices, q.Office) {
		return &bo.Page{Counts: map[string]int{}}, nil
	}
	now := w.now()
	var all []*bo.Submission
	for _, s := range w.cases {
		switch {
		case s.Tenant != a.Tenant, !slices.Contains(a.Offices, s.Office),
			q.Office != "" && s.Office != q.Office,
			q.Mine && s.Assignee != a.ID,
			q.Service != "" && s.Service.ID != q.Service,
			!q.From.IsZero() && s.Created.Before(q.From),
			!q.To.IsZero() && !s.Created.Before(q.To),
			q.Overdue && (s.Due.IsZero() || !s.Due.Before(now)),
			q.FollowUp && (s.FollowUp.IsZero() || s.FollowUp.After(now)),
			q.Assignee == "-" && s.Assignee != "",
			q.Assignee != "" && q.Assignee != "-" && s.Assignee != q.Assignee,
			q.Ref != "" && !strings.HasPrefix(strings.ToUpper(s.Ref), strings.ToUpper(q.Ref)):
			continue
		}
		all = append(all, s)
	}
	p := &bo.Page{Counts: map[string]int{}}
	var out []*bo.Submission
	for _, s := range all {
		p.Counts[s.Status]++
		if len(q.Status) == 0 || slices.Contains(q.Status, s.Status) {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		x, y := out[i], out[j]
		switch q.Sort {
		case "-age":
			return x.Created.After(y.Created)
		case "due":
			if x.Due.IsZero() != y.Due.IsZero() {
				return !x.Due.IsZero()
			}
			return x.Due.Before(y.Due)
		case "priority":
			if x.Priority != y.Priority {
				return x.Priority > y.Priority
			}
		}
		return x.Created.Before(y.Created)
	})
	p.Total = len(out)
	limit := q.Limit
	if limit == 0 {
		limit = 50
	}
	if q.Skip < len(out) {
		out = out[q.Skip:min(len(out), q.Skip+limit)]
	} else {
		out = nil
	}
	for _, s := range out {
		c := *s
		c.Data, c.Computed = nil, nil
		p.Cases = append(p.Cases, &c)
	}
	return p, nil
}

func (k work) Case(ctx context.Context, a bo.Actor, ref string) (*bo.Case, error) {
	w := k.w
	w.mu.Lock()
	defer w.mu.Unlock()
	sub, err := w.visible(a, ref)
	if err != nil {
		return nil, err
	}
	w.record(a, "case.viewed", ref)
	svc := w.service(sub.Service)
	c := &bo.Case{Sub: sub, Service: svc, Events: w.events[sub.Tenant+"/"+ref], Requests: w.requests[sub.Tenant+"/"+ref]}
	if svc != nil && svc.Workflow != nil && canChange(a) {
		for _, t := range svc.Workflow.Transitions {
			if slices.Contains(t.From, sub.Status) {
				c.Actions = append(c.Actions, t)
			}
		}
	}
	cp := *sub
	c.Sub = &cp
	return c, nil
}

func (k work) Attachment(ctx context.Context, a bo.Actor, ref, id string) (record.Attachment, io.ReadCloser, error) {
	w := k.w
	w.mu.Lock()
	defer w.mu.Unlock()
	sub, err := w.visible(a, ref)
	if err != nil {
		return record.Attachment{}, nil, err
	}
	for _, at := range sub.Attachments {
		if at.ID == id {
			w.record(a, "attachment.downloaded", ref)
			return at, io.NopCloser(bytes.NewReader(w.files[id])), nil
		}
	}
	return record.Attachment{}, nil, fmt.Errorf("attachment: %w", record.ErrNotFound)
}

// change runs f on a visible case at version, as casework would.
func (k work) change(a bo.Actor, ref string, version int64, typ string, data map[string]any, f func(*bo.Submission) error) (*bo.Submission, error) {
	w := k.w
	w.mu.Lock()
	defer w.mu.Unlock()
	sub, err := w.visible(a, ref)
	if err != nil {
		return nil, err
	}
	if !canChange(a) {
		return nil, bo.ErrForbidden
	}
	if sub.Version != version {
		by := "system"
		if es := w.events[sub.Tenant+"/"+ref]; len(es) > 0 {
			by = es[len(es)-1].Actor
		}
		return nil, &bo.ConflictError{By: by, What: "version"}
	}
	if err := f(sub); err != nil {
		return nil, err
	}
	sub.Version++
	sub.Updated = w.now()
	w.events[sub.Tenant+"/"+ref] = append(w.events[sub.Tenant+"/"+ref], record.Event{Type: typ, At: w.now(), Actor: a.ID, Data: data})
	w.record(a, "case."+typ, ref)
	cp := *sub
	return &cp, nil
}

func (k work) Claim(ctx context.Context, a bo.Actor, ref string, version int64) (*bo.Submission, error) {
	w := k.w
	w.mu.Lock()
	sub, err := w.visible(a, ref)
	if err == nil && sub.Assignee != "" && sub.Assignee != a.ID {
		w.mu.Unlock()
		return nil, &bo.ConflictError{By: sub.Assignee, What: "claim"}
	}
	w.mu.Unlock()
	return k.change(a, ref, version, "claimed", map[string]any{"assignee": a.ID}, func(s *bo.Submission) error {
		s.Assignee = a.ID
		return nil
	})
}

func (k work) Assign(ctx context.Context, a bo.Actor, ref string, version int64, to string) (*bo.Submission, error) {
	return k.change(a, ref, version, "assigned", map[string]any{"assignee": to}, func(s *bo.Submission) error {
		s.Assignee = to
		return nil
	})
}

func (k work) Transition(ctx context.Context, a bo.Actor, ref string, version int64, id, comment string) (*bo.Submission, error) {
	data := map[string]any{"transition": id, "comment": comment}
	return k.change(a, ref, version, "transition", data, func(s *bo.Submission) error {
		svc := k.w.service(s.Service)
		if svc == nil || svc.Workflow == nil {
			return bo.ErrForbidden
		}
		for _, t := range svc.Workflow.Transitions {
			if t.ID == id && slices.Contains(t.From, s.Status) {
				if t.Comment && comment == "" {
					return &bo.ActionError{Code: "commentRequired"}
				}
				data["from"], data["to"] = s.Status, t.To
				s.Status = t.To
				return nil
			}
		}
		return &bo.ActionError{Code: "notAllowed"}
	})
}

func (k work) Note(ctx context.Context, a bo.Actor, ref, text string) error {
	w := k.w
	w.mu.Lock()
	defer w.mu.Unlock()
	sub, err := w.visible(a, ref)
	if err != nil {
		return err
	}
	if !canChange(a) {
		return bo.ErrForbidden
	}
	w.events[sub.Tenant+"/"+ref] = append(w.events[sub.Tenant+"/"+ref], record.Event{Type: "note", At: w.now(), Actor: a.ID, Data: map[string]any{"text": text}})
	return nil
}

func (k work) Schedule(ctx context.Context, a bo.Actor, ref string, version int64, due, followUp *time.Time, priority *int) (*bo.Submission, error) {
	return k.change(a, ref, version, "scheduled", nil, func(s *bo.Submission) error {
		if due != nil {
			s.Due = *due
		}
		if followUp != nil {
			s.FollowUp = *followUp
		}
		if priority != nil {
			s.Priority = *priority
		}
		return nil
	})
}

func (k work) RequestDocuments(ctx context.Context, a bo.Actor, ref string, version int64, fields []string, message string, deadline time.Time) (*bo.DocumentRequest, error) {
	var dr bo.DocumentRequest
	_, err := k.change(a, ref, version, "documents_requested", map[string]any{"fields": strings.Join(fields, ",")}, func(s *bo.Submission) error {
		dr = bo.DocumentRequest{ID: k.w.id("req-"), Fields: fields, Message: message, Deadline: deadline, Token: record.NewToken()}
		k.w.requests[s.Tenant+"/"+ref] = append(k.w.requests[s.Tenant+"/"+ref], dr)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &dr, nil
}

// ---------------------------------------------------------------- deliveries

func (k work) Deliveries(ctx context.Context, a bo.Actor, ref string) ([]bo.Delivery, error) {
	w := k.w
	w.mu.Lock()
	defer w.mu.Unlock()
	sub, err := w.visible(a, ref)
	if err != nil {
		return nil, err
	}
	var out []bo.Delivery
	for _, d := range w.deliveries[sub.Tenant+"/"+ref] {
		if d.Job != nil {
			j := *d.Job
			d.Job = &j
		}
		out = append(out, d)
	}
	return out, nil
}

// RetryDelivery: as casework, only admins, only dead-lettered jobs.
func (k work) RetryDelivery(ctx context.Context, a bo.Actor, ref, destination string) (*record.DeliveryJob, error) {
	w := k.w
	w.mu.Lock()
	defer w.mu.Unlock()
	sub, err := w.visible(a, ref)
	if err != nil {
		return nil, err
	}
	if !canChange(a) || !slices.Contains(a.Roles, "admin") {
		return nil, bo.ErrForbidden
	}
	for _, d := range w.deliveries[sub.Tenant+"/"+ref] {
		if d.Destination != destination {
			continue
		}
		if d.Job == nil || d.Job.Status != record.DeliveryDead {
			return nil, &bo.ActionError{Code: "notAllowed"}
		}
		d.Job.Status, d.Job.Base, d.Job.Next = record.DeliveryPending, d.Job.Attempts, w.now()
		w.audit = append(w.audit, bo.AuditEntry{Tenant: a.Tenant, Seq: int64(len(w.audit) + 1), At: w.now(), Actor: a.ID,
			Action: "delivery.retried", Object: ref, Addr: a.Addr, Detail: map[string]string{"destination": destination}})
		j := *d.Job
		return &j, nil
	}
	return nil, fmt.Errorf("destination %s: %w", destination, record.ErrNotFound)
}

// seedDeliveries gives the demo cases destinations in every state: A1
// one dead-lettered webhook and one accepted feed, A2 one being retried
// and one rejected, B1 one delivered by mail.
func seedDeliveries(w *world, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	fv := engine.Text{De: "Fachverfahren Jugendhilfe", En: "Youth welfare case system"}
	job := func(ref, dest, kind, status string, attempts int) *record.DeliveryJob {
		return &record.DeliveryJob{ID: record.DeliveryJobID("musterstadt", ref, dest), Tenant: "musterstadt", Ref: ref, Destination: dest, Kind: kind,
			Status: status, Attempts: attempts, Created: now.Add(-72 * time.Hour), Since: now.Add(-72 * time.Hour)}
	}
	dead := job(refA1, "fachverfahren", "webhook", record.DeliveryDead, 12)
	dead.LastError = "HTTP 503 Service Unavailable from https://fv.example/amtsform"
	accepted := job(refA1, "abruf", "feed", record.DeliveryDelivered, 1)
	accepted.Verdict, accepted.Delivered = "accept", now.Add(-70*time.Hour)
	w.deliveries["musterstadt/"+refA1] = []bo.Delivery{
		{Destination: "fachverfahren", Title: fv, Kind: "webhook", Job: dead},
		{Destination: "abruf", Kind: "feed", Job: accepted},
	}
	retried := job(refA2, "fachverfahren", "webhook", record.DeliveryPending, 3)
	retried.LastError, retried.Next = "connection reset by peer", now.Add(40*time.Second)
	rejected := job(refA2, "abruf", "feed", record.DeliveryRejected, 1)
	rejected.Verdict = "reject: Zuständigkeit fehlt"
	w.deliveries["musterstadt/"+refA2] = []bo.Delivery{
		{Destination: "fachverfahren", Title: fv, Kind: "webhook", Job: retried},
		{Destination: "abruf", Kind: "feed", Job: rejected},
	}
	mailed := job(refB1, "postfach", "mail", record.DeliveryDelivered, 1)
	mailed.Delivered = now.Add(-23 * time.Hour)
	w.deliveries["musterstadt/"+refB1] = []bo.Delivery{{Destination: "postfach", Kind: "mail", Job: mailed}}
}
