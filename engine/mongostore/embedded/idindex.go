package embedded

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"

	_ "modernc.org/sqlite" // the driver FerretDB uses; registered once
)

// IndexIDs adds to every collection table an SQLite expression index that
// matches the expression FerretDB v1.24 uses to look documents up by _id.
//
// FerretDB creates its _id index on `_ferretdb_sjson->"_id"` but queries
// (find, update and delete by _id) with `_ferretdb_sjson->'$._id' = ?`.
// SQLite matches index expressions textually, so without this extra index
// every lookup by _id scans the table and parses each document's JSON
// (about 12 µs per stored submission). The index is invisible to FerretDB
// (it is not in its metadata) and is dropped with the table.
//
// Call it after the collections exist (mongostore.Open creates them). It
// is idempotent.
func (s *Server) IndexIDs(ctx context.Context) error {
	files, err := filepath.Glob(filepath.Join(s.dir, "*.sqlite"))
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := indexIDs(ctx, f); err != nil {
			return fmt.Errorf("embedded store: index %s: %w", filepath.Base(f), err)
		}
	}
	return nil
}

func indexIDs(ctx context.Context, file string) error {
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(file)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT table_name FROM "_ferretdb_collections"`)
	if err != nil {
		return err
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, t := range tables {
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'$._id')`, t+"_amtsform_id", t)
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}
