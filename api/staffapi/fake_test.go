package staffapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/api/httpx"
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/audit"
	"github.com/amtsform/amtsform/engine/record"
)

// fakeCases keeps cases in memory with the rules of the casework
// contract: a case outside the actor's tenant and offices is
// record.ErrNotFound; a transition the actor's roles do not allow is
// ErrForbidden; a stale version is a *ConflictError.
type fakeCases struct {
	mu        sync.Mutex
	cases     map[string]*record.Submission // by tenant/ref
	files     map[string][]byte             // by attachment id
	events    map[string][]record.Event
	workflow  []engine.Transition
	lastQuery Query
	audit     []string // "actor action object"
}

func newFakeCases() *fakeCases {
	return &fakeCases{
		cases: map[string]*record.Submission{}, files: map[string][]byte{}, events: map[string][]record.Event{},
		workflow: []engine.Transition{
			{ID: "start", Title: engine.Text{De: "Bearbeiten", En: "Start review"}, From: []string{"submitted"}, To: "in_review", Roles: []string{"caseworker"}},
			{ID: "reject", Title: engine.Text{De: "Ablehnen", En: "Reject"}, From: []string{"in_review"}, To: "rejected", Roles: []string{"caseworker"}, Comment: true},
		},
	}
}

func (f *fakeCases) add(tenant, office, ref string, files map[string]string) *record.Submission {
	f.mu.Lock()
	defer f.mu.Unlock()
	at := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	sub := &record.Submission{Ref: ref, Tenant: tenant, Office: office, Status: "submitted", Version: 1, Created: at, Updated: at,
		Service:  record.ServiceRef{ID: "kita-gebuehren", Version: "1.0.0", Hash: "sha256:abc"},
		Data:     map[string]any{"applicant": map[string]any{"name": "Erika Mustermann"}, "income": int64(4500000)},
		Computed: map[string]any{"monthlyFee": int64(23050)}}
	for id, name := range files {
		data := []byte("%PDF-1.4\n" + id + "\n%%EOF\n")
		f.files[id] = data
		sub.Attachments = append(sub.Attachments, record.Attachment{ID: id, Name: name, Size: int64(len(data)), SHA256: "00", ContentType: "application/pdf"})
	}
	f.cases[tenant+"/"+ref] = sub
	f.events[tenant+"/"+ref] = []record.Event{{ID: "e1", Tenant: tenant, Submission: ref, Type: record.EventSubmitted, At: at, Actor: "system"},
		{ID: "e2", Tenant: tenant, Submission: ref, Type: record.EventRouted, At: at, Actor: "system", Data: map[string]any{"office": office}}}
	return sub
}

func (f *fakeCases) visible(a Actor, ref string) (*record.Submission, error) {
	sub := f.cases[a.Tenant+"/"+ref]
	if sub == nil || !slices.Contains(a.Offices, sub.Office) {
		return nil, fmt.Errorf("case %s: %w", ref, record.ErrNotFound)
	}
	return sub, nil
}

func (f *fakeCases) record(a Actor, action, object string) {
	f.audit = append(f.audit, a.ID+" "+action+" "+object)
}

