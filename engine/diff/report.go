package diff

import (
	"fmt"
	"io"
	"strings"
)

// maxShown bounds the counterexamples printed per side.
const maxShown = 5

// WriteText writes the report for people.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "%s %s → %s %s\n", r.Old.ID, r.Old.Version, r.New.ID, r.New.Version)
	if len(r.Changes) == 0 {
		fmt.Fprintln(w, "\nno changes")
	} else {
		fmt.Fprintln(w, "\nchanges:")
	}
	for _, c := range r.Changes {
		path := c.Path
		if path == "" {
			path = c.Area
		} else if c.Area != "routing" {
			path = c.Area + " " + path
		}
		fmt.Fprintf(w, "  %-4s %s: %s", c.Severity(), path, c.What)
		var notes []string
		if c.Heuristic {
			notes = append(notes, "by heuristic")
		}
		if c.Drafts > Info {
			notes = append(notes, "drafts "+c.Drafts.String())
		}
		if c.Deliveries > Info {
			notes = append(notes, "deliveries "+c.Deliveries.String())
		}
		if c.Unconfirmed {
			notes = append(notes, "no checked document breaks")
		}
		if len(notes) > 0 {
			fmt.Fprintf(w, " [%s]", strings.Join(notes, "; "))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\ndrafts: %s: %d documents valid under %s checked against %s, %d rejected\n",
		r.Drafts.Severity, r.Drafts.Checked, r.Old.Version, r.New.Version, r.Drafts.Broken)
	if r.Drafts.Broken > 0 {
		fmt.Fprintf(w, "  Drafts in flight keep %s (pinned by content hash): they continue and submit under %s.\n", r.Old.Version, r.Old.Version)
	}
	writeCounterexamples(w, r.Drafts)
	fmt.Fprintf(w, "\ndeliveries: %s: %d documents valid under %s checked against the JSON Schema and offices of %s, %d rejected or rerouted\n",
		r.Deliveries.Severity, r.Deliveries.Checked, r.New.Version, r.Old.Version, r.Deliveries.Broken)
	writeCounterexamples(w, r.Deliveries)
	fmt.Fprintf(w, "\nverdict: %s\n", r.Severity)
}

func writeCounterexamples(w io.Writer, s Side) {
	for i, c := range s.Counterexamples {
		if i == maxShown {
			fmt.Fprintf(w, "  … and %d more\n", len(s.Counterexamples)-maxShown)
			break
		}
		fmt.Fprintf(w, "  %-4s %s: %s (%s)", c.Severity, c.Origin, c.Path, c.Code)
		if c.Message != "" {
			fmt.Fprintf(w, ": %s", c.Message)
		}
		fmt.Fprintln(w)
	}
}
