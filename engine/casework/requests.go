package casework

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/record"
)

// A document request is a transition with requestDocuments: its event
// (documents_requested) holds the request — id, fields, message, deadline
// and the SHA-256 of the citizen's token, never the token itself. The
// token is the case's reference, a dot and 192 random bits, so that the
// citizen's link finds the case by _id; the files the citizen uploads are
// stored under the owner "docreq:<id>" and, when handed in, added to the
// case's attachments; the event documents_received lists them by field. The case waits in the transition's state; when the files
// arrive the transition "received" is taken by the system, when the
// deadline passes (Expire) the transition "timeout" — if declared. The
// deadline is also the case's follow-up date, so the case comes back
// into the inbox then.

// DocumentsPath is the citizen page of a request: PublicURL + "/" +
// tenant + DocumentsPath + token.
const DocumentsPath = "/nachreichen/"

func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// RequestOwner is the owner the files of a document request are stored
// under.
func RequestOwner(id string) string { return "docreq:" + id }

func strs(v any) []string {
	switch x := v.(type) {
	case []string:
		return x
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func toAny(l []string) []any {
	out := make([]any, len(l))
	for i, s := range l {
		out[i] = s
	}
	return out
}

// openRequest is a request as its event holds it.
type openRequest struct {
	DocumentRequest
	hash       string
	transition string
}

// requestsOf returns the requests of a case's history, oldest first.
func requestsOf(evs []record.Event) []*openRequest {
	var out []*openRequest
	byID := map[string]*openRequest{}
	for _, e := range evs {
		id, _ := e.Data["request"].(string)
		switch e.Type {
		case record.EventDocumentsRequested:
			r := &openRequest{DocumentRequest: DocumentRequest{ID: id, Fields: strs(e.Data["fields"])}}
			r.Message, _ = e.Data["message"].(string)
			if d, ok := e.Data["deadline"].(string); ok {
				r.Deadline, _ = time.Parse(time.RFC3339, d)
			}
			r.hash, _ = e.Data["tokenHash"].(string)
			r.transition, _ = e.Data["transition"].(string)
			byID[id] = r
			out = append(out, r)
		}
	}
	// a second pass: events of one instant may be listed in either order
	for _, e := range evs {
		id, _ := e.Data["request"].(string)
		if r := byID[id]; e.Type == record.EventDocumentsReceived && r != nil && (r.Fulfilled.IsZero() || e.At.Before(r.Fulfilled)) {
			r.Fulfilled = e.At
		}
	}
	return out
}

func requests(evs []record.Event) []DocumentRequest {
	var out []DocumentRequest
	for _, r := range requestsOf(evs) {
		out = append(out, r.DocumentRequest)
	}
	return out
}

// RequestDocuments asks the citizen for documents: it takes the
// transition out of the case's state that requests documents (the actor
// must be allowed to take it), for fields (nil: the transition's
// documents) with message until deadline (zero: the transition's
// deadlineDays). The citizen gets a mail with the link; the returned
// request carries the token of that link.
func (w *Work) RequestDocuments(ctx context.Context, a Actor, ref string, version int64, fields []string, message string, deadline time.Time) (*DocumentRequest, error) {
	sub, err := w.loadForAction(ctx, &a, ref)
	if err != nil {
		return nil, err
	}
	svc, err := w.service(sub)
	if err != nil {
		return nil, err
	}
	if sub.Version != version {
		return nil, w.conflict(ctx, a.Tenant, ref, record.ErrConflict)
	}
	evs, err := w.store.Events(ctx, a.Tenant, ref)
	if err != nil {
		return nil, err
	}
	var first error
	for _, t := range svc.Workflow.From(sub.Status) {
		if !t.RequestDocuments {
			continue
		}
		if err := w.check(svc, sub, evs, &a, &t, message); err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		_, req, err := w.request(ctx, &a, sub, svc, &t, version, fields, message, deadline)
		return req, err
	}
	if first != nil {
		return nil, first
	}
	return nil, &ActionError{Code: CodeNotAllowed, Detail: "no transition out of " + sub.Status + " requests documents"}
}

// request opens a document request by taking t (checked by the caller).
func (w *Work) request(ctx context.Context, a *Actor, sub *record.Submission, svc *engine.Service, t *engine.Transition, version int64, fields []string, message string, deadline time.Time) (*record.Submission, *DocumentRequest, error) {
	now := w.now()
	if len(fields) == 0 {
		fields = t.Documents
	}
	for _, f := range fields {
		if !slices.Contains(t.Documents, f) {
			return nil, nil, &ActionError{Code: CodeBadRequest, Detail: "field " + f + " cannot be requested"}
		}
	}
	fields = slices.Compact(slices.Sorted(slices.Values(fields)))
	if deadline.IsZero() {
		deadline = t.Deadline(now)
	}
	if !deadline.After(now) {
		return nil, nil, &ActionError{Code: CodeBadRequest, Detail: "the deadline has passed"}
	}
	if contact(svc, sub) == "" {
		return nil, nil, &ActionError{Code: CodeNoContact, Detail: "the citizen gave no e-mail address"}
	}
	message, err := plainText("a message", message)
	if err != nil {
		return nil, nil, err
	}
	token := sub.Ref + "." + record.NewToken()
	hash := tokenHash(token)
	req := &DocumentRequest{ID: hash[:16], Fields: fields, Message: message, Deadline: deadline.UTC().Truncate(time.Second), Token: token}
	data := map[string]any{"transition": t.ID, "request": req.ID, "tokenHash": hash, "fields": toAny(fields),
		"message": message, "deadline": req.Deadline.Format(time.RFC3339)}
	if message != "" {
		data["comment"] = message
	}
	follow := req.Deadline
	up, err := w.store.UpdateSubmission(ctx, a.Tenant, sub.Ref, version, record.SubmissionChange{
		Status: t.To, FollowUp: &follow, Type: record.EventDocumentsRequested, Actor: a.ID, At: now, Data: data})
	if err != nil {
		return nil, nil, w.conflict(ctx, a.Tenant, sub.Ref, err)
	}
	w.auditAfter(ctx, a, "case.documents_requested", sub.Ref, map[string]string{"transition": t.ID, "request": req.ID})
	w.notify(ctx, up, svc, t)
	w.requestMail(ctx, up, svc, req)
	return up, req, nil
}

// requestMail sends the citizen the link of a document request.
func (w *Work) requestMail(ctx context.Context, sub *record.Submission, svc *engine.Service, req *DocumentRequest) {
	link := strings.TrimRight(w.opts.PublicURL, "/") + "/" + url.PathEscape(sub.Tenant) + DocumentsPath + req.Token
	list := func(lang string) string {
		var b strings.Builder
		for _, f := range req.Fields {
			label := f
			if ff, ok := svc.FormField(f); ok {
				label = ff.Label.In(lang)
			}
			b.WriteString("  - " + label + "\n")
		}
		return b.String()
	}
	de, en := w.mailVars(sub, svc, "de"), w.mailVars(sub, svc, "en")
	var body strings.Builder
	fmt.Fprintf(&body, "Guten Tag,\n\nfür Ihren Antrag %s bittet %s Sie um folgende Unterlagen:\n%s\n", sub.Ref, de["office"], list("de"))
	if req.Message != "" {
		fmt.Fprintf(&body, "%s\n\n", req.Message)
	}
	fmt.Fprintf(&body, "Bitte laden Sie sie bis zum %s hier hoch:\n%s\n\nMit freundlichen Grüßen\n%s\n\n— English —\n\n", req.Deadline.Format("02.01.2006"), link, de["office"])
	fmt.Fprintf(&body, "Hello,\n\n%s asks you for the following documents for your application %s:\n%s\nPlease upload them by %s here:\n%s\n\nKind regards\n%s\n",
		en["office"], sub.Ref, list("en"), req.Deadline.Format("2006-01-02"), link, en["office"])
	w.send(ctx, sub, svc, "Unterlagen für Ihren Antrag "+sub.Ref+" / Documents for your application "+sub.Ref, body.String(), "documents")
}

// find returns the request of a citizen's token with its case.
func (w *Work) find(ctx context.Context, tenant, token string) (*openRequest, *record.Submission, []record.Event, error) {
	notFound := fmt.Errorf("document request: %w", record.ErrNotFound)
	i := strings.LastIndexByte(token, '.')
	if tenant == "" || i <= 0 || len(token)-i-1 < 32 {
		return nil, nil, nil, notFound
	}
	sub, err := w.store.GetSubmission(ctx, tenant, token[:i])
	if errors.Is(err, record.ErrNotFound) {
		return nil, nil, nil, notFound
	}
	if err != nil {
		return nil, nil, nil, err
	}
	evs, err := w.store.Events(ctx, tenant, sub.Ref)
	if err != nil {
		return nil, nil, nil, err
	}
	hash := tokenHash(token)
	for _, r := range requestsOf(evs) {
		if subtle.ConstantTimeCompare([]byte(r.hash), []byte(hash)) == 1 {
			r.Token = token
			return r, sub, evs, nil
		}
	}
	return nil, nil, nil, notFound
}

// Request returns the document request of a citizen's link with its case
// and the service version of the case. An unknown token is
// record.ErrNotFound, a request past its deadline record.ErrExpired; a
// fulfilled one is returned with Fulfilled set.
func (w *Work) Request(ctx context.Context, tenant, token string) (*DocumentRequest, *record.Submission, *engine.Service, error) {
	r, sub, _, err := w.find(ctx, tenant, token)
	if err != nil {
		return nil, nil, nil, err
	}
	if r.Fulfilled.IsZero() && !w.now().Before(r.Deadline) {
		return nil, nil, nil, fmt.Errorf("document request: %w", record.ErrExpired)
	}
	svc, err := w.service(sub)
	if err != nil {
		return nil, nil, nil, err
	}
	req := r.DocumentRequest
	return &req, sub, svc, nil
}

// Upload stores a file the citizen sends for a field of an open request;
// the field's rules (types, size) apply: a refused file is removed and
// the error wraps an *engine.ValidationError.
func (w *Work) Upload(ctx context.Context, tenant, token, field, name string, r io.Reader) (*record.Attachment, error) {
	req, _, svc, err := w.Request(ctx, tenant, token)
	if err != nil {
		return nil, err
	}
	if !req.Fulfilled.IsZero() {
		return nil, &ActionError{Code: CodeRequestClosed}
	}
	if !slices.Contains(req.Fields, field) {
		return nil, &ActionError{Code: CodeNotRequested, Detail: field}
	}
	att, err := w.store.PutFile(ctx, tenant, RequestOwner(req.ID), name, r)
	if err != nil {
		return nil, err
	}
	if fe := svc.CheckUpload(field, att.ContentType, att.Size); fe != nil {
		if derr := w.store.DeleteFile(ctx, tenant, att.ID); derr != nil {
			return nil, fmt.Errorf("document request: remove a refused file: %w", derr)
		}
		return nil, fmt.Errorf("upload for %s: %w", field, &engine.ValidationError{Errors: []engine.FieldError{*fe}})
	}
	return att, nil
}

// Fulfil closes a document request with the files the citizen uploaded
// for it (by field), writes documents_received, brings the case back
// into the inbox (follow-up today), adds the files to the case's
// attachments (they share its retention) and, if the request's transition
// declares received, takes that transition as the system.
func (w *Work) Fulfil(ctx context.Context, tenant, token string, fileIDs map[string][]string) error {
	for attempt := 0; ; attempt++ {
		err := w.fulfil(ctx, tenant, token, fileIDs)
		if !errors.Is(err, record.ErrConflict) || attempt == 4 {
			return err
		}
		// a case worker changed the case meanwhile (a note, a view do
		// not): read it again
	}
}

func (w *Work) fulfil(ctx context.Context, tenant, token string, fileIDs map[string][]string) error {
	r, sub, _, err := w.find(ctx, tenant, token)
	if err != nil {
		return err
	}
	if !r.Fulfilled.IsZero() {
		return &ActionError{Code: CodeRequestClosed}
	}
	now := w.now()
	if !now.Before(r.Deadline) {
		return fmt.Errorf("document request: %w", record.ErrExpired)
	}
	files := map[string]any{}
	n := 0
	fields := make([]string, 0, len(fileIDs))
	for f := range fileIDs {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for _, f := range fields {
		if !slices.Contains(r.Fields, f) {
			return &ActionError{Code: CodeNotRequested, Detail: f}
		}
		for _, id := range fileIDs[f] {
			if _, err := w.store.OwnedFile(ctx, tenant, RequestOwner(r.ID), id); err != nil {
				return err
			}
		}
		if len(fileIDs[f]) > 0 {
			files[f] = toAny(fileIDs[f])
			n += len(fileIDs[f])
		}
	}
	if n == 0 {
		return &ActionError{Code: CodeNoFiles}
	}
	svc, err := w.service(sub)
	if err != nil {
		return err
	}
	var all []string
	for _, f := range fields {
		all = append(all, fileIDs[f]...)
	}
	data := map[string]any{"request": r.ID, "files": files}
	ch := record.SubmissionChange{FollowUp: &now, Type: record.EventDocumentsReceived, Actor: ActorCitizen, At: now, Data: data,
		AddAttachments: all, AttachmentOwner: RequestOwner(r.ID)}
	var next *engine.Transition
	if opened, ok := svc.Workflow.Transition(r.transition); ok && opened.Received != "" && sub.Status == opened.To {
		if t, ok := svc.Workflow.Transition(opened.Received); ok && t.StartsIn(sub.Status) {
			if ok, err := w.guard(svc, sub, t); err == nil && ok {
				next = t
				ch.Status, data["transition"] = t.To, t.ID
			}
		}
	}
	up, err := w.store.UpdateSubmission(ctx, tenant, sub.Ref, sub.Version, ch)
	if err != nil {
		return err
	}
	sys := &Actor{ID: ActorCitizen, Tenant: tenant}
	w.auditAfter(ctx, sys, "case.documents_received", sub.Ref, map[string]string{"request": r.ID})
	if next != nil {
		w.notify(ctx, up, svc, next)
	}
	return nil
}

// Expire takes the timeout transition of every document request of a
// tenant whose deadline has passed, for cases still waiting in the
// request's state. It returns how many cases moved on. Run it from the
// sweeper or a ticker; it is idempotent.
func (w *Work) Expire(ctx context.Context, tenant string) (int, error) {
	now := w.now()
	moved := 0
	for skip := 0; ; skip += 200 {
		p, err := w.store.InboxPage(ctx, record.InboxQuery{Tenant: tenant, FollowUp: true, Now: now, Sort: "age", Skip: skip, Limit: 200})
		if err != nil {
			return moved, err
		}
		for _, c := range p.Cases {
			ok, err := w.expire(ctx, c, now)
			if err != nil && !errors.Is(err, record.ErrConflict) {
				return moved, err
			}
			if ok {
				moved++ // it stays in the list (its follow-up date stays reached)
			}
		}
		if len(p.Cases) < 200 {
			return moved, nil
		}
	}
}

func (w *Work) expire(ctx context.Context, sub *record.Submission, now time.Time) (bool, error) {
	svc, err := w.service(sub)
	if err != nil {
		return false, nil // a version this server cannot serve: left alone
	}
	evs, err := w.store.Events(ctx, sub.Tenant, sub.Ref)
	if err != nil {
		return false, err
	}
	rs := requestsOf(evs)
	if len(rs) == 0 {
		return false, nil
	}
	r := rs[len(rs)-1]
	opened, ok := svc.Workflow.Transition(r.transition)
	if !r.Fulfilled.IsZero() || now.Before(r.Deadline) || !ok || opened.Timeout == "" || sub.Status != opened.To {
		return false, nil
	}
	t, ok := svc.Workflow.Transition(opened.Timeout)
	if !ok || !t.StartsIn(sub.Status) {
		return false, nil
	}
	if ok, err := w.guard(svc, sub, t); err != nil || !ok {
		return false, err
	}
	up, err := w.store.UpdateSubmission(ctx, sub.Tenant, sub.Ref, sub.Version, record.SubmissionChange{
		Status: t.To, Type: record.EventTransition, Actor: ActorSystem, At: now,
		Data: map[string]any{"transition": t.ID, "request": r.ID, "reason": "deadline"}})
	if err != nil {
		return false, err
	}
	w.auditAfter(ctx, &Actor{ID: ActorSystem, Tenant: sub.Tenant}, "case.transition", sub.Ref, map[string]string{"transition": t.ID, "reason": "deadline"})
	w.notify(ctx, up, svc, t)
	return true, nil
}

// CitizenRequests returns the document requests of a case for its
// citizen's status page (the caller has checked the status secret):
// fields, message, deadline and whether fulfilled; the link is only in
// the mail (the token is not stored).
func (w *Work) CitizenRequests(ctx context.Context, tenant, ref string) ([]DocumentRequest, error) {
	evs, err := w.store.Events(ctx, tenant, ref)
	if err != nil {
		return nil, err
	}
	return requests(evs), nil
}