func (f *fakeCases) Inbox(ctx context.Context, a Actor, q Query) (*Page, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastQuery = q
	p := &Page{Counts: map[string]int{}}
	for _, sub := range f.cases {
		if sub.Tenant != a.Tenant || !slices.Contains(a.Offices, sub.Office) || (q.Office != "" && sub.Office != q.Office) {
			continue
		}
		p.Counts[sub.Status]++
		if q.Ref != "" && !strings.HasPrefix(strings.ToLower(sub.Ref), strings.ToLower(q.Ref)) {
			continue
		}
		if len(q.Status) > 0 && !slices.Contains(q.Status, sub.Status) {
			continue
		}
		c := *sub
		c.Data, c.Computed = nil, nil
		p.Cases = append(p.Cases, &c)
	}
	slices.SortFunc(p.Cases, func(a, b *record.Submission) int { return compare(a.Ref, b.Ref) })
	p.Total = len(p.Cases)
	return p, nil
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (f *fakeCases) allowed(a Actor, sub *record.Submission) []engine.Transition {
	var out []engine.Transition
	for _, t := range f.workflow {
		if slices.Contains(t.From, sub.Status) && slices.ContainsFunc(t.Roles, func(r string) bool { return slices.Contains(a.Roles, r) }) {
			out = append(out, t)
		}
	}
	return out
}

func (f *fakeCases) Case(ctx context.Context, a Actor, ref string) (*Case, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sub, err := f.visible(a, ref)
	if err != nil {
		return nil, err
	}
	f.record(a, "case.viewed", ref)
	c := *sub
	return &Case{Sub: &c, Events: slices.Clone(f.events[a.Tenant+"/"+ref]), Actions: f.allowed(a, sub)}, nil
}

func (f *fakeCases) Attachment(ctx context.Context, a Actor, ref, id string) (record.Attachment, io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sub, err := f.visible(a, ref)
	if err != nil {
		return record.Attachment{}, nil, err
	}
	for _, att := range sub.Attachments {
		if att.ID == id {
			f.record(a, "attachment.downloaded", ref)
			return att, io.NopCloser(bytes.NewReader(f.files[id])), nil
		}
	}
	return record.Attachment{}, nil, fmt.Errorf("attachment %s: %w", id, record.ErrNotFound)
}

func (f *fakeCases) Transition(ctx context.Context, a Actor, ref string, version int64, transition, comment string) (*record.Submission, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sub, err := f.visible(a, ref)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(f.workflow, func(t engine.Transition) bool { return t.ID == transition })
	if i < 0 || !slices.Contains(f.workflow[i].From, sub.Status) {
		return nil, &ActionError{Code: "notAllowedNow"}
	}
	t := f.workflow[i]
	if !slices.ContainsFunc(t.Roles, func(r string) bool { return slices.Contains(a.Roles, r) }) {
		return nil, ErrForbidden
	}
	if version != sub.Version {
		return nil, &ConflictError{By: "u-bernd", What: "status changed"}
	}
	if t.Comment && comment == "" {
		return nil, &ActionError{Code: "commentRequired"}
	}
	sub.Status, sub.Version, sub.Updated = t.To, sub.Version+1, sub.Updated.Add(time.Hour)
	f.record(a, "case.transition", ref)
	c := *sub
	return &c, nil
}

// fakeTokens verifies secrets from a map; revoked ones are not found.
type fakeTokens struct {
	mu      sync.Mutex
	tokens  map[string]*Principal
	revoked map[string]bool
}

func (f *fakeTokens) Token(ctx context.Context, secret string) (*Principal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.tokens[secret]
	if p == nil || f.revoked[secret] {
		return nil, fmt.Errorf("staff: token: %w", record.ErrNotFound)
	}
	return p, nil
}

func (f *fakeTokens) add(secret, tenant string, roles, offices []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := secret[4:16] // aft_<id>_…
	f.tokens[secret] = &Principal{TokenID: id, User: &User{ID: "token:" + id, Tenant: tenant, Name: "Fachverfahren " + id, Roles: roles, Offices: offices}}
}

// Test tokens and cases: tenant musterstadt with offices jugendamt (A)
// and buergeramt (B); tenant kelkheim with its own jugendamt.
const (
	tokA        = "aft_00000000000a_caseworker-of-jugendamt-A"
	tokB        = "aft_00000000000b_caseworker-of-buergeramt-B"
	tokAuditor  = "aft_00000000000c_auditor-of-jugendamt-AAA"
	tokRevoked  = "aft_00000000000d_revoked-caseworker-AAAA"
	tokKelkheim = "aft_00000000000e_caseworker-of-kelkheim-K"

	refA   = "KITA-2026-000001" // musterstadt, jugendamt
	refB   = "KITA-2026-000002" // musterstadt, buergeramt
	refK   = "KITA-2026-000003" // kelkheim, jugendamt
	fileA  = "f-a1"
	fileB  = "f-b1"
	fileK  = "f-k1"
	tenant = "musterstadt"
)

type fixture struct {
	app        *fiber.App
	cases      *fakeCases
	tokens     *fakeTokens
	auditStore *audit.MemoryStore
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	cases := newFakeCases()
	cases.add(tenant, "jugendamt", refA, map[string]string{fileA: "Einkommensnachweis März.pdf"})
	cases.add(tenant, "buergeramt", refB, map[string]string{fileB: "b.pdf"})
	cases.add("kelkheim", "jugendamt", refK, map[string]string{fileK: "k.pdf"})
	tokens := &fakeTokens{tokens: map[string]*Principal{}, revoked: map[string]bool{}}
	tokens.add(tokA, tenant, []string{"caseworker"}, []string{"jugendamt"})
	tokens.add(tokB, tenant, []string{"caseworker"}, []string{"buergeramt"})
	tokens.add(tokAuditor, tenant, []string{"auditor"}, []string{"jugendamt"})
	tokens.add(tokRevoked, tenant, []string{"caseworker"}, []string{"jugendamt"})
	tokens.add(tokKelkheim, "kelkheim", []string{"caseworker"}, []string{"jugendamt"})
	tokens.revoked[tokRevoked] = true

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	app := fiber.New(fiber.Config{
		ErrorHandler: httpx.ErrorHandler(quiet, func(c *fiber.Ctx, e httpx.ErrorPage) error { return c.SendString(e.Title) }),
	})
	as := &audit.MemoryStore{}
	log := audit.New(as)
	for _, e := range []record.AuditEntry{
		{Tenant: tenant, Actor: "u-anna", Action: "case.viewed", Object: refA, Addr: "192.0.2.1"},
		{Tenant: tenant, Actor: "u-anna", Action: "attachment.downloaded", Object: refA, Addr: "192.0.2.1", Detail: map[string]string{"file": fileA}},
		{Tenant: tenant, Actor: "u-bernd", Action: "case.transition", Object: refB, Detail: map[string]string{"transition": "start"}},
		{Tenant: "kelkheim", Actor: "u-karl", Action: "case.viewed", Object: refK},
	} {
		if err := log.Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	Register(app, Deps{Cases: cases, Tokens: tokens, Tenants: httpx.Tenants{tenant, "kelkheim"}, Audit: log})
	return &fixture{app: app, cases: cases, tokens: tokens, auditStore: as}
}
