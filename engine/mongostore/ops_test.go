package mongostore

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/amtsform/amtsform/engine/record"
	"github.com/amtsform/amtsform/engine/storetest"
)

// opCounter counts the database commands a client sends, by name.
type opCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *opCounter) monitor() *event.CommandMonitor {
	return &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		c.mu.Lock()
		c.n[e.CommandName]++
		c.mu.Unlock()
	}}
}

// take returns the counts since the last call and resets them.
func (c *opCounter) take() (total int, detail string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var parts []string
	for _, name := range []string{"find", "insert", "update", "findAndModify", "delete", "getMore"} {
		if c.n[name] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n[name], name))
			total += c.n[name]
		}
	}
	for name, k := range c.n {
		if !strings.Contains("find insert update findAndModify delete getMore", name) {
			parts = append(parts, fmt.Sprintf("%d %s", k, name))
			total += k
		}
	}
	c.n = map[string]int{}
	return total, strings.Join(parts, ", ")
}

// TestOperationsPerRequest counts the database commands of each request
// path on the MongoDB code path (no in-memory index, as with several
// server instances on MongoDB). docs/deploy.md derives its capacity
// estimate from these counts; the bounds keep them from creeping up.
// None of them depends on the number of stored submissions.
func TestOperationsPerRequest(t *testing.T) {
	ctx := tctx(t)
	c := &opCounter{n: map[string]int{}}
	db := dbName()
	s, err := Connect(ctx, testURI, Options{Database: db, Logger: quiet, mongoPath: true, monitor: c.monitor()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = s.db.Drop(context.Background())
		_ = s.Close(context.Background())
	}()
	// warm the reference-number block, as a running server has
	if _, err := s.NextReference(ctx, "ffm", "kita", "KITA", time.Now().Year()); err != nil {
		t.Fatal(err)
	}
	c.take()
	var d *record.Draft
	var sub *record.Submission
	var file *record.Attachment
	steps := []struct {
		name string
		max  int
		fn   func() error
	}{
		{"start a draft (CreateDraft)", 2, func() error {
			d = &record.Draft{Tenant: "ffm", Service: record.ServiceRef{ID: "kita"}, Data: map[string]any{}, Expires: time.Now().Add(time.Hour)}
			return s.CreateDraft(ctx, d)
		}},
		{"show a page (GetDraft)", 1, func() error { _, err := s.GetDraft(ctx, "ffm", d.ID); return err }},
		{"save a page (UpdateDraft)", 1, func() error { d.Data["a"] = int64(1); return s.UpdateDraft(ctx, d) }},
		{"upload a 100 KB file (PutFile)", 5, func() error {
			var err error
			file, err = s.PutFile(ctx, "ffm", d.ID, "a.pdf", bytes.NewReader(storetest.PDF(100<<10)))
			return err
		}},
		{"submit with key and file (Submit)", 7, func() error {
			var err error
			sub, _, err = s.Submit(ctx, &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: record.ServiceRef{ID: "kita"},
				Data: d.Data, Office: "amt", IdempotencyKey: "k", AttachmentIDs: []string{file.ID}, AttachmentOwner: d.ID})
			return err
		}},
		{"submit without key or file (Submit)", 1, func() error {
			_, _, err := s.Submit(ctx, &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: record.ServiceRef{ID: "kita"}, Data: d.Data})
			return err
		}},
		{"replay a submit with file (Submit, known key)", 4, func() error {
			_, created, err := s.Submit(ctx, &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: record.ServiceRef{ID: "kita"},
				Data: d.Data, Office: "amt", IdempotencyKey: "k", AttachmentIDs: []string{file.ID}, AttachmentOwner: d.ID})
			if err == nil && created {
				err = fmt.Errorf("replay created a submission")
			}
			return err
		}},
		{"read by reference (GetSubmission)", 1, func() error { _, err := s.GetSubmission(ctx, "ffm", sub.Ref); return err }},
		{"status page (Events)", 2, func() error { _, err := s.Events(ctx, "ffm", sub.Ref); return err }},
		{"inbox page (ListSubmissions)", 1, func() error {
			_, err := s.ListSubmissions(ctx, record.InboxQuery{Tenant: "ffm", Office: "amt", Status: []string{"submitted"}})
			return err
		}},
		{"change status (UpdateSubmission)", 7, func() error {
			_, err := s.UpdateSubmission(ctx, "ffm", sub.Ref, 1, record.SubmissionChange{Status: "in_review", Actor: "sb"})
			return err
		}},
		{"replay a submit (Submit, known key)", 3, func() error {
			_, created, err := s.Submit(ctx, &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: record.ServiceRef{ID: "kita"},
				Data: map[string]any{"x": int64(1)}, IdempotencyKey: "k2"})
			if err == nil && !created {
				err = fmt.Errorf("first submit not created")
			}
			c.take()
			_, created, err = s.Submit(ctx, &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: record.ServiceRef{ID: "kita"},
				Data: map[string]any{"x": int64(1)}, IdempotencyKey: "k2"})
			if err == nil && created {
				err = fmt.Errorf("replay created a submission")
			}
			return err
		}},
		{"discard a draft with a file (DeleteDraft)", 6, func() error { return s.DeleteDraft(ctx, "ffm", d.ID) }},
	}
	for _, st := range steps {
		if err := st.fn(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		n, detail := c.take()
		t.Logf("%-46s %2d commands: %s", st.name, n, detail)
		if n > st.max {
			t.Errorf("%s: %d commands, at most %d expected", st.name, n, st.max)
		}
	}
}
