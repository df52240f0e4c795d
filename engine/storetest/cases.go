package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amtsform/amtsform/engine/record"
)

// CaseStore is what the casework package asks of a store beyond Cases:
// one inbox page with its total and counts per status.
type CaseStore interface {
	InboxPage(ctx context.Context, q record.InboxQuery) (*record.InboxPage, error)
}

// CaseWork checks the case fields of submissions (assignee, due and
// follow-up date, priority), the claim without silent override and every
// inbox filter and sort.
func CaseWork(t *testing.T, ns NewStore) {
	runCases(t, ns, []suiteCase{
		{"CaseFields", testCaseFields},
		{"ClaimRace", testClaimRace},
		{"AddAttachments", testAddAttachments},
		{"InboxFilters", testInboxFilters},
	})
}

func ptr[T any](v T) *T { return &v }

func testCaseFields(t *testing.T, ns NewStore) {
	s, another := ns(t)
	ctx := ctxT(t)
	at := time.Now().UTC().Truncate(time.Millisecond)
	r := submitReq("ffm", 1)
	r.At, r.Due = at, at.Add(30*24*time.Hour)
	sub, _, err := s.Submit(ctx, r)
	must(t, err)
	if !sub.Due.Equal(r.Due) || sub.Assignee != "" || sub.Priority != 0 || !sub.FollowUp.IsZero() {
		t.Fatalf("submitted case fields %v %q %d %v", sub.Due, sub.Assignee, sub.Priority, sub.FollowUp)
	}
	follow := at.Add(7 * 24 * time.Hour)
	up, err := s.UpdateSubmission(ctx, "ffm", sub.Ref, 1, record.SubmissionChange{
		Assignee: ptr("u-1"), ExpectAssignee: ptr(""), FollowUp: &follow, Priority: ptr(2), Type: record.EventClaimed, Actor: "u-1"})
	must(t, err)
	if up.Assignee != "u-1" || up.Priority != 2 || !up.FollowUp.Equal(follow) || !up.Due.Equal(r.Due) || up.Version != 2 {
		t.Fatalf("after claim %+v", up)
	}
	got, err := another().GetSubmission(ctx, "ffm", sub.Ref)
	must(t, err)
	if got.Assignee != "u-1" || got.Priority != 2 || !got.FollowUp.Equal(follow) || !got.Due.Equal(r.Due) {
		t.Fatalf("read back %+v", got)
	}
	// nil leaves a field, a pointer to the zero value clears it
	up, err = s.UpdateSubmission(ctx, "ffm", sub.Ref, 2, record.SubmissionChange{
		Due: &time.Time{}, Priority: ptr(0), Assignee: ptr(""), Actor: "u-1"})
	must(t, err)
	if up.Assignee != "" || up.Priority != 0 || !up.Due.IsZero() || !up.FollowUp.Equal(follow) {
		t.Fatalf("after clearing %+v", up)
	}
	// a transition with its own event type and no field change still writes its event
	up, err = s.UpdateSubmission(ctx, "ffm", sub.Ref, 3, record.SubmissionChange{Type: record.EventNote, Actor: "u-1", Data: map[string]any{"n": "x"}})
	must(t, err)
	if up.Version != 4 {
		t.Fatalf("typed change without fields: version %d", up.Version)
	}
	up, err = s.UpdateSubmission(ctx, "ffm", sub.Ref, 4, record.SubmissionChange{Status: "in_review", Type: record.EventTransition, Actor: "u-2", Data: map[string]any{"transition": "annehmen"}})
	must(t, err)
	evs, err := s.Events(ctx, "ffm", sub.Ref)
	must(t, err)
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
	}
	want := []string{"submitted", "routed", "claimed", "status_changed", "note", "transition"}
	if !reflect.DeepEqual(types, want) {
		t.Fatalf("events %v, want %v", types, want)
	}
	if e := evs[2]; e.Data["assignee"] != "u-1" || e.Data["priority"] != int64(2) || e.Actor != "u-1" {
		t.Fatalf("claim event %#v", e)
	}
	if e := evs[5]; e.Data["from"] != "submitted" || e.Data["to"] != "in_review" || e.Data["transition"] != "annehmen" {
		t.Fatalf("transition event %#v", e)
	}
	if up.Status != "in_review" {
		t.Fatalf("status %q", up.Status)
	}
	// the inbox rows carry the case fields
	l, err := s.ListSubmissions(ctx, record.InboxQuery{Tenant: "ffm"})
	must(t, err)
	if len(l) != 1 || !l[0].FollowUp.Equal(follow) || l[0].Status != "in_review" {
		t.Fatalf("inbox row %+v", l)
	}
}

