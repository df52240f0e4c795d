// Package staffapi serves the staff JSON API for integrations (specialist
// procedures, document management, reporting), described by the embedded
// OpenAPI document (openapi.json):
//
//	GET  /api/v1/staff/openapi.json                                  the OpenAPI document
//	GET  /api/v1/{tenant}/staff/cases                                inbox query
//	GET  /api/v1/{tenant}/staff/cases/{ref}                          one case
//	GET  /api/v1/{tenant}/staff/cases/{ref}/attachments/{id}         an attachment, streamed
//	POST /api/v1/{tenant}/staff/cases/{ref}/transitions              perform a transition
//	GET  /api/v1/{tenant}/staff/audit?after=&limit=                  the audit trail (auditor, admin)
//	GET  /api/v1/{tenant}/staff/audit/verify                         its hash chain checked
//
// Every request but the document carries a bearer token of an integration
// (Authorization: Bearer aft_…), issued with 'amtsform token' and scoped to
// one tenant, its offices and roles. The rules are those of the back
// office, because both call engine/casework with an Actor: a case the
// token may not see is 404, whether it exists or not, in another office or
// another tenant; a missing, unknown or revoked token is 401; an action
// the token's roles do not allow is 403; a stale version is 409. Errors
// are RFC 9457 problem documents.
package staffapi

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/api/httpx"
	"github.com/amtsform/amtsform/engine/record"
)

// Cases is what the staff API asks of engine/casework (*casework.Work
// implements it).
type Cases interface {
	Inbox(ctx context.Context, a Actor, q Query) (*Page, error)
	Case(ctx context.Context, a Actor, ref string) (*Case, error)
	Attachment(ctx context.Context, a Actor, ref, id string) (record.Attachment, io.ReadCloser, error)
	Transition(ctx context.Context, a Actor, ref string, version int64, transition, comment string) (*record.Submission, error)
}

// Tokens verifies bearer tokens (*staff.Staff implements it). An unknown,
// malformed or revoked token is an error wrapping record.ErrNotFound.
type Tokens interface {
	Token(ctx context.Context, secret string) (*Principal, error)
}

// Deps are what the staff API needs.
type Deps struct {
	Cases  Cases
	Tokens Tokens
	// Tenants are the tenants served; a token works only for its own.
	Tenants httpx.Tenants
	// Audit is the audit trail auditors' tokens read (GET /audit,
	// /audit/verify); nil: those routes are not registered.
	Audit AuditLog
	// Now is the clock deputy periods are judged by (default time.Now).
	Now func() time.Time
}

// Roles that may change cases through the API; a token with none of them
// (an auditor's) reads only.
var writeRoles = []string{"caseworker", "admin"}

type server struct {
	deps Deps
}

// Register registers the staff API on router (the app, or any router
// whose paths start at the root). Register it before apiv1.Register:
// /api/v1/staff/openapi.json would otherwise be taken for a tenant named
// "staff". Errors of other kinds than the ones this package answers go to
// the app's error handler (httpx.ErrorHandler).
func Register(router fiber.Router, deps Deps) {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	s := &server{deps: deps}
	router.Get("/api/v1/staff/openapi.json", s.openAPI)
	g := router.Group("/api/v1/:tenant/staff", s.authenticate)
	g.Get("/cases", s.inbox)
	g.Get("/cases/:ref", s.caseView)
	g.Get("/cases/:ref/attachments/:id", s.attachment)
	g.Post("/cases/:ref/transitions", s.transition)
	if deps.Audit != nil {
		g.Get("/audit", s.auditPage)
		g.Get("/audit/verify", s.auditVerify)
	}
}

// errUnauthorized is a missing, malformed, unknown or revoked token.
var errUnauthorized = errors.New("unauthorized")

// authenticate verifies the bearer token and binds its actor to the
// request: 401 without a valid token, 404 for a tenant other than the
// token's (unknown tenants included).
func (s *server) authenticate(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	secret, ok := bearer(c.Get(fiber.HeaderAuthorization))
	if !ok {
		return s.fail(c, errUnauthorized)
	}
	p, err := s.deps.Tokens.Token(c.UserContext(), secret)
	if errors.Is(err, record.ErrNotFound) || (err == nil && (p == nil || p.User == nil)) {
		return s.fail(c, errUnauthorized)
	}
	if err != nil {
		return err
	}
	tenant, err := s.deps.Tenants.Of(c)
	if err != nil || p.User.Tenant != tenant {
		return s.fail(c, record.ErrNotFound)
	}
	c.Locals(actorKey, Actor{
		ID: p.User.ID, Name: p.User.Name, Tenant: tenant,
		Roles: slices.Clone(p.User.Roles), Offices: p.EffectiveOffices(s.deps.Now()),
		// The client's address as the back office records it: behind a
		// trusted proxy the one it forwards, not the proxy's.
		Addr: httpx.ByClient(c),
	})
	return c.Next()
}

const actorKey = "staffapi.actor"

func actorOf(c *fiber.Ctx) Actor {
	a, _ := c.Locals(actorKey).(Actor)
	return a
}

// bearer returns the token of an Authorization header "Bearer <token>".
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != "" && len(tok) <= 256
}

func canWrite(a Actor) bool {
	for _, r := range writeRoles {
		if slices.Contains(a.Roles, r) {
			return true
		}
	}
	return false
}
