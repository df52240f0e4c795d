package main

import (
	"fmt"
	"io"
	"os"
	"sort"
)

// A command is one subcommand of the amtsform CLI. It receives the
// arguments after its name and returns the process exit code.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

// commands lists every subcommand by name.
var commands = map[string]command{
	"check":      {"compile service definitions and report every problem", runCheck},
	"test":       {"run the spec tests written beside each service", runTest},
	"compile":    {"print the compiled form model (or a JSON Schema) as JSON", runCompile},
	"validate":   {"validate one JSON document against a service", runValidate},
	"serve":      {"serve the citizen forms and the JSON API", runServe},
	"export":     {"write submissions, events and files as NDJSON to stdout", runExport},
	"import":     {"read an export file into the store (idempotent)", runImport},
	"bench":      {"measure the store in a scratch database: submit throughput, read and inbox latency", runBench},
	"audit":      {"verify or export the hash-chained audit trail", runAudit},
	"user":       {"manage staff accounts: add, passwd, disable, enable, roles, deputy, list", runUser},
	"token":      {"manage staff API tokens of integrations: add, list, revoke", runToken},
	"deliveries": {"list, show and retry delivery jobs (the outbox)", runDeliveries},
}

// Main runs the amtsform command line with os.Args and returns the exit code.
// It is separate from main so that tests can run the CLI in-process.
func Main() int {
	return run(os.Args[1:], os.Stdout, os.Stderr)
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "amtsform: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	return cmd.run(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: amtsform <command> [arguments]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'amtsform <command> -h' for a command's flags.")
}
