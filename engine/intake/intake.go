// Package intake takes an application in: it starts drafts, saves them
// page by page, hands them in as submissions (routed, with their first
// events) and lets the citizen look a submission up by reference and
// status secret. It owns the small store interfaces it consumes; front
// ends (citizen pages, JSON API) call it and never a store.
package intake

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	_ "time/tzdata" // Europe/Berlin on hosts without a zone database

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/catalog"
	"github.com/amtsform/amtsform/engine/record"
)

// Drafts stores citizens' unfinished applications.
type Drafts interface {
	// CreateDraft stores a new draft. It sets ID (when empty), Created,
	// Updated and Version (1).
	CreateDraft(ctx context.Context, d *record.Draft) error
	// GetDraft returns record.ErrNotFound for unknown ids or another
	// tenant's drafts and record.ErrExpired for drafts past Expires.
	GetDraft(ctx context.Context, tenant, id string) (*record.Draft, error)
	// UpdateDraft writes Page, Data and Expires if the stored version
	// still equals d.Version; then d.Version and d.Updated are advanced.
	// A stale version returns record.ErrConflict.
	UpdateDraft(ctx context.Context, d *record.Draft) error
	DeleteDraft(ctx context.Context, tenant, id string) error
}

// Submissions stores what was handed in.
type Submissions interface {
	// Submit stores a submission with its first events in one write.
	// A repeated call with the same tenant and IdempotencyKey returns the
	// first submission and created == false if the payload hash matches,
	// and an error wrapping record.ErrIdempotencyMismatch otherwise.
	Submit(ctx context.Context, req *record.SubmitRequest) (sub *record.Submission, created bool, err error)
	GetSubmission(ctx context.Context, tenant, ref string) (*record.Submission, error)
	// SubmissionByKey returns the submission stored under a tenant's
	// idempotency key, whatever its payload, or record.ErrNotFound.
	SubmissionByKey(ctx context.Context, tenant, key string) (*record.Submission, error)
	// Events returns a submission's history, oldest first.
	Events(ctx context.Context, tenant, ref string) ([]record.Event, error)
}

// Files stores uploads.
type Files interface {
	// PutFile streams r into the store under owner (a draft token); it
	// returns record.ErrTooLarge or record.ErrUnsupportedType (wrapped)
	// when limits are violated, and keeps nothing then.
	PutFile(ctx context.Context, tenant, owner, name string, r io.Reader) (*record.Attachment, error)
	// OpenFile streams a stored file. The caller must close the reader.
	OpenFile(ctx context.Context, tenant, id string) (io.ReadCloser, *record.Attachment, error)
	// OwnedFile returns a stored file's metadata if it was uploaded under
	// owner, and record.ErrNotFound otherwise.
	OwnedFile(ctx context.Context, tenant, owner, id string) (*record.Attachment, error)
	// DeleteFile removes a stored file.
	DeleteFile(ctx context.Context, tenant, id string) error
}

// Offices tells what citizens see of the office a submission went to
// (see engine/directory).
type Offices interface {
	Office(tenant, id string) (*engine.Office, bool)
}

// Store is what intake needs of a store.
type Store interface {
	Drafts
	Submissions
	Files
}

// Errors of the intake rules.
var (
	// ErrInvalid wraps a *engine.ValidationError returned by a submit.
	ErrInvalid = errors.New("submission rejected")
	// ErrPageNotReached reports a page that is not shown for the answers
	// given, or that comes after a visible page still incomplete: earlier
	// pages are completed first. See *NotReachedError.
	ErrPageNotReached = errors.New("page not reached")
)

// NotReachedError names the page to continue with instead ("review" when
// every visible page is complete).
type NotReachedError struct {
	Page     string
	Continue string
}

func (e *NotReachedError) Error() string {
	return fmt.Sprintf("page %q is not reached yet; continue with %q", e.Page, e.Continue)
}

func (e *NotReachedError) Unwrap() error { return ErrPageNotReached }

