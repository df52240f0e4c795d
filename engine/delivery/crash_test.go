package delivery_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/amtsform/amtsform/engine/delivery"
	"github.com/amtsform/amtsform/engine/mongostore"
	"github.com/amtsform/amtsform/engine/mongostore/embedded"
	"github.com/amtsform/amtsform/engine/record"
	"github.com/amtsform/amtsform/engine/storetest"
)

// TestCrash runs the embedded store with a dispatcher in a child process
// that takes a burst of 200 submissions (two attachments each, uploaded
// as steps before the envelope), kills it with SIGKILL in the middle,
// and starts it again on the same data directory: every acknowledged
// submission is stored and delivered, none twice after deduplication,
// and no step recorded as completed is sent again.
func TestCrash(t *testing.T) {
	if os.Getenv("AMTSFORM_DELIVERY_CRASH_DIR") != "" {
		crashChild()
		return
	}
	if testing.Short() {
		t.Skip("child processes")
	}
	dir := t.TempDir()
	rc := newReceiver([]byte("k"))
	rc.fail = func(id string, n int) string {
		if n == 1 && id[0] < '8' { // about half fail their first envelope
			return "500"
		}
		return ""
	}
	rc.delay = 30 * time.Millisecond // a backlog builds up: the kill hits deliveries in flight
	srv := httptest.NewServer(rc)
	defer srv.Close()
	child := func(mode string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrash$")
		cmd.Env = append(os.Environ(), "AMTSFORM_DELIVERY_CRASH_DIR="+dir, "AMTSFORM_DELIVERY_CRASH_MODE="+mode,
			"AMTSFORM_DELIVERY_CRASH_URL="+srv.URL)
		cmd.Stderr = os.Stderr
		return cmd
	}

	// 1: the burst, killed after 100 acknowledgements.
	cmd := child("burst")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	sc := bufio.NewScanner(out)
	for sc.Scan() && len(acked) < 100 {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "ack" {
			acked = append(acked, f[1])
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if len(acked) < 100 {
		t.Fatalf("child acknowledged only %d submissions", len(acked))
	}
	before := rc.count()

	// 2: restarted, it delivers what is left.
	cmd = child("drain")
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("drain: %v\n%s", err, b)
	}
	steps := map[string]time.Time{} // delivery id/attachment → recorded
	stored := 0
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) == 4 && f[0] == "step":
			ns, _ := strconv.ParseInt(f[3], 10, 64)
			steps[f[1]+"/"+strings.TrimPrefix(f[2], "upload:")] = time.Unix(0, ns)
		case len(f) == 2 && f[0] == "stored":
			stored, _ = strconv.Atoi(f[1])
		}
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bad) > 0 {
		t.Fatalf("receiver refused: %v", rc.bad[0])
	}
	for _, ref := range acked {
		id := record.DeliveryID(record.DeliveryJobID("ffm", ref, "fv"))
		if rc.accepted[id] == nil {
			t.Fatalf("acknowledged %s was not delivered", ref)
		}
	}
	if len(rc.accepted) != stored {
		t.Fatalf("%d submissions stored, %d delivered", stored, len(rc.accepted))
	}
	repeated := 0
	for k, at := range steps {
		for _, got := range rc.uploads[k] {
			if got.After(at.Add(time.Millisecond)) { // At is stored in ms
				repeated++
			}
		}
	}
	if repeated > 0 {
		t.Fatalf("%d steps recorded as completed were sent again", repeated)
	}
	if len(steps) != 2*stored {
		t.Fatalf("%d upload steps recorded for %d submissions", len(steps), stored)
	}
	dups := 0
	for _, a := range rc.arrivals {
		if len(a) > 2 {
			dups++
		}
	}
	t.Logf("killed after %d acknowledged submits (%d delivered by then); %d stored, all delivered after the restart; %d uploads recorded, none repeated after its record; %d envelopes arrived more than twice",
		len(acked), before, stored, len(steps), dups)
}

func crashChild() {
	dir := os.Getenv("AMTSFORM_DELIVERY_CRASH_DIR")
	ctx := context.Background()
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	srv, err := embedded.Start(dir, nil)
	if err != nil {
		fail(err)
	}
	s, err := mongostore.Connect(ctx, srv.URI(), mongostore.Options{Database: "crash", ExclusiveDrafts: true, Logger: quiet})
	if err == nil {
		err = srv.IndexIDs(ctx)
	}
	if err != nil {
		fail(err)
	}
	d := delivery.New(s, delivery.Options{
		Bindings: delivery.StaticBindings{"ffm/fv": {Kind: "webhook", URL: os.Getenv("AMTSFORM_DELIVERY_CRASH_URL"), SecretEnv: "K", InlineLimit: 100}},
		Env:      func(string) string { return "k" }, Poll: 10 * time.Millisecond, Backoff: 20 * time.Millisecond,
		MaxBackoff: 200 * time.Millisecond, Logger: quiet,
	})
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = d.Run(rctx); close(done) }()
	if os.Getenv("AMTSFORM_DELIVERY_CRASH_MODE") == "burst" {
		for i := 0; i < 200; i++ {
			owner := fmt.Sprintf("draft%d", i)
			var atts []string
			for k := 0; k < 2; k++ {
				a, err := s.PutFile(ctx, "ffm", owner, fmt.Sprintf("beleg%d.pdf", k), bytes.NewReader(storetest.PDF(300+k)))
				if err != nil {
					fail(err)
				}
				atts = append(atts, a.ID)
			}
			sub, _, err := s.Submit(ctx, &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: svcRef,
				Data: map[string]any{"name": fmt.Sprintf("Erika %d", i), "belege": atts}, Office: "amt",
				AttachmentIDs: atts, AttachmentOwner: owner, IdempotencyKey: fmt.Sprintf("k%d", i),
				Jobs: []record.DeliveryJob{{Destination: "fv", Kind: "webhook"}}})
			if err != nil {
				fail(err)
			}
			d.Wake()
			fmt.Printf("ack %s\n", sub.Ref)
		}
		<-done // until killed
		cancel()
		return
	}
	// drain: until nothing is pending (the first poll finds what the
	// killed run left)
	if _, err := s.DueDeliveries(ctx, time.Now(), 1); err != nil {
		fail(err)
	}
	deadline := time.Now().Add(45 * time.Second)
	for {
		time.Sleep(100 * time.Millisecond)
		open, err := s.ListDeliveries(ctx, record.DeliveryQuery{Status: []string{record.DeliveryPending, record.DeliveryDead}, Limit: 1000})
		if err != nil {
			fail(err)
		}
		if len(open) == 0 {
			break
		}
		if time.Now().After(deadline) {
			fail(fmt.Errorf("%d deliveries still open, e.g. %+v", len(open), open[0]))
		}
	}
	cancel()
	<-done
	all, err := s.ListDeliveries(ctx, record.DeliveryQuery{Limit: 1000})
	if err != nil {
		fail(err)
	}
	fmt.Printf("stored %d\n", len(all))
	for _, j := range all {
		sub, err := s.GetSubmission(ctx, j.Tenant, j.Ref)
		if err != nil {
			fail(err)
		}
		for _, a := range sub.Attachments {
			st, err := s.DeliveryStep(ctx, j.ID, "upload:"+a.ID)
			if err != nil {
				fail(fmt.Errorf("step of %s: %w", j.ID, err))
			}
			fmt.Printf("step %s %s %d\n", record.DeliveryID(j.ID), st.Name, st.At.UnixNano())
		}
	}
	_ = s.Close(ctx)
	srv.Stop()
	os.Exit(0)
}
