package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/amtsform/amtsform/engine/delivery"
	"github.com/amtsform/amtsform/engine/record"
)

// runDeliveries is "amtsform deliveries list|show|retry": the outbox as
// an administrator sees it. A manual retry always works for a pending or
// dead-lettered job, whatever its attempt count.
func runDeliveries(args []string, stdout, stderr io.Writer) int {
	usage := func() {
		fmt.Fprintln(stderr, "usage: amtsform deliveries list [--tenant T] [--status pending,dead,...] [--destination D] [--ref R] [--limit N] [store flags]")
		fmt.Fprintln(stderr, "       amtsform deliveries show JOB [store flags]")
		fmt.Fprintln(stderr, "       amtsform deliveries retry JOB [store flags]")
		fmt.Fprintln(stderr, "\nJOB is tenant/reference/destination, as list prints it.")
	}
	if len(args) == 0 {
		usage()
		return 2
	}
	sub := args[0]
	fs := flag.NewFlagSet("deliveries "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf storeFlags
	sf.register(fs)
	tenant := fs.String("tenant", "", "list: only this tenant")
	status := fs.String("status", "", "list: only these states, comma-separated (pending, delivered, rejected, dead)")
	dest := fs.String("destination", "", "list: only this destination")
	ref := fs.String("ref", "", "list: only this submission")
	limit := fs.Int("limit", 100, "list: at most this many, newest first")
	fs.Usage = usage
	rest := args[1:]
	job := ""
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		job, rest = rest[0], rest[1:] // JOB before the flags
	}
	if err := fs.Parse(rest); err != nil {
		return 2
	}
	if job == "" && fs.NArg() == 1 {
		job = fs.Arg(0)
	} else if fs.NArg() > 0 {
		job = "" // more than one
	}
	switch {
	case sub == "list" && job == "" && fs.NArg() == 0, (sub == "show" || sub == "retry") && job != "":
	default:
		usage()
		return 2
	}
	ctx := context.Background()
	s, closeFn, err := openStore(ctx, sf.uri, sf.dataDir, sf.logger(stderr))
	if err != nil {
		return storeError(stderr, "deliveries", err)
	}
	defer closeFn()
	switch sub {
	case "list":
		q := record.DeliveryQuery{Tenant: *tenant, Destination: *dest, Ref: *ref, Limit: *limit}
		if *status != "" {
			q.Status = strings.Split(*status, ",")
		}
		jobs, err := s.ListDeliveries(ctx, q)
		if err != nil {
			return storeError(stderr, "deliveries", err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "JOB\tKIND\tSTATUS\tATTEMPTS\tSINCE\tLAST ERROR")
		for _, j := range jobs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", j.ID, j.Kind, j.Status, j.Attempts, j.Since.Format(time.RFC3339), singleLine(j.LastError))
		}
		tw.Flush()
		return 0
	case "show":
		j, err := s.DeliveryJob(ctx, job)
		if err != nil {
			return deliveriesError(stderr, err)
		}
		fmt.Fprintf(stdout, "job:         %s\ndelivery id: %s\nsubmission:  %s (%s %s)\ndestination: %s (%s)\nstatus:      %s\nattempts:    %d (%d since the last manual retry)\ncreated:     %s\n",
			j.ID, record.DeliveryID(j.ID), j.Ref, j.Service.ID, j.Service.Version, j.Destination, j.Kind, j.Status, j.Attempts, j.Attempts-j.Base, j.Created.Format(time.RFC3339))
		if j.Status == record.DeliveryPending {
			fmt.Fprintf(stdout, "next:        %s\n", j.Next.Format(time.RFC3339))
		}
		if !j.Delivered.IsZero() {
			fmt.Fprintf(stdout, "delivered:   %s\n", j.Delivered.Format(time.RFC3339))
		}
		if j.Verdict != "" {
			fmt.Fprintf(stdout, "receiver:    %s\n", j.Verdict)
		}
		if j.LastError != "" {
			fmt.Fprintf(stdout, "last error:  %s\n", singleLine(j.LastError))
		}
		for n := 1; ; n++ {
			c, err := s.DeliveryClaim(ctx, j.ID, n)
			if err != nil {
				break
			}
			out := c.Outcome
			if out == "" {
				out = "no outcome recorded (in flight, delivered, or its dispatcher stopped)"
			}
			fmt.Fprintf(stdout, "%-13s%s by %s: %s %s\n", fmt.Sprintf("attempt %d:", n), c.Started.Format(time.RFC3339), c.Holder, out, singleLine(c.Error))
		}
		return 0
	default: // retry
		j, err := delivery.Retry(ctx, s, job)
		if err != nil {
			return deliveriesError(stderr, err)
		}
		fmt.Fprintf(stdout, "%s: due now with a full set of attempts (a running server delivers it at its next poll)\n", j.ID)
		return 0
	}
}

func deliveriesError(stderr io.Writer, err error) int {
	switch {
	case errors.Is(err, record.ErrNotFound):
		fmt.Fprintf(stderr, "amtsform deliveries: no such delivery job\n")
	case errors.Is(err, record.ErrConflict):
		fmt.Fprintf(stderr, "amtsform deliveries: %v\n", err)
	default:
		return storeError(stderr, "deliveries", err)
	}
	return 1
}

func singleLine(s string) string { return strings.Join(strings.Fields(s), " ") }
