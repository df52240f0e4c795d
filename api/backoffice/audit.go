package backoffice

import (
	"bytes"
	"sort"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// auditPageSize is the number of entries the audit view lists at once.
const auditPageSize = 50

type auditRow struct {
	Seq, At, Actor, Action, Object, Addr, Detail string
}

type auditView struct {
	Caption           string
	Rows              []auditRow
	NextURL           string
	FirstURL          string
	CSVURL, NDJSONURL string
}

func (s *server) auditor(c *fiber.Ctx) error {
	if s.d.Audit == nil {
		return fiber.ErrNotFound
	}
	if !hasRole(principal(c), "auditor", "admin") {
		return ErrForbidden
	}
	return nil
}

// auditPage lists the tenant's audit trail, oldest first, a page at a
// time (after= the last sequence number shown).
func (s *server) auditPage(c *fiber.Ctx) error {
	if err := s.auditor(c); err != nil {
		return err
	}
	l := lang(c)
	tenant := principal(c).User.Tenant
	after, _ := strconv.ParseInt(c.Query("after"), 10, 64)
	if after < 0 {
		after = 0
	}
	es, err := s.d.Audit.List(c.UserContext(), tenant, after, auditPageSize+1)
	if err != nil {
		return err
	}
	more := len(es) > auditPageSize
	if more {
		es = es[:auditPageSize]
	}
	p := s.base(c, tr(l, "Protokoll", "Audit trail"))
	v := &auditView{CSVURL: "/backoffice/audit/export?format=csv", NDJSONURL: "/backoffice/audit/export?format=ndjson"}
	p.Audit = v
	for _, e := range es {
		keys := make([]string, 0, len(e.Detail))
		for k := range e.Detail {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var det []string
		for _, k := range keys {
			det = append(det, k+"="+e.Detail[k])
		}
		v.Rows = append(v.Rows, auditRow{Seq: strconv.FormatInt(e.Seq, 10), At: s.dateTime(e.At, l), Actor: s.actorName(c, e.Actor, l),
			Action: e.Action, Object: e.Object, Addr: e.Addr, Detail: strings.Join(det, ", ")})
	}
	if more && len(es) > 0 {
		v.NextURL = "/backoffice/audit?after=" + strconv.FormatInt(es[len(es)-1].Seq, 10)
	}
	if after > 0 {
		v.FirstURL = "/backoffice/audit"
	}
	v.Caption = tr(l, "Protokolleinträge", "Audit entries")
	if len(es) > 0 {
		v.Caption += " " + v.Rows[0].Seq + "–" + v.Rows[len(v.Rows)-1].Seq
	}
	return s.render(c, "audit.html", p)
}

// auditExport sends the whole trail as CSV or NDJSON.
func (s *server) auditExport(c *fiber.Ctx) error {
	if err := s.auditor(c); err != nil {
		return err
	}
	format := c.Query("format")
	ct := map[string]string{"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson"}[format]
	if ct == "" {
		return fiber.ErrNotFound
	}
	tenant := principal(c).User.Tenant
	// Buffered: the request context ends with the handler, and an error
	// half way must not look like a complete export.
	var buf bytes.Buffer
	if err := s.d.Audit.Export(c.UserContext(), tenant, format, &buf); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, ct)
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="audit-`+tenant+`.`+format+`"`)
	return c.Send(buf.Bytes())
}
