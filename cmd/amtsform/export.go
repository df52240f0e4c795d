package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/amtsform/amtsform/engine/record"
)

// runExport implements 'amtsform export [--tenant T] [--since TIME] > file.ndjson'.
func runExport(args []string, stdout, stderr io.Writer) int {
	fs, sf := newStoreFlags("export", stderr, "[--tenant T] [--since TIME] [store flags] > file.ndjson",
		"Writes submissions with their events and files, tombstones and reference counters as NDJSON.")
	tenant := fs.String("tenant", "", "export only this tenant")
	since := fs.String("since", "", "export only submissions created at or after this time (RFC 3339 or YYYY-MM-DD)")
	if !parseArgs(fs, args, 0) {
		return 2
	}
	f := record.ExportFilter{Tenant: *tenant}
	if *since != "" {
		t, err := parseTime(*since)
		if err != nil {
			fmt.Fprintf(stderr, "amtsform export: --since: %v\n", err)
			return 2
		}
		f.Since = t
	}
	ctx := context.Background()
	s, closeFn, err := openStore(ctx, sf.uri, sf.dataDir, sf.logger(stderr))
	if err != nil {
		return storeError(stderr, "export", err)
	}
	defer closeFn()
	w := bufio.NewWriterSize(stdout, 1<<16)
	if err := s.Export(ctx, f, w); err != nil {
		return storeError(stderr, "export", err)
	}
	if err := w.Flush(); err != nil {
		return storeError(stderr, "export", err)
	}
	return 0
}

func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot parse %q (want RFC 3339 or YYYY-MM-DD)", s)
}
