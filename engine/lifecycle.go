package engine

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Engine runs the life of an application: drafts, page by page saving,
// submitting, routing. It knows nothing of HTTP; front ends call it.
type Engine struct {
	Store   Store
	Catalog *Catalog
	// Secret keys the status secrets handed to citizens (see StatusSecret).
	Secret []byte
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Background runs work that must not delay a response (removing a
	// submitted draft); nil runs it in a goroutine.
	Background func(func())
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// NewDraft starts an application for a service.
func (e *Engine) NewDraft(ctx context.Context, tenant, serviceID string) (*Draft, *Service, error) {
	s, err := e.Catalog.Get(serviceID)
	if err != nil {
		return nil, nil, err
	}
	now := e.now()
	d := &Draft{
		Tenant:  tenant,
		Service: ServiceRef{ID: s.ID, Version: s.Version, Hash: s.Hash},
		Page:    s.Form.Pages[0].ID,
		Data:    map[string]any{},
		Expires: now.AddDate(0, 0, s.DraftDays),
	}
	if err := e.Store.CreateDraft(ctx, d); err != nil {
		return nil, nil, fmt.Errorf("create draft: %w", err)
	}
	return d, s, nil
}

// Draft returns a draft and the service it was started with.
func (e *Engine) Draft(ctx context.Context, tenant, token string) (*Draft, *Service, error) {
	d, err := e.Store.GetDraft(ctx, tenant, token)
	if err != nil {
		return nil, nil, err
	}
	s, err := e.Catalog.Pinned(d.Service)
	if err != nil {
		return nil, nil, err
	}
	return d, s, nil
}

// PageResult is the outcome of saving one page.
type PageResult struct {
	Draft *Draft
	// Result is the evaluation of the whole draft after the save.
	Result *Result
	// Errors are the errors of the saved page; empty means the page is
	// complete and Next names the page to go to ("" after the last).
	Errors []FieldError
	Next   string
}

// SavePage merges the values of one page into a draft, keeps them even if
// they are invalid (nothing the citizen typed is lost), and reports the
// page's errors. values holds the page's fields; a field of the page that
// is absent is cleared. Values for fields of other pages are rejected
// with CodeUnknownField and change nothing. expectVersion guards against
// lost updates (ErrConflict); 0 skips the check.
func (e *Engine) SavePage(ctx context.Context, tenant, token string, expectVersion int64, pageID string, values map[string]any) (*PageResult, error) {
	d, s, err := e.Draft(ctx, tenant, token)
	if err != nil {
		return nil, err
	}
	if expectVersion != 0 && expectVersion != d.Version {
		return nil, fmt.Errorf("draft changed since it was read: %w", ErrConflict)
	}
	page := s.Form.Page(pageID)
	if page == nil {
		return nil, fmt.Errorf("page %q: %w", pageID, ErrNotFound)
	}
	onPage := map[string]bool{}
	for _, f := range page.Fields {
		onPage[f.Path] = true
	}
	var foreign []FieldError
	for k := range values {
		if !onPage[k] {
			foreign = append(foreign, FieldError{Path: k, Code: CodeUnknownField})
		}
	}
	if len(foreign) > 0 {
		sortErrors(foreign)
		return nil, &ValidationError{Errors: foreign}
	}
	data := deepCopyMap(d.Data)
	for _, f := range page.Fields {
		if v, ok := values[f.Path]; ok && !f.Computed {
			setPath(data, f.Path, v)
		} else {
			deletePath(data, f.Path)
		}
	}
	res := s.Evaluate(data, Options{Today: e.now()})
	pr := &PageResult{Result: res, Errors: res.ErrorsOn(s, pageID)}
	d.Data = stripComputed(s, data)
	if len(pr.Errors) == 0 {
		pr.Next = res.NextPage(pageID)
		if pr.Next != "" {
			d.Page = pr.Next
		} else {
			d.Page = pageID
		}
	}
	d.Expires = e.now().AddDate(0, 0, s.DraftDays)
	if err := e.Store.UpdateDraft(ctx, d); err != nil {
		return nil, err
	}
	pr.Draft = d
	return pr, nil
}

// stripComputed removes computed values from what is kept in a draft:
// they are recomputed on every evaluation.
func stripComputed(s *Service, data map[string]any) map[string]any {
	for _, r := range s.computes {
		if r.prog.Scope == nil && !strings.Contains(r.target.Path, ".") {
			delete(data, r.target.Path)
		}
	}
	return data
}

func deepCopyMap(m map[string]any) map[string]any {
	return normalize(m).(map[string]any)
}

// setPath sets a dotted path (no list indexes) in a document, creating
// groups on the way.
func setPath(m map[string]any, path string, v any) {
	segs := strings.Split(path, ".")
	for _, seg := range segs[:len(segs)-1] {
		next, ok := m[seg].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[seg] = next
		}
		m = next
	}
	m[segs[len(segs)-1]] = v
}

// deletePath removes a dotted path from a document.
func deletePath(m map[string]any, path string) {
	segs := strings.Split(path, ".")
	for _, seg := range segs[:len(segs)-1] {
		next, ok := m[seg].(map[string]any)
		if !ok {
			return
		}
		m = next
	}
	delete(m, segs[len(segs)-1])
}

// ErrorsOn returns the errors that belong to the fields of a page.
func (r *Result) ErrorsOn(s *Service, pageID string) []FieldError {
	var out []FieldError
	for _, e := range r.Errors {
		if s.PageOf(StripIndexes(e.Path)) == pageID {
			out = append(out, e)
		}
	}
	return out
}

// StripIndexes turns a document path into a data model path:
// children[1].name into children.name.
func StripIndexes(p string) string {
	if !strings.Contains(p, "[") {
		return p
	}
	var b strings.Builder
	skip := false
	for _, r := range p {
		switch {
		case r == '[':
			skip = true
		case r == ']':
			skip = false
		case !skip:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// NextPage returns the visible page after pageID, or "".
func (r *Result) NextPage(pageID string) string {
	for i, p := range r.Pages {
		if p == pageID && i+1 < len(r.Pages) {
			return r.Pages[i+1]
		}
	}
	if len(r.Pages) > 0 {
		found := false
		for _, p := range r.Pages {
			if p == pageID {
				found = true
			}
		}
		if !found {
			return r.Pages[0]
		}
	}
	return ""
}

// FirstIncompletePage returns the first visible page with errors, or "".
func (r *Result) FirstIncompletePage(s *Service) string {
	for _, p := range r.Pages {
		if len(r.ErrorsOn(s, p)) > 0 {
			return p
		}
	}
	return ""
}

// Submission results.
var (
	// ErrInvalid wraps a *ValidationError returned by Submit.
	ErrInvalid = errors.New("submission rejected")
)

// SubmitDraft validates a draft as a whole and hands it in. The draft
// token is the idempotency key: submitting the same draft twice returns
// the first submission. The draft is removed in the background.
func (e *Engine) SubmitDraft(ctx context.Context, tenant, token string) (*Submission, bool, error) {
	d, s, err := e.Draft(ctx, tenant, token)
	if err != nil {
		return nil, false, err
	}
	sub, created, err := e.submit(ctx, tenant, s, d.Data, "draft:"+d.ID, "", d.ID)
	if err != nil {
		return nil, false, err
	}
	e.background(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = e.Store.DeleteDraft(ctx, tenant, token)
	})
	return sub, created, nil
}

// SubmitDocument validates and hands in a whole document, as the JSON API
// does. key is the client's idempotency key ("" for none); payloadHash
// identifies the request body for it. owner is the draft token the
// document's attachments were uploaded under ("" for none).
func (e *Engine) SubmitDocument(ctx context.Context, tenant, serviceID string, doc map[string]any, key, payloadHash, owner string) (*Submission, bool, error) {
	s, err := e.Catalog.Get(serviceID)
	if err != nil {
		return nil, false, err
	}
	return e.submit(ctx, tenant, s, doc, key, payloadHash, owner)
}

func (e *Engine) submit(ctx context.Context, tenant string, s *Service, doc map[string]any, key, payloadHash, owner string) (*Submission, bool, error) {
	res := s.Evaluate(doc, Options{Today: e.now()})
	if !res.Valid() {
		return nil, false, fmt.Errorf("%w: %w", ErrInvalid, res.Err())
	}
	atts := s.Attachments(res.Data)
	if len(atts) > 0 && owner == "" {
		var errs []FieldError
		for _, p := range s.attachmentPaths(res.Data) {
			errs = append(errs, FieldError{Path: p, Code: CodeAttachment})
		}
		return nil, false, fmt.Errorf("%w: %w", ErrInvalid, &ValidationError{Errors: errs})
	}
	req := &SubmitRequest{
		Tenant:        tenant,
		Prefix:        s.Reference,
		Service:       ServiceRef{ID: s.ID, Version: s.Version, Hash: s.Hash},
		Data:          res.Data,
		Computed:      res.Computed,
		Office:        res.Office,
		Status:        s.Workflow.Initial,
		AttachmentIDs: s.Attachments(res.Data),
		// Files count only if they were uploaded for this application.
		AttachmentOwner: owner,
		IdempotencyKey:  key,
		PayloadHash:     payloadHash,
		Actor:           "citizen",
		At:              e.now(),
	}
	if payloadHash == "" && key != "" {
		req.PayloadHash = HashPayload(s.ID, res.Data, req.AttachmentIDs)
	}
	sub, created, err := e.Store.Submit(ctx, req)
	if err != nil {
		return nil, false, err
	}
	return sub, created, nil
}

func (e *Engine) background(f func()) {
	if e.Background != nil {
		e.Background(f)
		return
	}
	go f()
}

// Attachments returns the attachment ids a document refers to: the values
// of fields declared as spec.#Attachment.
func (s *Service) Attachments(data map[string]any) []string {
	var out []string
	var walk func(n *Node, v any)
	walk = func(n *Node, v any) {
		switch n.Kind {
		case KindStruct:
			m, _ := v.(map[string]any)
			for _, f := range n.Fields {
				if x, ok := m[f.Name]; ok {
					walk(f, x)
				}
			}
		case KindList:
			l, _ := v.([]any)
			for _, x := range l {
				walk(n.Elem, x)
			}
		case KindString:
			if id, ok := v.(string); ok && n.hasFormat("attachment") {
				out = append(out, id)
			}
		}
	}
	walk(s.Data, data)
	return out
}

// attachmentPaths returns the paths of the attachment fields that have a
// value.
func (s *Service) attachmentPaths(data map[string]any) []string {
	var out []string
	var walk func(n *Node, v any, p *pathElem)
	walk = func(n *Node, v any, p *pathElem) {
		switch n.Kind {
		case KindStruct:
			m, _ := v.(map[string]any)
			for _, f := range n.Fields {
				if x, ok := m[f.Name]; ok {
					walk(f, x, &pathElem{parent: p, name: f.Name, index: -1})
				}
			}
		case KindList:
			l, _ := v.([]any)
			for i, x := range l {
				walk(n.Elem, x, &pathElem{parent: p, index: i})
			}
		case KindString:
			if _, ok := v.(string); ok && n.hasFormat("attachment") {
				out = append(out, p.String())
			}
		}
	}
	walk(s.Data, data, nil)
	return out
}

func (n *Node) hasFormat(f string) bool {
	for _, a := range n.Alts {
		for _, x := range a.Formats {
			if x == f {
				return true
			}
		}
	}
	return false
}

// StatusSecret returns the secret a citizen needs, with the reference
// number, to look up a submission's status. It is derived, not stored.
func (e *Engine) StatusSecret(tenant, ref string) string {
	m := hmac.New(sha256.New, e.Secret)
	m.Write([]byte(tenant + "\x00" + ref))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:15])
}

// CheckStatusSecret reports whether secret is the status secret of ref.
func (e *Engine) CheckStatusSecret(tenant, ref, secret string) bool {
	return hmac.Equal([]byte(e.StatusSecret(tenant, ref)), []byte(secret))
}
