package audit

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/amtsform/amtsform/engine/record"
)

// Formats Export writes.
const (
	CSV    = "csv"
	NDJSON = "ndjson"
)

// csvHeader names the CSV columns.
var csvHeader = []string{"seq", "at", "tenant", "actor", "action", "object", "addr", "detail", "prev", "hash"}

// jsonEntry is the NDJSON form of an entry.
type jsonEntry struct {
	Tenant string            `json:"tenant"`
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

// Export writes every entry of tenant in chain order to w, streaming, as
// CSV (a header row, detail as a JSON object) or NDJSON (one object per
// line). The values are exactly the stored ones, so an export can be
// checked with Hash; at is RFC 3339 UTC with milliseconds.
func (l *Log) Export(ctx context.Context, tenant, format string, w io.Writer) error {
	var write func(e *record.AuditEntry) error
	var flush func() error
	switch format {
	case CSV:
		cw := csv.NewWriter(w)
		if err := cw.Write(csvHeader); err != nil {
			return fmt.Errorf("audit: export: %w", err)
		}
		write = func(e *record.AuditEntry) error {
			detail, _ := json.Marshal(nonNil(e.Detail))
			cw.Write([]string{strconv.FormatInt(e.Seq, 10), e.At.UTC().Format(timeLayout), e.Tenant, e.Actor, e.Action,
				e.Object, e.Addr, string(detail), e.Prev, e.Hash})
			if cw.Error() != nil {
				return cw.Error()
			}
			return nil
		}
		flush = func() error { cw.Flush(); return cw.Error() }
	case NDJSON:
		enc := json.NewEncoder(w)
		write = func(e *record.AuditEntry) error { return enc.Encode(toJSON(e)) }
		flush = func() error { return nil }
	default:
		return fmt.Errorf("audit: export format %q: want csv or ndjson: %w", format, ErrInvalid)
	}
	n := 0
	err := l.store.AuditEntries(ctx, tenant, 0, 0, func(e *record.AuditEntry) error {
		if err := write(e); err != nil {
			return err
		}
		n++
		if n%1000 == 0 {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return fmt.Errorf("audit: export %s: %w", tenant, err)
	}
	return nil
}

func toJSON(e *record.AuditEntry) jsonEntry {
	return jsonEntry{Tenant: e.Tenant, Seq: e.Seq, At: e.At.UTC().Format(timeLayout), Actor: e.Actor, Action: e.Action,
		Object: e.Object, Addr: e.Addr, Detail: nonNil(e.Detail), Prev: e.Prev, Hash: e.Hash}
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// ImportStats counts what Import did.
type ImportStats struct {
	Imported  int      // entries written
	Skipped   int      // entries already stored, identical
	Conflicts int      // entries whose seq is stored with other content (left unchanged)
	Tenants   []string // the tenants read, sorted
}

// Import reads the NDJSON of Export (of one tenant or several,
// concatenated) and stores every entry exactly as it was, with its seq,
// prev and hash: it moves an audit trail to another store (from the
// embedded store to MongoDB, say) without re-chaining it, so that the
// target verifies with the same hashes. Entries already present are
// skipped; one stored under its seq with other content is counted as a
// conflict and left unchanged. Run Verify afterwards.
//
// A Log that has recorded entries of a tenant before the import must not
// be used for that tenant afterwards (its idea of the chain's head is
// stale); the CLI imports with a fresh Log.
func (l *Log) Import(ctx context.Context, r io.Reader) (ImportStats, error) {
	var st ImportStats
	dec := json.NewDecoder(r)
	for line := 1; ; line++ {
		var j jsonEntry
		err := dec.Decode(&j)
		if err == io.EOF {
			sort.Strings(st.Tenants)
			return st, nil
		}
		if err != nil {
			return st, fmt.Errorf("audit: import: entry %d: %w: %w", line, ErrInvalid, err)
		}
		at, err := time.Parse(timeLayout, j.At)
		if err != nil {
			return st, fmt.Errorf("audit: import: entry %d: at: %w: %w", line, ErrInvalid, err)
		}
		e := record.AuditEntry{Tenant: j.Tenant, Seq: j.Seq, At: at.UTC(), Actor: j.Actor, Action: j.Action,
			Object: j.Object, Addr: j.Addr, Detail: j.Detail, Prev: j.Prev, Hash: j.Hash}
		if len(e.Detail) == 0 {
			e.Detail = nil
		}
		if e.Seq < 1 || check(&e) != nil {
			return st, fmt.Errorf("audit: import: entry %d: not an audit entry: %w", line, ErrInvalid)
		}
		if !slices.Contains(st.Tenants, e.Tenant) {
			st.Tenants = append(st.Tenants, e.Tenant)
		}
		err = l.store.InsertAudit(ctx, &e)
		switch {
		case err == nil:
			st.Imported++
		case errors.Is(err, record.ErrConflict):
			old, err := l.store.AuditEntry(ctx, e.Tenant, e.Seq)
			if err != nil {
				return st, fmt.Errorf("audit: import: entry %d: %w", line, err)
			}
			if old.Hash == e.Hash && Hash(old) == Hash(&e) {
				st.Skipped++
			} else {
				st.Conflicts++
			}
		default:
			return st, fmt.Errorf("audit: import: entry %d: %w", line, err)
		}
	}
}
