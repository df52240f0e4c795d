package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/amtsform/amtsform/engine/audit"
)

// runAudit implements 'amtsform audit verify|export'.
func runAudit(args []string, stdout, stderr io.Writer) int {
	usage := func() {
		fmt.Fprintln(stderr, "usage: amtsform audit verify [--tenant T] [store flags]")
		fmt.Fprintln(stderr, "       amtsform audit export --tenant T --format csv|ndjson [store flags] > file")
		fmt.Fprintln(stderr, "       amtsform audit import [store flags] file.ndjson")
	}
	if len(args) == 0 {
		usage()
		return 2
	}
	switch args[0] {
	case "verify":
		return runAuditVerify(args[1:], stdout, stderr)
	case "export":
		return runAuditExport(args[1:], stdout, stderr)
	case "import":
		return runAuditImport(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		usage()
		return 0
	}
	fmt.Fprintf(stderr, "amtsform audit: unknown subcommand %q\n", args[0])
	usage()
	return 2
}

// runAuditVerify walks every tenant's chain (or one) and prints one line
// per tenant; exit 1 names the first damaged entry of each broken chain.
func runAuditVerify(args []string, stdout, stderr io.Writer) int {
	fs, sf := newStoreFlags("audit verify", stderr, "[--tenant T] [store flags]",
		"Checks the hash chain of the audit trail: exit 0 when intact, 1 naming the first entry",
		"that was altered, removed, reordered or whose predecessor hash does not match.")
	tenant := fs.String("tenant", "", "verify only this tenant's chain (default: every tenant with entries)")
	anchor := fs.String("anchor", "", "SEQ:HASH written down from an earlier verify: the chain must still hold that entry\n(detects entries cut off at the end and a chain rewritten with fresh hashes; needs --tenant)")
	if !parseArgs(fs, args, 0) {
		return 2
	}
	var anchorSeq int64
	var anchorHash string
	if *anchor != "" {
		seq, hash, ok := strings.Cut(*anchor, ":")
		n, err := strconv.ParseInt(seq, 10, 64)
		if !ok || err != nil || n < 1 || len(hash) != 64 || *tenant == "" {
			fmt.Fprintln(stderr, "amtsform audit verify: --anchor wants SEQ:HASH (a 64-digit hex hash) and --tenant")
			return 2
		}
		anchorSeq, anchorHash = n, hash
	}
	ctx := context.Background()
	s, closeFn, err := openStore(ctx, sf.uri, sf.dataDir, sf.logger(stderr))
	if err != nil {
		return storeError(stderr, "audit verify", err)
	}
	defer closeFn()
	l := audit.New(s)
	tenants := []string{*tenant}
	if *tenant == "" {
		if tenants, err = l.Tenants(ctx); err != nil {
			return storeError(stderr, "audit verify", err)
		}
		if len(tenants) == 0 {
			fmt.Fprintln(stdout, "no audit entries")
			return 0
		}
	}
	code := 0
	for _, t := range tenants {
		var r *audit.Report
		if anchorSeq > 0 {
			r, err = l.VerifyAnchor(ctx, t, anchorSeq, anchorHash)
		} else {
			r, err = l.Verify(ctx, t)
		}
		if err != nil {
			return storeError(stderr, "audit verify", err)
		}
		if !r.OK() {
			fmt.Fprintf(stdout, "%s: DAMAGED: %s (entries before it: %d, intact)\n", t, r.Problem, r.Last)
			code = 1
			continue
		}
		fmt.Fprintf(stdout, "%s: ok, %d entries, last %d %s\n", t, r.Entries, r.Last, r.LastHash)
	}
	return code
}

func runAuditExport(args []string, stdout, stderr io.Writer) int {
	fs, sf := newStoreFlags("audit export", stderr, "--tenant T --format csv|ndjson [store flags] > file",
		"Writes a tenant's audit trail in chain order, with each entry's prev and hash.")
	tenant := fs.String("tenant", "", "the tenant whose audit trail to export (required)")
	format := fs.String("format", "ndjson", "csv or ndjson")
	if !parseArgs(fs, args, 0) {
		return 2
	}
	if *tenant == "" || (*format != audit.CSV && *format != audit.NDJSON) {
		fs.Usage()
		return 2
	}
	ctx := context.Background()
	s, closeFn, err := openStore(ctx, sf.uri, sf.dataDir, sf.logger(stderr))
	if err != nil {
		return storeError(stderr, "audit export", err)
	}
	defer closeFn()
	w := bufio.NewWriterSize(stdout, 1<<16)
	if err := audit.New(s).Export(ctx, *tenant, *format, w); err != nil {
		return storeError(stderr, "audit export", err)
	}
	if err := w.Flush(); err != nil {
		return storeError(stderr, "audit export", err)
	}
	return 0
}

// runAuditImport reads an NDJSON audit export into the store exactly
// (same seq, prev and hash) and verifies the chains it touched.
func runAuditImport(args []string, stdout, stderr io.Writer) int {
	fs, sf := newStoreFlags("audit import", stderr, "[store flags] file.ndjson",
		"Stores the entries of 'amtsform audit export --format ndjson' unchanged (entries already",
		"present are skipped) and verifies each imported tenant's chain: exit 1 on a conflict or a damaged chain.")
	if !parseArgs(fs, args, 1) {
		return 2
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return storeError(stderr, "audit import", err)
	}
	defer f.Close()
	ctx := context.Background()
	s, closeFn, err := openStore(ctx, sf.uri, sf.dataDir, sf.logger(stderr))
	if err != nil {
		return storeError(stderr, "audit import", err)
	}
	defer closeFn()
	l := audit.New(s)
	st, err := l.Import(ctx, bufio.NewReaderSize(f, 1<<16))
	if err != nil {
		return storeError(stderr, "audit import", err)
	}
	fmt.Fprintf(stdout, "imported: %d entries, %d already present, %d conflicts\n", st.Imported, st.Skipped, st.Conflicts)
	code := 0
	if st.Conflicts > 0 {
		code = 1
	}
	for _, t := range st.Tenants {
		r, err := l.Verify(ctx, t)
		if err != nil {
			return storeError(stderr, "audit import", err)
		}
		if !r.OK() {
			fmt.Fprintf(stdout, "%s: DAMAGED: %s\n", t, r.Problem)
			code = 1
			continue
		}
		fmt.Fprintf(stdout, "%s: ok, %d entries, last %d %s\n", t, r.Entries, r.Last, r.LastHash)
	}
	return code
}
