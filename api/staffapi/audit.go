package staffapi

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/engine/audit"
	"github.com/amtsform/amtsform/engine/record"
)

// AuditLog is what the staff API reads of the audit trail (*audit.Log
// implements it).
type AuditLog interface {
	List(ctx context.Context, tenant string, after int64, limit int) ([]record.AuditEntry, error)
	Verify(ctx context.Context, tenant string) (*audit.Report, error)
}

// Roles that may read the audit trail. It is tenant-wide: its entries
// name cases and staff by id, never citizen data.
var auditRoles = []string{"auditor", "admin"}

func canAudit(a Actor) bool {
	return slices.ContainsFunc(auditRoles, func(r string) bool { return slices.Contains(a.Roles, r) })
}

// auditPage answers GET /audit?after=&limit=: entries in chain order, for
// an integration that pulls them (a SIEM, an archive).
func (s *server) auditPage(c *fiber.Ctx) error {
	a := actorOf(c)
	if !canAudit(a) {
		return s.fail(c, fmt.Errorf("the audit trail needs the role auditor or admin (this token: %s): %w", strings.Join(a.Roles, ","), ErrForbidden))
	}
	args := c.Request().URI().QueryArgs()
	after, err := intArg(args.Peek("after"), "after", 0, 0, 1<<62)
	if err != nil {
		return s.fail(c, err)
	}
	limit, err := intArg(args.Peek("limit"), "limit", 100, 1, 1000)
	if err != nil {
		return s.fail(c, err)
	}
	es, err := s.deps.Audit.List(c.UserContext(), a.Tenant, int64(after), limit)
	if err != nil {
		return s.fail(c, err)
	}
	out := auditPageJSON{Entries: make([]auditEntryJSON, 0, len(es)), Next: int64(after)}
	for _, e := range es {
		detail := e.Detail
		if detail == nil {
			detail = map[string]string{}
		}
		out.Entries = append(out.Entries, auditEntryJSON{Seq: e.Seq, At: e.At.UTC().Format(auditTime), Actor: e.Actor, Action: e.Action,
			Object: e.Object, Addr: e.Addr, Detail: detail, Prev: e.Prev, Hash: e.Hash})
		out.Next = e.Seq
	}
	return c.JSON(out)
}

// auditTime is the time format of the chain's canonical encoding.
const auditTime = "2006-01-02T15:04:05.000Z07:00"

// auditVerify answers GET /audit/verify with the report of the tenant's
// chain (200 whether intact or not: ok says which).
func (s *server) auditVerify(c *fiber.Ctx) error {
	a := actorOf(c)
	if !canAudit(a) {
		return s.fail(c, fmt.Errorf("the audit trail needs the role auditor or admin: %w", ErrForbidden))
	}
	r, err := s.deps.Audit.Verify(c.UserContext(), a.Tenant)
	if err != nil {
		return s.fail(c, err)
	}
	out := verifyJSON{Tenant: r.Tenant, OK: r.OK(), Entries: r.Entries, Last: r.Last, LastHash: r.LastHash, Checked: s.deps.Now().UTC().Truncate(time.Second)}
	if r.Problem != nil {
		out.Problem = &problemJSON{Seq: r.Problem.Seq, Kind: r.Problem.Kind, Reason: r.Problem.Reason}
	}
	return c.JSON(out)
}

type auditPageJSON struct {
	Entries []auditEntryJSON `json:"entries"`
	// Next is the after of the next page: the last seq returned.
	Next int64 `json:"next"`
}

type auditEntryJSON struct {
	Seq    int64             `json:"seq"`
	At     string            `json:"at"`
	Actor  string            `json:"actor"`
	Action string            `json:"action"`
	Object string            `json:"object"`
	Addr   string            `json:"addr"`
	Detail map[string]string `json:"detail"`
	Prev   string            `json:"prev"`
	Hash   string            `json:"hash"`
}

type verifyJSON struct {
	Tenant   string       `json:"tenant"`
	OK       bool         `json:"ok"`
	Entries  int64        `json:"entries"`
	Last     int64        `json:"last"`
	LastHash string       `json:"lastHash"`
	Checked  time.Time    `json:"checked"`
	Problem  *problemJSON `json:"problem"`
}

type problemJSON struct {
	Seq    int64  `json:"seq"`
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
}
