package main

import (
	"flag"
	"fmt"
	"io"
)

// newFlags returns the flag set of the subcommand name, such as "audit
// verify", which reports its errors on stderr. Its Usage prints
// "usage: amtsform name synopsis", then, after a blank line, each of the
// about lines, if any, and last the flags with their defaults.
func newFlags(name string, stderr io.Writer, synopsis string, about ...string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: amtsform %s %s\n", name, synopsis)
		if len(about) > 0 {
			fmt.Fprintln(stderr)
			for _, line := range about {
				fmt.Fprintln(stderr, line)
			}
		}
		fs.PrintDefaults()
	}
	return fs
}

// newStoreFlags is like newFlags for a subcommand that opens the store:
// the flag set also has the store flags, and their values are set in
// the returned storeFlags when the flag set parses its arguments.
func newStoreFlags(name string, stderr io.Writer, synopsis string, about ...string) (*flag.FlagSet, *storeFlags) {
	fs := newFlags(name, stderr, synopsis, about...)
	sf := new(storeFlags)
	sf.register(fs)
	return fs, sf
}

// parseArgs parses args with fs and reports whether the subcommand may
// go on. It reports false when a flag is wrong, which fs has already
// said, and when the number of positional arguments is not nargs, after
// printing fs.Usage. A subcommand then exits with status 2.
func parseArgs(fs *flag.FlagSet, args []string, nargs int) bool {
	if err := fs.Parse(args); err != nil {
		return false
	}
	if fs.NArg() != nargs {
		fs.Usage()
		return false
	}
	return true
}
