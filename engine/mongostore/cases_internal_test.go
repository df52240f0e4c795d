package mongostore

import (
	"fmt"
	"reflect"
	"strings"
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

// TestCaseQueriesUseIndexes asks MongoDB for the plan of every inbox
// query (docs/storage.md, "Cases"): none may scan the collection. It runs
// only against MongoDB (AMTSFORM_TEST_MONGODB_URI); FerretDB on SQLite
// scans whatever indexes exist, and the embedded store answers these
// queries from the case index.
func TestCaseQueriesUseIndexes(t *testing.T) {
	if testServer != nil {
		t.Skip("needs MongoDB (AMTSFORM_TEST_MONGODB_URI)")
	}
	ctx := tctx(t)
	s := open(t, dbName(), Options{}, true)
	now := time.Now().UTC()
	for i := 0; i < 50; i++ { // some data, so that the planner has a choice
		r := &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: record.ServiceRef{ID: "kita"}, Data: map[string]any{},
			Office: []string{"amt-a", "amt-b"}[i%2], Due: now.Add(time.Duration(i-25) * time.Hour)}
		if _, _, err := s.Submit(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	oldest := bson.D{{Key: "created", Value: 1}, {Key: "_id", Value: 1}}
	newest := bson.D{{Key: "created", Value: -1}, {Key: "_id", Value: -1}}
	for _, q := range []record.InboxQuery{
		{Office: "amt-a", Status: []string{"submitted", "in_review"}, Sort: "age"},
		{Office: "amt-a", Sort: "-age"},
		{Offices: []string{"amt-a", "amt-b"}, Sort: "age"},
		{Sort: "age"},
		{Status: []string{"submitted"}},
		{Office: "amt-a", Sort: "due"},
		{Sort: "due"},
		{Office: "amt-a", Overdue: true, Sort: "due"},
		{Office: "amt-a", Sort: "priority"},
		{Sort: "priority"},
		{Office: "amt-a", Assignee: "anna"},
		{Office: "amt-a", Assignee: "-"},
		{Assignee: "anna", Sort: "-age"},
		{Office: "amt-a", FollowUp: true},
		{Office: "amt-a", Service: "kita"},
		{Ref: "KITA-2026"},
	} {
		q.Tenant, q.Now = "ffm", now
		var sorts []bson.D
		filters := []bson.D{caseFilter(&q, true)}
		switch q.Sort {
		case "age":
			sorts = []bson.D{oldest}
		case "", "-age":
			sorts = []bson.D{newest}
		case "priority":
			sorts = []bson.D{append(bson.D{{Key: "priority", Value: -1}}, oldest...)}
		case "due":
			f := filters[0]
			filters = []bson.D{append(append(bson.D{}, f...), bson.E{Key: "due", Value: bson.D{{Key: "$ne", Value: nil}}}),
				append(append(bson.D{}, f...), bson.E{Key: "due", Value: nil})}
			sorts = []bson.D{append(bson.D{{Key: "due", Value: 1}}, oldest...), oldest}
		}
		for i, f := range filters {
			cmd := bson.D{{Key: "explain", Value: bson.D{{Key: "find", Value: "submissions"}, {Key: "filter", Value: f},
				{Key: "sort", Value: sorts[i]}, {Key: "limit", Value: 50}}}, {Key: "verbosity", Value: "queryPlanner"}}
			raw, err := s.db.RunCommand(ctx, cmd).Raw()
			if err != nil {
				t.Fatal(err)
			}
			plan := raw.Lookup("queryPlanner", "winningPlan").String()
			if strings.Contains(plan, "COLLSCAN") || !strings.Contains(plan, "IXSCAN") {
				t.Errorf("query %+v (part %d) is not served by an index: %s", q, i, plan)
			}
		}
		counts := bson.D{{Key: "explain", Value: bson.D{{Key: "aggregate", Value: "submissions"},
			{Key: "pipeline", Value: bson.A{bson.D{{Key: "$match", Value: caseFilter(&q, false)}},
				bson.D{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$status"}, {Key: "n", Value: bson.D{{Key: "$sum", Value: 1}}}}}}}},
			{Key: "cursor", Value: bson.D{}}}}, {Key: "verbosity", Value: "queryPlanner"}}
		raw, err := s.db.RunCommand(ctx, counts).Raw()
		if err != nil {
			t.Fatal(err)
		}
		if p := raw.String(); strings.Contains(p, "COLLSCAN") {
			t.Errorf("counts of %+v scan the collection: %s", q, p)
		}
	}
}
