package record

import "time"

// AuditEntry is one entry of a tenant's audit trail: who did what to which
// object, when and from where. Entries are append-only and hash-chained
// per tenant (see engine/audit). An entry never holds citizen data: only
// references, ids and action names.
type AuditEntry struct {
	Tenant string
	Seq    int64             // 1, 2, 3, … per tenant, without gaps; set by the log
	At     time.Time         // millisecond precision, UTC
	Actor  string            // staff user id, "token:<id>" or "system"
	Action string            // "case.viewed", "case.transition", "attachment.downloaded", "user.disabled", …
	Object string            // what was acted on, e.g. "KITA-2026-000042" or a user id
	Addr   string            // client address
	Detail map[string]string // ids and names only, never citizen data
	Prev   string            // Hash of the entry before (Seq-1); "" for Seq 1
	Hash   string            // hex SHA-256 over the canonical encoding (engine/audit)

	// Slot is the sequence number the store keeps the entry under (its
	// key), set by stores when reading. It equals Seq unless the stored
	// data was tampered with; it is not part of the hash.
	Slot int64
}
