package main

import (
	"context"
	"fmt"
	"io"
	"os"
)

// runImport implements 'amtsform import file.ndjson' ("-" reads stdin).
func runImport(args []string, stdout, stderr io.Writer) int {
	fs, sf := newStoreFlags("import", stderr, "[store flags] file.ndjson",
		"Reads the output of 'amtsform export'. Records already present are skipped,",
		"so importing the same file twice creates no duplicates.")
	if !parseArgs(fs, args, 1) {
		return 2
	}
	var in io.Reader = os.Stdin
	if name := fs.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return storeError(stderr, "import", err)
		}
		defer f.Close()
		in = f
	}
	ctx := context.Background()
	s, closeFn, err := openStore(ctx, sf.uri, sf.dataDir, sf.logger(stderr))
	if err != nil {
		return storeError(stderr, "import", err)
	}
	defer closeFn()
	st, err := s.Import(ctx, in)
	fmt.Fprintf(stdout, "imported: %d submissions, %d event logs, %d files (%d chunks), %d counters, %d service versions, %d delivery jobs (%d attempts and steps), %d accounts and tokens; %d already present, %d conflicts\n",
		st.Submissions, st.Events, st.Files, st.Chunks, st.Counters, st.Versions, st.Deliveries, st.DeliveryRecords, st.Accounts, st.Skipped, st.Conflicts)
	if err != nil {
		return storeError(stderr, "import", err)
	}
	if st.Conflicts > 0 {
		fmt.Fprintln(stderr, "amtsform import: some records exist in the target with different content and were left unchanged")
		return 1
	}
	return 0
}