// Intake runs the life of an application up to its submission. It knows
// nothing of HTTP.
type Intake struct {
	Store   Store
	Catalog *catalog.Catalog
	// Offices names the offices submissions are routed to; nil: none
	// known (front ends then show the id in a readable form).
	Offices Offices
	// Secret keys the status secrets handed to citizens (see StatusSecret).
	Secret []byte
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Location is the time zone of the installation: the date rules see
	// as today, the year of reference numbers and the dates on receipts
	// are taken in it. nil means Europe/Berlin.
	Location *time.Location
	// Background runs work that must not delay a response (removing a
	// submitted draft); nil runs it in a goroutine.
	Background func(func())
	// Observe, when set, is told of every submit's outcome: "stored"
	// (a new submission), "replayed" (an idempotent repeat) or
	// "invalid" (refused by validation). It is the metrics hook.
	Observe func(tenant, service, outcome string)
}

// now is the current time in the installation's time zone.
func (e *Intake) now() time.Time {
	t := time.Now()
	if e.Now != nil {
		t = e.Now()
	}
	return t.In(e.Zone())
}

// Zone is the installation's time zone (see Location).
func (e *Intake) Zone() *time.Location {
	if e.Location != nil {
		return e.Location
	}
	return berlin
}

// berlin is the default zone. The zone database is embedded in the
// binary (time/tzdata), so it loads on hosts without one.
var berlin = func() *time.Location {
	l, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic("intake: " + err.Error()) // time/tzdata is linked in
	}
	return l
}()

// Today is the current time in the installation's time zone: its date is
// what rules see as today.
func (e *Intake) Today() time.Time { return e.now() }

// NewDraft starts an application for one of a tenant's current services.
func (e *Intake) NewDraft(ctx context.Context, tenant, serviceID string) (*record.Draft, *engine.Service, error) {
	s, err := e.Catalog.Get(tenant, serviceID)
	if err != nil {
		return nil, nil, err
	}
	now := e.now()
	d := &record.Draft{
		Tenant:  tenant,
		Service: record.ServiceRef{ID: s.ID, Version: s.Version, Hash: s.Hash},
		Page:    s.Form.Pages[0].ID,
		Data:    map[string]any{},
		Expires: now.AddDate(0, 0, s.DraftDays),
	}
	if err := e.Store.CreateDraft(ctx, d); err != nil {
		return nil, nil, fmt.Errorf("create draft: %w", err)
	}
	return d, s, nil
}

