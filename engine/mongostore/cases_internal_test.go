package mongostore

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/amtsform/amtsform/engine/record"
)

// TestCaseIndexCaseFieldsAfterCrash: the case fields (assignee, due,
// follow-up, priority) in the case index are exact after a crash between
// marker and write and between write and memory update, and every inbox
// filter answers from the index what the query path answers.
func TestCaseIndexCaseFieldsAfterCrash(t *testing.T) {
	ctx := tctx(t)
	db := dbName()
	s := open(t, db, Options{ExclusiveDrafts: true}, true)
	now := time.Now().UTC().Truncate(time.Millisecond)
	var refs []string
	write := func(from, to int) {
		for i := from; i < to; i++ {
			r := &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: record.ServiceRef{ID: "kita"},
				Data: map[string]any{"i": int64(i)}, Office: []string{"amt-a", "amt-b"}[i%2], At: now.Add(time.Duration(i-100) * time.Minute)}
			if i%3 == 0 {
				r.Due = now.Add(time.Duration(i-20) * time.Hour)
			}
			sub, _, err := s.Submit(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			refs = append(refs, subID(sub.Tenant, sub.Ref))
			if i%2 == 0 {
				u, p, f := fmt.Sprintf("u-%d", i%3), i%3, now.Add(time.Duration(i-10)*time.Hour)
				if _, err := s.UpdateSubmission(ctx, "ffm", sub.Ref, 1, record.SubmissionChange{Assignee: &u, Priority: &p, FollowUp: &f}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	write(0, 20)
	if err := s.snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	write(20, 40)
	// crash after the write, before the memory update
	if err := s.mark(ctx, refs[5]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.subs.UpdateOne(ctx, bson.D{{Key: "_id", Value: refs[5]}}, bson.D{{Key: "$set", Value: bson.D{
		{Key: "assignee", Value: "u-crash"}, {Key: "priority", Value: 2}, {Key: "due", Value: now.Add(-time.Hour)}}}}); err != nil {
		t.Fatal(err)
	}
	s2 := open(t, db, Options{ExclusiveDrafts: true}, false)
	want, err := s2.scanCases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s2.cases.mu.RLock()
	got := s2.cases.rows
	if !reflect.DeepEqual(got, want) {
		for id, w := range want {
			if !reflect.DeepEqual(got[id], w) {
				t.Errorf("%s: index %+v, scan %+v", id, got[id], w)
			}
		}
		s2.cases.mu.RUnlock()
		t.Fatalf("index has %d rows, scan %d", len(got), len(want))
	}
	if r := got[refs[5]]; r.Assignee != "u-crash" || r.Priority != 2 {
		t.Fatalf("row written before the crash: %+v", r)
	}
	s2.cases.mu.RUnlock()
	plain := open(t, db, Options{}, false) // the query path
	for _, q := range []record.InboxQuery{
		{Tenant: "ffm", Assignee: "u-crash"}, {Tenant: "ffm", Assignee: "-", Office: "amt-b"},
		{Tenant: "ffm", Overdue: true, Sort: "due"}, {Tenant: "ffm", FollowUp: true, Sort: "priority"},
		{Tenant: "ffm", Sort: "due", Limit: 9, Skip: 4}, {Tenant: "ffm", Offices: []string{"amt-a", "amt-b"}, Sort: "age", Limit: 6},
	} {
		q.Now = now
		a, err := s2.InboxPage(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		b, err := plain.InboxPage(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("query %+v: index gives %d rows, query %d\n%+v\n%+v", q, len(a.Cases), len(b.Cases), a, b)
		}
	}
}
