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

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/amtsform/amtsform/engine/mongostore/embedded"
	"github.com/amtsform/amtsform/engine/record"
)

// TestKill9 runs the embedded store in a child process that submits and
// changes submissions as fast as it can, kills it with SIGKILL in the
// middle of its writes, and opens the data directory again: every
// acknowledged submission and status change is there, the case index
// equals a full scan, and no event of an acknowledged change is lost.
// Each case kills several children in turn on the same directory; with
// small snapshot thresholds the kills land between deltas, after
// compactions and in the middle of either.
func TestKill9(t *testing.T) {
	if dir := os.Getenv("AMTSFORM_KILL9_DIR"); dir != "" {
		kill9Child(dir)
		return
	}
	if testing.Short() {
		t.Skip("child process")
	}
	for _, tc := range []struct {
		name             string
		every, maxDeltas int   // snapshotEvery and maxDeltas of the child
		acks             []int // acknowledged writes per child before the kill
	}{
		{"default", 500, 64, []int{700}},                  // past one snapshot
		{"deltas", 37, 1000, []int{250, 263, 281}},        // deltas only, after the first base
		{"compactions", 23, 3, []int{240, 251, 279, 300}}, // a base every fourth snapshot
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			acked := map[string]string{} // ref → status
			for _, n := range tc.acks {
				kill9Run(t, dir, fmt.Sprintf("%d/%d", tc.every, tc.maxDeltas), n, acked)
				kill9Check(t, dir, acked)
			}
		})
	}
}

// kill9Run starts a child writer on dir, kills it after n acknowledged
// writes and adds them to acked.
func kill9Run(t *testing.T, dir, snap string, n int, acked map[string]string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9$")
	cmd.Env = append(os.Environ(), "AMTSFORM_KILL9_DIR="+dir, "AMTSFORM_KILL9_SNAP="+snap)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	got := 0
	sc := bufio.NewScanner(out)
	for got < n && sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[0] == "ack" {
			acked[f[1]] = f[2]
			got++
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if got < n {
		t.Fatalf("child acknowledged only %d writes", got)
	}
}

// kill9Check opens dir after a kill and compares it with the acknowledged
// writes and the case index with a full scan.
func kill9Check(t *testing.T, dir string, acked map[string]string) {
	t.Helper()
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
	defer func() {
		if err := s.Close(ctx); err != nil {
			t.Error(err)
		}
	}()
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
	var meta snapshotMeta
	if err := s.caseIdx.FindOne(ctx, bson.D{{Key: "_id", Value: "meta"}}).Decode(&meta); err != nil {
		t.Fatal(err)
	}
	s.cases.mu.RLock()
	defer s.cases.mu.RUnlock()
	if !reflect.DeepEqual(s.cases.rows, want) {
		t.Fatalf("case index after kill -9: %d rows, scan %d", len(s.cases.rows), len(want))
	}
	t.Logf("killed after %d acknowledged writes; %d submissions stored, index exact; snapshot base %d (%d rows) + %d deltas (%d rows)",
		len(acked), len(want), meta.Gen, meta.Count, len(meta.Deltas), meta.deltaRows())
}

// kill9Child writes until it is killed, printing every acknowledgement.
func kill9Child(dir string) {
	ctx := context.Background()
	srv, err := embedded.Start(dir, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if snap := os.Getenv("AMTSFORM_KILL9_SNAP"); snap != "" {
		if _, err := fmt.Sscanf(snap, "%d/%d", &snapshotEvery, &maxDeltas); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
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
			Data: benchData(i), Office: "amt", IdempotencyKey: fmt.Sprintf("k%d-%d", os.Getpid(), i)})
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