// Draft returns a draft and exactly the service version it was started
// with.
func (e *Intake) Draft(ctx context.Context, tenant, token string) (*record.Draft, *engine.Service, error) {
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

// Reached applies the page-order rule to the answers evaluated in res:
// a page can be shown and saved when it is visible and every visible
// page before it is complete. Otherwise it returns a *NotReachedError
// naming the page to continue with.
func Reached(svc *engine.Service, res *engine.Result, pageID string) error {
	idx := indexOf(res.Pages, pageID)
	first := res.FirstIncompletePage(svc)
	if idx >= 0 && (first == "" || indexOf(res.Pages, first) >= idx) {
		return nil
	}
	to := first
	if to == "" {
		to = "review"
	}
	return &NotReachedError{Page: pageID, Continue: to}
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// PageResult is the outcome of saving one page.
type PageResult struct {
	Draft *record.Draft
	// Result is the evaluation of the whole draft after the save.
	Result *engine.Result
	// Errors are the errors of the saved page; empty means the page is
	// complete and Next names the page to go to ("" after the last).
	Errors []engine.FieldError
	Next   string
}

// SavePage merges the values of one page into a draft, keeps them even if
// they are invalid (nothing the citizen typed is lost), and reports the
// page's errors. values holds the page's fields; a field of the page that
// is absent is cleared. Values for fields of other pages are rejected
// with engine.CodeUnknownField and change nothing. expectVersion guards against
// lost updates (record.ErrConflict); 0 skips the check.
func (e *Intake) SavePage(ctx context.Context, tenant, token string, expectVersion int64, pageID string, values map[string]any) (*PageResult, error) {
	d, s, err := e.Draft(ctx, tenant, token)
	if err != nil {
		return nil, err
	}
	if expectVersion != 0 && expectVersion != d.Version {
		return nil, fmt.Errorf("draft changed since it was read: %w", record.ErrConflict)
	}
	page := s.Form.Page(pageID)
	if page == nil {
		return nil, fmt.Errorf("page %q: %w", pageID, record.ErrNotFound)
	}
	if err := Reached(s, s.Evaluate(d.Data, engine.Options{Today: e.now()}), pageID); err != nil {
		return nil, err
	}
	data, foreign := s.ApplyPage(d.Data, page, values)
	if len(foreign) > 0 {
		return nil, &engine.ValidationError{Errors: foreign}
	}
	res := s.Evaluate(data, engine.Options{Today: e.now()})
	pr := &PageResult{Result: res, Errors: res.ErrorsOn(s, pageID)}
	d.Data = storable(s.StripComputed(data)).(map[string]any)
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

// SubmitDraft validates a draft as a whole and hands it in. The draft
// token is the idempotency key: submitting the same draft again returns
// the first submission (created == false), also after the draft was
// removed. The draft is removed in the background.
func (e *Intake) SubmitDraft(ctx context.Context, tenant, token string) (*record.Submission, bool, error) {
	d, s, err := e.Draft(ctx, tenant, token)
	if errors.Is(err, record.ErrNotFound) || errors.Is(err, record.ErrExpired) {
		// Submitted before, and the draft is gone already?
		sub, kerr := e.Store.SubmissionByKey(ctx, tenant, draftKey(token))
		if kerr == nil {
			return sub, false, nil
		}
		if !errors.Is(kerr, record.ErrNotFound) {
			return nil, false, kerr
		}
	}
	if err != nil {
		return nil, false, err
	}
	sub, created, err := e.submit(ctx, tenant, s, d.Data, false, draftKey(d.ID), "", d.ID)
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
// does. The document is handed over: it is validated in place and kept as
// the submission's answers, so the caller must not use it afterwards (the
// API passes a document it has just parsed). key is the client's
// idempotency key ("" for none); payloadHash identifies the request body
// for it. owner is the draft token the document's attachments were
// uploaded under ("" for none).
//
// A key is scoped to the tenant and, with an owner, to the owner: the
// same key sent with another draft token is another key, so replaying
// someone else's key needs their draft token. Without an owner the key
// itself is the only secret of a replay; front ends accept only keys of
// at least 128 bits then (see StrongKey).
func (e *Intake) SubmitDocument(ctx context.Context, tenant, serviceID string, doc map[string]any, key, payloadHash, owner string) (*record.Submission, bool, error) {
	s, err := e.Catalog.Get(tenant, serviceID)
	if err != nil {
		return nil, false, err
	}
	if key != "" && owner != "" {
		key = ownerKey(owner, key)
	}
	return e.submit(ctx, tenant, s, doc, true, key, payloadHash, owner)
}

// draftKey is the idempotency key of a draft's submit.
func draftKey(token string) string { return "draft:" + token }

// ownerKey scopes a client's key to the draft token it was sent with.
// The token is stored only as a hash (the key is kept with the
// submission).
func ownerKey(owner, key string) string {
	h := sha256.Sum256([]byte("amtsform idempotency owner\x00" + owner))
	return "owner:" + base64.RawURLEncoding.EncodeToString(h[:16]) + ":" + key
}

// StrongKey reports whether an idempotency key may stand alone (without
// a draft token): at least 22 characters of A–Z, a–z, 0–9, '-' and '_'
// (128 bits as base64url; a UUID has 36), so that the key is itself a
// secret no one else can guess.
func StrongKey(key string) bool {
	if len(key) < 22 {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// submit validates and stores doc; with owned, doc is handed over to
// the evaluation (see engine.Options.Owned).
func (e *Intake) submit(ctx context.Context, tenant string, s *engine.Service, doc map[string]any, owned bool, key, payloadHash, owner string) (*record.Submission, bool, error) {
	sub, created, err := e.submitOnce(ctx, tenant, s, doc, owned, key, payloadHash, owner)
	if e.Observe != nil {
		switch {
		case err == nil && created:
			e.Observe(tenant, s.ID, "stored")
		case err == nil:
			e.Observe(tenant, s.ID, "replayed")
		case errors.Is(err, ErrInvalid):
			e.Observe(tenant, s.ID, "invalid")
		}
	}
	return sub, created, err
}

func (e *Intake) submitOnce(ctx context.Context, tenant string, s *engine.Service, doc map[string]any, owned bool, key, payloadHash, owner string) (*record.Submission, bool, error) {
	now := e.now()
	res := s.Evaluate(doc, engine.Options{Today: now, Owned: owned})
	if !res.Valid() {
		return nil, false, fmt.Errorf("%w: %w", ErrInvalid, res.Err())
	}
	atts := s.Attachments(res.Data)
	if len(atts) > 0 && owner == "" {
		var errs []engine.FieldError
		for _, p := range s.AttachmentPaths(res.Data) {
			errs = append(errs, engine.FieldError{Path: p, Code: engine.CodeAttachment})
		}
		return nil, false, fmt.Errorf("%w: %w", ErrInvalid, &engine.ValidationError{Errors: errs})
	}
	if len(atts) > 0 {
		errs, err := e.checkAttachments(ctx, tenant, owner, s, res.Data)
		if err != nil {
			return nil, false, err
		}
		if len(errs) > 0 {
			return nil, false, fmt.Errorf("%w: %w", ErrInvalid, &engine.ValidationError{Errors: errs})
		}
	}
	req := &record.SubmitRequest{
		Tenant:        tenant,
		Prefix:        s.Reference,
		Service:       record.ServiceRef{ID: s.ID, Version: s.Version, Hash: s.Hash},
		Data:          res.Data,
		Computed:      res.Computed,
		Office:        res.Office,
		Status:        s.Workflow.Initial,
		AttachmentIDs: atts,
		// Files count only if they were uploaded for this application.
		AttachmentOwner: owner,
		IdempotencyKey:  key,
		PayloadHash:     payloadHash,
		Actor:           "citizen",
	}
	req.At = now
	req.Year = req.At.Year()
	if s.ProcessingDays > 0 { // the case is due after the processing time (casework)
		req.Due = req.At.AddDate(0, 0, s.ProcessingDays)
	}
	for _, name := range s.DeliveryNames() { // the outbox, written with the submission (engine/delivery)
		req.Jobs = append(req.Jobs, record.DeliveryJob{Destination: name, Kind: s.Deliveries[name].Kind})
	}
	if payloadHash == "" && key != "" {
		req.PayloadHash = record.HashPayload(s.ID, res.Data, req.AttachmentIDs)
	}
	sub, created, err := e.Store.Submit(ctx, req)
	if err != nil {
		return nil, false, err
	}
	return sub, created, nil
}

func (e *Intake) background(f func()) {
	if e.Background != nil {
		e.Background(f)
		return
	}
	go f()
}

// StatusSecret returns the secret a citizen needs, with the reference
// number, to look up a submission's status. It is derived, not stored.
func (e *Intake) StatusSecret(tenant, ref string) string {
	p := statusMACs.Load()
	if p == nil || p.key != string(e.Secret) {
		p = &keyedMACs{key: string(e.Secret)}
		statusMACs.Store(p)
	}
	m, _ := p.pool.Get().(hash.Hash)
	if m == nil {
		m = hmac.New(sha256.New, []byte(p.key))
	} else {
		m.Reset()
	}
	io.WriteString(m, tenant)
	m.Write([]byte{0})
	io.WriteString(m, ref)
	var sum [sha256.Size]byte
	out := base64.RawURLEncoding.EncodeToString(m.Sum(sum[:0])[:15])
	p.pool.Put(m)
	return out
}

// keyedMACs are HMACs keyed with one secret, for reuse: keying one costs
// two hash blocks and five allocations, a reset none. An installation has
// one secret; another one (in tests) replaces the pool.
type keyedMACs struct {
	key  string
	pool sync.Pool
}

var statusMACs atomic.Pointer[keyedMACs]

// CheckStatusSecret reports whether secret is the status secret of ref.
func (e *Intake) CheckStatusSecret(tenant, ref, secret string) bool {
	return hmac.Equal([]byte(e.StatusSecret(tenant, ref)), []byte(secret))
}

// Upload stores a file for a draft. Limits of the store apply: a refused
// file yields an error wrapping record.ErrTooLarge or
// record.ErrUnsupportedType, and nothing is kept. When path names the
// attachment field the file is for ("photo", "scans[1]"), the field's
// own rules (accepted types, largest size) apply too: a file breaking
// them is removed again and the error wraps an *engine.ValidationError
// with CodeAttachmentType or CodeAttachmentSize for path. With path ""
// the field rules are checked at submit.
func (e *Intake) Upload(ctx context.Context, d *record.Draft, svc *engine.Service, path, name string, r io.Reader) (*record.Attachment, error) {
	a, err := e.Store.PutFile(ctx, d.Tenant, d.ID, name, r)
	if err != nil || path == "" {
		return a, err
	}
	if fe := svc.CheckUpload(path, a.ContentType, a.Size); fe != nil {
		if derr := e.Store.DeleteFile(ctx, d.Tenant, a.ID); derr != nil {
			return nil, fmt.Errorf("upload for %s: remove a refused file: %w", path, derr)
		}
		return nil, fmt.Errorf("upload for %s: %w", path, &engine.ValidationError{Errors: []engine.FieldError{*fe}})
	}
	return a, nil
}

// checkAttachments applies the attachment fields' own rules (types,
// sizes) to the files a document names, as uploaded under owner: a file
// uploaded without naming its field is checked here, at submit.
func (e *Intake) checkAttachments(ctx context.Context, tenant, owner string, s *engine.Service, data map[string]any) ([]engine.FieldError, error) {
	ids, paths := s.Attachments(data), s.AttachmentPaths(data)
	var errs []engine.FieldError
	for i, id := range ids {
		if i >= len(paths) {
			break
		}
		a, err := e.Store.OwnedFile(ctx, tenant, owner, id)
		if errors.Is(err, record.ErrNotFound) {
			continue // the store reports it as an unknown attachment
		}
		if err != nil {
			return nil, err
		}
		if fe := s.CheckUpload(paths[i], a.ContentType, a.Size); fe != nil && fe.Code != engine.CodeUnknownField {
			errs = append(errs, *fe)
		}
	}
	return errs, nil
}

// DraftFileNames returns the display names of the files a draft's data
// refers to, by attachment id. Only files uploaded for this draft are
// named: an id of another draft's file (typed into a page) and ids that
// name no stored file are left out, so nothing of another application
// shows.
func (e *Intake) DraftFileNames(ctx context.Context, d *record.Draft, svc *engine.Service, data map[string]any) map[string]string {
	ids := svc.Attachments(data)
	if len(ids) == 0 {
		return nil
	}
	out := make(map[string]string, len(ids))
	for _, id := range ids {
		a, err := e.Store.OwnedFile(ctx, d.Tenant, d.ID, id)
		if err != nil {
			continue
		}
		out[id] = a.Name
	}
	return out
}

// Submission returns a submission for its citizen, who proves it with the
// status secret, together with exactly the service version it was made
// with. A wrong secret is reported as record.ErrNotFound, like an unknown
// reference.
func (e *Intake) Submission(ctx context.Context, tenant, ref, secret string) (*record.Submission, *engine.Service, error) {
	if !e.CheckStatusSecret(tenant, ref, secret) {
		return nil, nil, fmt.Errorf("submission with this reference and secret: %w", record.ErrNotFound)
	}
	sub, err := e.Store.GetSubmission(ctx, tenant, ref)
	if err != nil {
		return nil, nil, err
	}
	svc, err := e.Catalog.Pinned(sub.Service)
	if err != nil {
		return nil, nil, err
	}
	return sub, svc, nil
}

// Events returns a submission's history for its citizen (see Submission).
func (e *Intake) Events(ctx context.Context, tenant, ref, secret string) ([]record.Event, error) {
	if !e.CheckStatusSecret(tenant, ref, secret) {
		return nil, fmt.Errorf("submission with this reference and secret: %w", record.ErrNotFound)
	}
	return e.Store.Events(ctx, tenant, ref)
}

// storable makes a draft's answers fit a store without changing them: a
// number a store cannot hold exactly (1e400, 1e-400, an integer beyond
// 64 bits) is kept as the text the citizen wrote, so it is neither lost
// nor silently changed, and stays an error (a text in a number field)
// until corrected. Other numbers become int64 or float64.
func storable(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = storable(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = storable(e)
		}
		return x
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		if strings.ContainsAny(string(x), ".eE") {
			f, err := strconv.ParseFloat(string(x), 64)
			if err == nil && !math.IsInf(f, 0) && (f != 0 || onlyZeros(string(x))) {
				return f
			}
		}
		return string(x)
	}
	return v
}

// onlyZeros reports whether a number literal has no digit but zeros in
// its mantissa (0, 0.0, 0e5), so that a zero from underflow is told
// apart from a written zero.
func onlyZeros(lit string) bool {
	for _, r := range lit {
		switch {
		case r == 'e' || r == 'E':
			return true
		case r >= '1' && r <= '9':
			return false
		}
	}
	return true
}

// Office returns the office a tenant's submission was routed to, or nil
// when the directory does not know it.
func (e *Intake) Office(tenant, id string) *engine.Office {
	if e.Offices == nil {
		return nil
	}
	o, _ := e.Offices.Office(tenant, id)
	return o
}