// testClaimRace: claims of an unassigned case at once, by two clients:
// exactly one wins, every other gets ErrConflict; a claim of a case
// someone holds fails even with the current version.
func testClaimRace(t *testing.T, ns NewStore) {
	s, another := ns(t)
	ctx := ctxT(t)
	sub, _, err := s.Submit(ctx, submitReq("ffm", 1))
	must(t, err)
	s2 := another()
	var wins atomic.Int64
	var winner atomic.Value
	inParallel(8, s, s2, func(i int, st Store) {
		u := fmt.Sprintf("u-%d", i)
		_, err := st.UpdateSubmission(ctx, "ffm", sub.Ref, 1, record.SubmissionChange{Assignee: &u, ExpectAssignee: ptr(""), Type: record.EventClaimed, Actor: u})
		switch {
		case err == nil:
			wins.Add(1)
			winner.Store(u)
		case !errors.Is(err, record.ErrConflict):
			t.Error(err)
		}
	})
	if wins.Load() != 1 {
		t.Fatalf("%d claims won, want 1", wins.Load())
	}
	cur, err := s.GetSubmission(ctx, "ffm", sub.Ref)
	must(t, err)
	if cur.Assignee != winner.Load() {
		t.Fatalf("assignee %q, winner %v", cur.Assignee, winner.Load())
	}
	// current version, but assigned meanwhile: no silent override
	if _, err := s2.UpdateSubmission(ctx, "ffm", sub.Ref, cur.Version, record.SubmissionChange{Assignee: ptr("late"), ExpectAssignee: ptr(""), Type: record.EventClaimed}); !errors.Is(err, record.ErrConflict) {
		t.Fatalf("claim of a held case: %v", err)
	}
	// the holder's expectation passes
	if _, err := s.UpdateSubmission(ctx, "ffm", sub.Ref, cur.Version, record.SubmissionChange{Assignee: ptr("next"), ExpectAssignee: &cur.Assignee, Type: record.EventAssigned}); err != nil {
		t.Fatal(err)
	}
	// concurrent claims with versions read at different times, on a
	// case released again: one wins
	cur, err = s.GetSubmission(ctx, "ffm", sub.Ref)
	must(t, err)
	cur, err = s.UpdateSubmission(ctx, "ffm", sub.Ref, cur.Version, record.SubmissionChange{Assignee: ptr("")})
	must(t, err)
	wins.Store(0)
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := s
			if i%2 == 1 {
				st = s2
			}
			c, err := st.GetSubmission(ctx, "ffm", sub.Ref)
			if err != nil {
				t.Error(err)
				return
			}
			u := fmt.Sprintf("v-%d", i)
			_, err = st.UpdateSubmission(ctx, "ffm", sub.Ref, c.Version, record.SubmissionChange{Assignee: &u, ExpectAssignee: ptr(""), Type: record.EventClaimed})
			if err == nil {
				wins.Add(1)
			} else if !errors.Is(err, record.ErrConflict) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d claims with fresh versions won, want 1", wins.Load())
	}
}

