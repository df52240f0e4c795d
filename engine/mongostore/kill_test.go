package mongostore

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/amtsform/amtsform/engine/mongostore/embedded"
	"github.com/amtsform/amtsform/engine/record"
)

// TestKill9 runs the embedded store in a child process that submits and
// changes submissions as fast as it can, kills it with SIGKILL in the
// middle of its writes, and opens the data directory again: every
// acknowledged submission and status change is there, the case index
// equals a full scan, and no event of an acknowledged change is lost.
func TestKill9(t *testing.T) {
	if dir := os.Getenv("AMTSFORM_KILL9_DIR"); dir != "" {
		kill9Child(dir)
		return
	}
	if testing.Short() {
		t.Skip("child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9$")
	cmd.Env = append(os.Environ(), "AMTSFORM_KILL9_DIR="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]string{} // ref → status
	sc := bufio.NewScanner(out)
	for sc.Scan() && len(acked) < 700 { // past one snapshot (500 marked writes)
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[0] == "ack" {
			acked[f[1]] = f[2]
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if len(acked) < 700 {
		t.Fatalf("child acknowledged only %d writes", len(acked))
	}

	ctx := tctx(t)
	srv, err := embedded.Start(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	s, err := Connect(ctx, srv.URI(), Options{Database: "kill9", ExclusiveDrafts: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	for ref, status := range acked {
		sub, err := s.GetSubmission(ctx, "ffm", ref)
		if err != nil {
			t.Fatalf("acknowledged %s: %v", ref, err)
		}
		if sub.Status != status {
			t.Fatalf("acknowledged %s status %s, stored %s", ref, status, sub.Status)
		}
		if status != "submitted" {
			evs, err := s.Events(ctx, "ffm", ref)
			if err != nil || len(evs) != 3 || evs[2].Type != record.EventStatusChanged {
				t.Fatalf("events of %s: %v %+v", ref, err, evs)
			}
		}
	}
	want, err := s.scanCases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.cases.mu.RLock()
	defer s.cases.mu.RUnlock()
	if !reflect.DeepEqual(s.cases.rows, want) {
		t.Fatalf("case index after kill -9: %d rows, scan %d", len(s.cases.rows), len(want))
	}
	t.Logf("killed after %d acknowledged writes; %d submissions stored, index exact", len(acked), len(want))
}

// kill9Child writes until it is killed, printing every acknowledgement.
func kill9Child(dir string) {
	ctx := context.Background()
	srv, err := embedded.Start(dir, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	s, err := Connect(ctx, srv.URI(), Options{Database: "kill9", ExclusiveDrafts: true, Logger: quiet})
	if err == nil {
		err = srv.IndexIDs(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for i := 0; ; i++ {
		sub, _, err := s.Submit(ctx, &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: record.ServiceRef{ID: "kita"},
			Data: benchData(i), Office: "amt", IdempotencyKey: fmt.Sprintf("k%d", i)})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		status := sub.Status
		if i%3 == 0 {
			if _, err := s.UpdateSubmission(ctx, "ffm", sub.Ref, 1, record.SubmissionChange{Status: "in_review", Actor: "sb"}); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			status = "in_review"
		}
		fmt.Printf("ack %s %s\n", sub.Ref, status)
	}
}
