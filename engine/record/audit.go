package record

import "time"

// AuditEntry is one entry of a tenant's audit trail (who, when, what,
// from where). Detail never holds citizen data. Seq, Prev and Hash are
// set by the audit log.
//
// NOTE for the merge: this is the type of the session contract; the
// audit helper owns this file — take its version.
type AuditEntry struct {
	Tenant string
	Seq    int64
	At     time.Time
	Actor  string
	Action string // "case.viewed", "case.transition", "attachment.downloaded", …
	Object string // e.g. "KITA-2026-000042"
	Addr   string
	Detail map[string]string
	Prev   string
	Hash   string
}