// testInboxFilters checks every filter and sort against the same
// selection done in Go over everything stored.
func testInboxFilters(t *testing.T, ns NewStore) {
	s, _ := ns(t)
	ctx := ctxT(t)
	cs, ok := s.(CaseStore)
	if !ok {
		t.Skip("store has no InboxPage")
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	base := now.Add(-48 * time.Hour)
	offices := []string{"amt-a", "amt-b", "amt-c"}
	statuses := []string{"submitted", "in_review", "done"}
	services := []record.ServiceRef{svc, {ID: "hundesteuer", Version: "1.0.0", Hash: "sha256:def"}}
	var all []*record.Submission
	for i := 0; i < 36; i++ {
		r := submitReq("ffm", i)
		r.Service = services[i%5%2]
		if r.Service.ID == "hundesteuer" {
			r.Prefix = "HUND"
		}
		r.Office = offices[i%3]
		r.At = base.Add(time.Duration(i) * time.Hour)
		switch i % 4 {
		case 0:
			r.Due = now.Add(-time.Duration(i+1) * time.Hour) // overdue
		case 1:
			r.Due = now.Add(time.Duration(i+1) * time.Hour)
		}
		sub, _, err := s.Submit(ctx, r)
		must(t, err)
		ch := record.SubmissionChange{}
		if st := statuses[(i/3)%3]; st != "submitted" {
			ch.Status = st
		}
		if i%5 < 2 {
			ch.Assignee = ptr([]string{"u-1", "u-2"}[i%5])
		}
		if i%6 == 0 {
			ch.FollowUp = ptr(now.Add(-time.Hour)) // reached
		} else if i%6 == 1 {
			ch.FollowUp = ptr(now.Add(24 * time.Hour)) // not yet
		}
		if i%7 < 3 {
			ch.Priority = ptr(i % 7)
		}
		if ch.Status != "" || ch.Assignee != nil || ch.FollowUp != nil || ch.Priority != nil {
			sub, err = s.UpdateSubmission(ctx, "ffm", sub.Ref, 1, ch)
			must(t, err)
		}
		all = append(all, sub)
	}
	// another tenant, same office names: never listed
	other := submitReq("of", 1)
	other.Office = "amt-a"
	_, _, err := s.Submit(ctx, other)
	must(t, err)

	queries := []record.InboxQuery{
		{},
		{Office: "amt-a"},
		{Offices: []string{"amt-a", "amt-c"}},
		{Offices: []string{"amt-b"}, Sort: "age"},
		{Status: []string{"in_review"}},
		{Office: "amt-b", Status: []string{"submitted", "done"}},
		{Service: "hundesteuer"},
		{Office: "amt-a", Service: "kita-gebuehren", Sort: "age"},
		{From: base.Add(5 * time.Hour), To: base.Add(20 * time.Hour)},
		{From: base.Add(30 * time.Hour)},
		{Overdue: true},
		{Overdue: true, Office: "amt-a", Sort: "due"},
		{Assignee: "u-1"},
		{Assignee: "-", Office: "amt-c"},
		{Ref: "hund"},
		{Ref: all[7].Ref},
		{FollowUp: true},
		{Sort: "due"},
		{Sort: "due", Office: "amt-b"},
		{Sort: "priority"},
		{Sort: "priority", Offices: []string{"amt-a", "amt-b"}, Status: []string{"submitted"}},
		{Sort: "age", Assignee: "-", Status: []string{"submitted", "in_review"}},
	}
	for _, q := range queries {
		q.Tenant, q.Now = "ffm", now
		want, counts := selectCases(all, q)
		name := fmt.Sprintf("%+v", q)
		for _, limit := range []int{7, 50} {
			var got []string
			for skip := 0; ; skip += limit {
				q.Skip, q.Limit = skip, limit
				p, err := cs.InboxPage(ctx, q)
				must(t, err)
				if p.Total != len(want) {
					t.Fatalf("%s: total %d, want %d", name, p.Total, len(want))
				}
				if !reflect.DeepEqual(p.Counts, counts) {
					t.Fatalf("%s: counts %v, want %v", name, p.Counts, counts)
				}
				for _, c := range p.Cases {
					if c.Data != nil || c.Computed != nil {
						t.Fatalf("%s: inbox rows carry data", name)
					}
					got = append(got, c.Ref)
				}
				l, err := s.ListSubmissions(ctx, q)
				must(t, err)
				if len(l) != len(p.Cases) {
					t.Fatalf("%s: ListSubmissions has %d rows, InboxPage %d", name, len(l), len(p.Cases))
				}
				for i := range l {
					if l[i].Ref != p.Cases[i].Ref {
						t.Fatalf("%s: ListSubmissions row %d %s, InboxPage %s", name, i, l[i].Ref, p.Cases[i].Ref)
					}
				}
				if len(p.Cases) < limit {
					break
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s limit %d:\n got %v\nwant %v", name, limit, got, want)
			}
		}
	}
	if _, err := cs.InboxPage(ctx, record.InboxQuery{Tenant: "ffm", Sort: "size"}); err == nil {
		t.Fatal("unknown sort accepted")
	}
}

// selectCases is the inbox query q done in Go: the references in order
// and the counts per status of the filter without Status.
func selectCases(all []*record.Submission, q record.InboxQuery) ([]string, map[string]int) {
	in := func(s string, l []string) bool {
		for _, x := range l {
			if x == s {
				return true
			}
		}
		return false
	}
	counts := map[string]int{}
	var hits []*record.Submission
	for _, c := range all {
		switch {
		case c.Tenant != q.Tenant,
			q.Office != "" && c.Office != q.Office,
			q.Office == "" && len(q.Offices) > 0 && !in(c.Office, q.Offices),
			q.Service != "" && c.Service.ID != q.Service,
			!q.From.IsZero() && c.Created.Before(q.From),
			!q.To.IsZero() && !c.Created.Before(q.To),
			q.Overdue && (c.Due.IsZero() || !c.Due.Before(q.Now)),
			q.FollowUp && (c.FollowUp.IsZero() || c.FollowUp.After(q.Now)),
			q.Assignee == "-" && c.Assignee != "",
			q.Assignee != "" && q.Assignee != "-" && c.Assignee != q.Assignee,
			q.Ref != "" && !strings.HasPrefix(c.Ref, strings.ToUpper(q.Ref)):
			continue
		}
		counts[c.Status]++
		if len(q.Status) == 0 || in(c.Status, q.Status) {
			hits = append(hits, c)
		}
	}
	// creation times are distinct in the data set
	older := func(a, b *record.Submission) bool { return a.Created.Before(b.Created) }
	sort.SliceStable(hits, func(i, j int) bool {
		a, b := hits[i], hits[j]
		switch q.Sort {
		case "age":
			return older(a, b)
		case "due":
			if a.Due.IsZero() != b.Due.IsZero() {
				return !a.Due.IsZero()
			}
			if !a.Due.Equal(b.Due) {
				return a.Due.Before(b.Due)
			}
			return older(a, b)
		case "priority":
			if a.Priority != b.Priority {
				return a.Priority > b.Priority
			}
			return older(a, b)
		}
		return older(b, a)
	})
	refs := []string{}
	for _, h := range hits {
		refs = append(refs, h.Ref)
	}
	if len(refs) == 0 {
		refs = nil
	}
	return refs, counts
}

// testAddAttachments: files sent later join the attachments of a case,
// once, only from their owner, and go with the case when it is deleted.
func testAddAttachments(t *testing.T, ns NewStore) {
	s, another := ns(t)
	ctx := ctxT(t)
	sub, _, err := s.Submit(ctx, submitReq("ffm", 1))
	must(t, err)
	other, _, err := s.Submit(ctx, submitReq("ffm", 2))
	must(t, err)
	a, err := s.PutFile(ctx, "ffm", "docreq:r1", "bescheid.pdf", bytes.NewReader(PDF(3000)))
	must(t, err)
	if _, err := s.UpdateSubmission(ctx, "ffm", sub.Ref, 1, record.SubmissionChange{AddAttachments: []string{a.ID}, AttachmentOwner: "docreq:r2"}); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("file of another owner: %v", err)
	}
	up, err := s.UpdateSubmission(ctx, "ffm", sub.Ref, 1, record.SubmissionChange{AddAttachments: []string{a.ID, a.ID}, AttachmentOwner: "docreq:r1",
		Type: record.EventDocumentsReceived, Data: map[string]any{"request": "r1"}})
	must(t, err)
	if len(up.Attachments) != 1 || up.Attachments[0].ID != a.ID || up.Attachments[0].Size != 3000 || up.Attachments[0].ContentType != "application/pdf" {
		t.Fatalf("attachments %+v", up.Attachments)
	}
	got, err := another().GetSubmission(ctx, "ffm", sub.Ref)
	must(t, err)
	if len(got.Attachments) != 1 {
		t.Fatalf("read back %+v", got.Attachments)
	}
	// again (a retry): listed once
	up, err = s.UpdateSubmission(ctx, "ffm", sub.Ref, up.Version, record.SubmissionChange{AddAttachments: []string{a.ID}, AttachmentOwner: "docreq:r1", Type: record.EventNote})
	must(t, err)
	if len(up.Attachments) != 1 {
		t.Fatalf("after a retry %+v", up.Attachments)
	}
	if _, err := s.UpdateSubmission(ctx, "ffm", other.Ref, 1, record.SubmissionChange{AddAttachments: []string{a.ID}, AttachmentOwner: "docreq:r1"}); !errors.Is(err, record.ErrConflict) {
		t.Fatalf("file of another case: %v", err)
	}
	b, err := s.PutFile(ctx, "ffm", "docreq:r1", "zwei.pdf", bytes.NewReader(PDF(1000)))
	must(t, err)
	up, err = s.UpdateSubmission(ctx, "ffm", sub.Ref, up.Version, record.SubmissionChange{AddAttachments: []string{b.ID}, AttachmentOwner: "docreq:r1"})
	must(t, err)
	if len(up.Attachments) != 2 || up.Attachments[1].ID != b.ID {
		t.Fatalf("second file %+v", up.Attachments)
	}
	l, err := s.ListSubmissions(ctx, record.InboxQuery{Tenant: "ffm", Ref: sub.Ref})
	must(t, err)
	if len(l) != 1 || len(l[0].Attachments) != 2 {
		t.Fatalf("inbox row %+v", l)
	}
	must(t, s.DeleteSubmission(ctx, "ffm", sub.Ref, "test", time.Time{}, time.Time{}))
	for _, id := range []string{a.ID, b.ID} {
		if _, _, err := s.OpenFile(ctx, "ffm", id); !errors.Is(err, record.ErrNotFound) {
			t.Fatalf("file %s after deletion: %v", id, err)
		}
	}
}
