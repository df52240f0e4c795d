// Package storetest is the contract test suite for Store
// implementations. Run it from an implementation's tests:
//
//	func TestContract(t *testing.T) { storetest.Run(t, newStore) }
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amtsform/amtsform/engine/audit"
	"github.com/amtsform/amtsform/engine/catalog"
	"github.com/amtsform/amtsform/engine/delivery"
	"github.com/amtsform/amtsform/engine/intake"
	"github.com/amtsform/amtsform/engine/record"
	"github.com/amtsform/amtsform/engine/staff"
	"github.com/amtsform/amtsform/engine/sweep"
)

// Cases is what the back office will ask of a store: state changes with
// their events and inbox listings. The casework package will own it.
type Cases interface {
	// UpdateSubmission applies ch if the stored version equals
	// expectVersion (else record.ErrConflict) and records the event in the
	// same write. It returns the updated submission.
	UpdateSubmission(ctx context.Context, tenant, ref string, expectVersion int64, ch record.SubmissionChange) (*record.Submission, error)
	// ListSubmissions returns an inbox page without Data and Computed.
	ListSubmissions(ctx context.Context, q record.InboxQuery) ([]*record.Submission, error)
	// AppendEvent adds an event that changes no submission field. It sets
	// ev.ID and ev.At when empty.
	AppendEvent(ctx context.Context, ev *record.Event) error
	CaseStore // cases.go
}

// Portable moves a store's content losslessly (amtsform export/import).
type Portable interface {
	// Export writes submissions, their events and files, tombstones and
	// reference counters as NDJSON.
	Export(ctx context.Context, f record.ExportFilter, w io.Writer) error
	// Import reads Export's output; records already present are skipped.
	Import(ctx context.Context, r io.Reader) (record.ImportStats, error)
}

// Store is every interface the suites check, as one implementation
// offers them.
type Store interface {
	intake.Store
	sweep.Store
	catalog.Versions
	Cases
	Portable
	audit.Store
	staff.Store
	delivery.Store // the outbox (delivery.go)
	// NextReference allocates a reference number PREFIX-YEAR-NNNNNN.
	NextReference(ctx context.Context, tenant, serviceID, prefix string, year int) (string, error)
	DeleteFile(ctx context.Context, tenant, id string) error
	Close(ctx context.Context) error
}

// NewStore returns a fresh, empty store for one test, and a function that
// opens another, independent client on the same data (for tests across
// store clients). Both are closed by the harness's t.Cleanup.
type NewStore func(t *testing.T) (s Store, another func() Store)

type suiteCase struct {
	name string
	fn   func(*testing.T, NewStore)
}

func runCases(t *testing.T, ns NewStore, cases []suiteCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, ns) })
	}
}

// Drafts checks intake.Drafts.
func Drafts(t *testing.T, ns NewStore) {
	runCases(t, ns, []suiteCase{
		{"Drafts", testDrafts},
		{"DraftConcurrentUpdate", testDraftConcurrentUpdate},
	})
}

// Submissions checks intake.Submissions and reference numbers.
func Submissions(t *testing.T, ns NewStore) {
	runCases(t, ns, []suiteCase{
		{"SubmitAndGet", testSubmitAndGet},
		{"Idempotency", testIdempotency},
		{"IdempotencyManyKeys", testIdempotencyManyKeys},
		{"IdempotencyConcurrent", testIdempotencyConcurrent},
		{"ReplayTakesNoReference", testReplayTakesNoReference},
		{"SubmissionByKey", testSubmissionByKey},
		{"DoubleSubmitWithAttachment", testDoubleSubmitWithAttachment},
		{"ReferencesAcrossClients", testReferencesAcrossClients},
	})
}

// CaseMethods checks Cases.
func CaseMethods(t *testing.T, ns NewStore) {
	runCases(t, ns, []suiteCase{
		{"StatusAndEvents", testStatusAndEvents},
		{"Inbox", testInbox},
		{"InboxPages", testInboxPages},
	})
}

// Files checks intake.Files.
func Files(t *testing.T, ns NewStore) {
	runCases(t, ns, []suiteCase{{"Files", testFiles}})
}

// Sweep checks sweep.Store through the sweeper.
func Sweep(t *testing.T, ns NewStore) {
	runCases(t, ns, []suiteCase{
		{"Sweeper", testSweeper},
		{"SweeperExtendedDraft", testSweeperExtendedDraft},
		{"SweeperLease", testSweeperLease},
		{"SweeperChangedMeanwhile", testSweeperChangedMeanwhile},
	})
}

// Versions checks catalog.Versions.
func Versions(t *testing.T, ns NewStore) {
	runCases(t, ns, []suiteCase{{"Versions", testVersions}})
}

// Portability checks Portable.
func Portability(t *testing.T, ns NewStore) {
	runCases(t, ns, []suiteCase{{"ExportImport", testExportImport}})
}

// Run runs every suite.
func Run(t *testing.T, ns NewStore) {
	for _, s := range []struct {
		name string
		fn   func(*testing.T, NewStore)
	}{
		{"Drafts", Drafts}, {"Submissions", Submissions}, {"Cases", CaseMethods}, {"Files", Files},
		{"Sweep", Sweep}, {"Versions", Versions}, {"Portability", Portability},
		{"CaseWork", CaseWork},
		{"Audit", Audit},
		{"Staff", Staff},
		{"Deliveries", Deliveries},
	} {
		t.Run(s.name, func(t *testing.T) { s.fn(t, ns) })
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

var svc = record.ServiceRef{ID: "kita-gebuehren", Version: "1.0.0", Hash: "sha256:abc"}

func sampleData(i int) map[string]any {
	return map[string]any{
		"applicant": map[string]any{"name": fmt.Sprintf("Erika Mustermann %d", i), "birthDate": "1980-01-01"},
		"children": []any{
			map[string]any{"name": "Max", "monthlyFee": int64(23050)},
			map[string]any{"name": "Mia", "monthlyFee": int64(0)},
		},
		"income":  int64(2500000 + i),
		"ratio":   0.25,
		"consent": true,
		"iban":    nil,
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testDrafts(t *testing.T, ns NewStore) {
	s, _ := ns(t)
	ctx := ctxT(t)
	d := &record.Draft{Tenant: "ffm", Service: svc, Page: "person", Data: sampleData(1), Expires: time.Now().Add(time.Hour)}
	must(t, s.CreateDraft(ctx, d))
	if len(d.ID) < 22 || d.Version != 1 || strings.ContainsAny(d.ID, "+/=") {
		t.Fatalf("draft id %q version %d: want >=128 bit URL-safe token, version 1", d.ID, d.Version)
	}
	got, err := s.GetDraft(ctx, "ffm", d.ID)
	must(t, err)
	if !reflect.DeepEqual(got.Data, d.Data) || got.Page != "person" || got.Service != svc {
		t.Fatalf("read back %#v, want %#v", got, d)
	}
	if _, err := s.GetDraft(ctx, "other", d.ID); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("other tenant: %v, want ErrNotFound", err)
	}
	if _, err := s.GetDraft(ctx, "ffm", record.NewToken()); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("unknown: %v, want ErrNotFound", err)
	}
	got.Page, got.Data["income"] = "income", int64(1)
	must(t, s.UpdateDraft(ctx, got))
	if got.Version != 2 {
		t.Fatalf("version after update %d", got.Version)
	}
	stale := *d // version 1
	if err := s.UpdateDraft(ctx, &stale); !errors.Is(err, record.ErrConflict) {
		t.Fatalf("stale update: %v, want ErrConflict", err)
	}
	again, err := s.GetDraft(ctx, "ffm", d.ID)
	must(t, err)
	if again.Page != "income" || again.Data["income"] != int64(1) || again.Version != 2 {
		t.Fatalf("after update: %#v", again)
	}
	exp := &record.Draft{Tenant: "ffm", Service: svc, Data: map[string]any{}, Expires: time.Now().Add(-time.Second)}
	must(t, s.CreateDraft(ctx, exp))
	if _, err := s.GetDraft(ctx, "ffm", exp.ID); !errors.Is(err, record.ErrExpired) {
		t.Fatalf("expired: %v, want ErrExpired", err)
	}
	if err := s.UpdateDraft(ctx, exp); !errors.Is(err, record.ErrExpired) {
		t.Fatalf("update expired: %v, want ErrExpired", err)
	}
	must(t, s.DeleteDraft(ctx, "ffm", d.ID))
	if _, err := s.GetDraft(ctx, "ffm", d.ID); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("deleted: %v", err)
	}
}

func testDraftConcurrentUpdate(t *testing.T, ns NewStore) {
	s, another := ns(t)
	s2 := another()
	ctx := ctxT(t)
	d := &record.Draft{Tenant: "ffm", Service: svc, Data: map[string]any{"n": int64(0)}, Expires: time.Now().Add(time.Hour)}
	must(t, s.CreateDraft(ctx, d))
	for round := 0; round < 5; round++ {
		base, err := s.GetDraft(ctx, "ffm", d.ID)
		must(t, err)
		const writers = 8
		var wins, conflicts atomic.Int64
		inParallel(writers, s, s2, func(i int, st Store) {
			c := *base
			c.Data = map[string]any{"n": int64(i)}
			err := st.UpdateDraft(ctx, &c)
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, record.ErrConflict):
				conflicts.Add(1)
			default:
				t.Error(err)
			}
		})
		if wins.Load() != 1 || conflicts.Load() != writers-1 {
			t.Fatalf("round %d: %d wins, %d conflicts; want exactly one winner", round, wins.Load(), conflicts.Load())
		}
		after, err := s.GetDraft(ctx, "ffm", d.ID)
		must(t, err)
		if after.Version != base.Version+1 {
			t.Fatalf("version %d after one win from %d", after.Version, base.Version)
		}
	}
}

func submitReq(tenant string, i int) *record.SubmitRequest {
	return &record.SubmitRequest{
		Tenant: tenant, Prefix: "KITA", Service: svc, Data: sampleData(i),
		Computed: map[string]any{"coveredFee": int64(23050)}, Office: "jugendamt-frankfurt",
	}
}

func testSubmitAndGet(t *testing.T, ns NewStore) {
	s, _ := ns(t)
	ctx := ctxT(t)
	req := submitReq("ffm", 1)
	sub, created, err := s.Submit(ctx, req)
	must(t, err)
	if !created || sub.Version != 1 || sub.Status != "submitted" || sub.Office != "jugendamt-frankfurt" {
		t.Fatalf("submit: %#v created=%v", sub, created)
	}
	year := time.Now().UTC().Year()
	if !strings.HasPrefix(sub.Ref, fmt.Sprintf("KITA-%d-", year)) || len(sub.Ref) != len("KITA-2026-000001") {
		t.Fatalf("reference %q", sub.Ref)
	}
	got, err := s.GetSubmission(ctx, "ffm", sub.Ref)
	must(t, err)
	if !reflect.DeepEqual(got, sub) {
		t.Fatalf("read back\n%#v\nwant\n%#v", got, sub)
	}
	if !reflect.DeepEqual(got.Data, req.Data) || !reflect.DeepEqual(got.Computed, req.Computed) {
		t.Fatalf("data changed:\n%#v\n%#v", got.Data, req.Data)
	}
	if _, err := s.GetSubmission(ctx, "other", sub.Ref); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("other tenant: %v", err)
	}
	evs, err := s.Events(ctx, "ffm", sub.Ref)
	must(t, err)
	if len(evs) != 2 || evs[0].Type != record.EventSubmitted || evs[1].Type != record.EventRouted || evs[1].Data["office"] != "jugendamt-frankfurt" {
		t.Fatalf("first events: %#v", evs)
	}
	// The installation's year, when given, names the reference.
	ry := submitReq("ffm", 3)
	ry.Year = 2031
	sy, _, err := s.Submit(ctx, ry)
	must(t, err)
	if !strings.HasPrefix(sy.Ref, "KITA-2031-") {
		t.Fatalf("reference %q, want the year 2031 of the request", sy.Ref)
	}
	// Second tenant with the same prefix gets its own numbering.
	sub2, _, err := s.Submit(ctx, submitReq("of", 1))
	must(t, err)
	if _, err := s.GetSubmission(ctx, "of", sub2.Ref); err != nil {
		t.Fatal(err)
	}
}

func testIdempotency(t *testing.T, ns NewStore) {
	s, _ := ns(t)
	ctx := ctxT(t)
	req := submitReq("ffm", 1)
	req.IdempotencyKey = "client-key-1"
	first, created, err := s.Submit(ctx, req)
	must(t, err)
	if !created {
		t.Fatal("first submit not created")
	}
	again, created, err := s.Submit(ctx, submitReq2(req))
	must(t, err)
	if created || again.Ref != first.Ref {
		t.Fatalf("replay: ref %s created %v, want %s false", again.Ref, created, first.Ref)
	}
	diff := submitReq2(req)
	diff.Data["income"] = int64(1)
	if _, _, err := s.Submit(ctx, diff); !errors.Is(err, record.ErrIdempotencyMismatch) {
		t.Fatalf("different payload: %v, want ErrIdempotencyMismatch", err)
	}
	// Same key, other tenant: independent.
	other := submitReq2(req)
	other.Tenant = "of"
	o, created, err := s.Submit(ctx, other)
	must(t, err)
	if !created || o.Tenant != "of" {
		t.Fatalf("other tenant: %#v %v", o, created)
	}
}

// testIdempotencyManyKeys replays the oldest, a middle and the newest of
// many keys: each finds its own submission.
func testIdempotencyManyKeys(t *testing.T, ns NewStore) {
	s, _ := ns(t)
	ctx := ctxT(t)
	const n = 30
	refs := make([]string, n)
	for i := 0; i < n; i++ {
		r := submitReq("ffm", i)
		r.IdempotencyKey = fmt.Sprintf("key-%d", i)
		sub, created, err := s.Submit(ctx, r)
		must(t, err)
		if !created {
			t.Fatalf("submit %d not created", i)
		}
		refs[i] = sub.Ref
	}
	for _, i := range []int{0, n / 2, n - 1, 7} {
		r := submitReq("ffm", i)
		r.IdempotencyKey = fmt.Sprintf("key-%d", i)
		sub, created, err := s.Submit(ctx, r)
		must(t, err)
		if created || sub.Ref != refs[i] {
			t.Fatalf("replay of key %d: ref %s created %v, want %s", i, sub.Ref, created, refs[i])
		}
		r.Data["income"] = int64(-1)
		if _, _, err := s.Submit(ctx, r); !errors.Is(err, record.ErrIdempotencyMismatch) {
			t.Fatalf("key %d with another payload: %v", i, err)
		}
	}
}

func submitReq2(r *record.SubmitRequest) *record.SubmitRequest {
	c := *r
	c.Data = sampleData(1)
	return &c
}

func testIdempotencyConcurrent(t *testing.T, ns NewStore) {
	s, another := ns(t)
	s2 := another()
	ctx := ctxT(t)
	const n = 200
	refs := make([]string, n)
	var createdN atomic.Int64
	inParallel(n, s, s2, func(i int, st Store) {
		req := submitReq("ffm", 7)
		req.IdempotencyKey = "double-click"
		sub, created, err := st.Submit(ctx, req)
		if err != nil {
			t.Error(err)
			return
		}
		if created {
			createdN.Add(1)
		}
		refs[i] = sub.Ref
	})
	if createdN.Load() != 1 {
		t.Fatalf("%d submits created a submission, want 1", createdN.Load())
	}
	for _, r := range refs {
		if r != refs[0] {
			t.Fatalf("different references returned: %s vs %s", r, refs[0])
		}
	}
	list, err := s.ListSubmissions(ctx, record.InboxQuery{Tenant: "ffm", Limit: 500})
	must(t, err)
	if len(list) != 1 {
		t.Fatalf("%d submissions stored, want 1", len(list))
	}
}

// testReplayTakesNoReference: replays of a key hand out no reference
// number, so the next new submission follows the first without a gap.
func testReplayTakesNoReference(t *testing.T, ns NewStore) {
	s, _ := ns(t)
	ctx := ctxT(t)
	req := submitReq("ffm", 1)
	req.Year = 2030
	req.IdempotencyKey = "replayed-key"
	first, _, err := s.Submit(ctx, req)
	must(t, err)
	for i := 0; i < refBlockOrMore; i++ {
		again, created, err := s.Submit(ctx, submitReq2(req))
		must(t, err)
		if created || again.Ref != first.Ref {
			t.Fatalf("replay %d: %s created=%v", i, again.Ref, created)
		}
		if _, _, err := s.Submit(ctx, &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: svc, Year: 2030,
			Data: map[string]any{"other": int64(i)}, IdempotencyKey: "replayed-key"}); !errors.Is(err, record.ErrIdempotencyMismatch) {
			t.Fatalf("mismatch %d: %v", i, err)
		}
	}
	next := submitReq("ffm", 2)
	next.Year = 2030
	sub, _, err := s.Submit(ctx, next)
	must(t, err)
	var n1, n2 int
	fmt.Sscanf(first.Ref, "KITA-2030-%d", &n1)
	fmt.Sscanf(sub.Ref, "KITA-2030-%d", &n2)
	if n2 != n1+1 {
		t.Fatalf("after %d replays the next reference is %s, want the one after %s", 2*refBlockOrMore, sub.Ref, first.Ref)
	}
}

// refBlockOrMore replays more often than a store reserves numbers at a
// time, so that a reference taken per replay shows as a gap.
const refBlockOrMore = 60

// testSubmissionByKey: the submission a key points to, whatever the
// payload; unknown keys and other tenants' keys are not found.
func testSubmissionByKey(t *testing.T, ns NewStore) {
	s, _ := ns(t)
	ctx := ctxT(t)
	req := submitReq("ffm", 1)
	req.IdempotencyKey = "draft:some-token"
	first, _, err := s.Submit(ctx, req)
	must(t, err)
	got, err := s.SubmissionByKey(ctx, "ffm", "draft:some-token")
	must(t, err)
	if got.Ref != first.Ref || !reflect.DeepEqual(got.Data, first.Data) {
		t.Fatalf("by key: %+v, want %+v", got, first)
	}
	for _, c := range []struct{ tenant, key string }{{"ffm", "draft:other"}, {"of", "draft:some-token"}, {"ffm", ""}} {
		if _, err := s.SubmissionByKey(ctx, c.tenant, c.key); !errors.Is(err, record.ErrNotFound) {
			t.Fatalf("%s/%q: %v, want ErrNotFound", c.tenant, c.key, err)
		}
	}
}

// testDoubleSubmitWithAttachment: a double press submits one draft with
// an attachment twice at once (through both clients). Both get the one
// submission, which holds the file, and the file survives the deletion
// of the draft (issue 8 item 1: the loser's link made it look orphaned).
func testDoubleSubmitWithAttachment(t *testing.T, ns NewStore) {
	s, another := ns(t)
	s2 := another()
	ctx := ctxT(t)
	for round := 0; round < 10; round++ {
		owner := record.NewToken()
		d := &record.Draft{ID: owner, Tenant: "ffm", Service: svc, Data: map[string]any{}, Expires: time.Now().Add(time.Hour)}
		must(t, s.CreateDraft(ctx, d))
		a, err := s.PutFile(ctx, "ffm", owner, "nachweis.pdf", bytes.NewReader(PDF(2000)))
		must(t, err)
		var subs [2]*record.Submission
		var created atomic.Int64
		inParallel(2, s, s2, func(i int, st Store) {
			req := submitReq("ffm", round)
			req.IdempotencyKey = "draft:" + owner
			req.AttachmentOwner = owner
			req.AttachmentIDs = []string{a.ID}
			sub, c, err := st.Submit(ctx, req)
			if err != nil {
				t.Errorf("round %d, submit %d: %v", round, i, err)
				return
			}
			if c {
				created.Add(1)
			}
			subs[i] = sub
		})
		if t.Failed() {
			return
		}
		if created.Load() != 1 || subs[0].Ref != subs[1].Ref {
			t.Fatalf("round %d: created %d, references %s and %s", round, created.Load(), subs[0].Ref, subs[1].Ref)
		}
		must(t, s.DeleteDraft(ctx, "ffm", owner))
		rc, info, err := s.OpenFile(ctx, "ffm", a.ID)
		if err != nil {
			t.Fatalf("round %d: the attached file after the draft's deletion: %v", round, err)
		}
		rc.Close()
		stored, err := s.GetSubmission(ctx, "ffm", subs[0].Ref)
		must(t, err)
		if len(stored.Attachments) != 1 || stored.Attachments[0] != *info {
			t.Fatalf("round %d: attachments %+v, file %+v", round, stored.Attachments, info)
		}
		// It belongs to that submission: no other can take it, and it
		// cannot be deleted on its own.
		other := submitReq("ffm", 100+round)
		other.AttachmentIDs = []string{a.ID}
		if _, _, err := s.Submit(ctx, other); !errors.Is(err, record.ErrConflict) {
			t.Fatalf("round %d: the file attached again: %v", round, err)
		}
		if err := s.DeleteFile(ctx, "ffm", a.ID); !errors.Is(err, record.ErrConflict) {
			t.Fatalf("round %d: deleting the attached file: %v", round, err)
		}
	}
}

func testReferencesAcrossClients(t *testing.T, ns NewStore) {
	s, another := ns(t)
	s2 := another()
	ctx := ctxT(t)
	const n = 50
	refs := make([]string, n)
	inParallel(n, s, s2, func(i int, st Store) {
		r, err := st.NextReference(ctx, "ffm", svc.ID, "KITA", 2026)
		if err != nil {
			t.Error(err)
		}
		refs[i] = r
	})
	seen := map[string]bool{}
	for _, r := range refs {
		if seen[r] {
			t.Fatalf("duplicate reference %s", r)
		}
		seen[r] = true
	}
	if len(seen) != n {
		t.Fatalf("%d distinct references, want %d", len(seen), n)
	}
	if _, err := s.NextReference(ctx, "ffm", svc.ID, "kita lower", 2026); err == nil {
		t.Fatal("invalid prefix accepted")
	}
}

func testStatusAndEvents(t *testing.T, ns NewStore) {
	s, another := ns(t)
	ctx := ctxT(t)
	sub, _, err := s.Submit(ctx, submitReq("ffm", 1))
	must(t, err)
	up, err := s.UpdateSubmission(ctx, "ffm", sub.Ref, 1, record.SubmissionChange{Status: "in_review", Actor: "sb-17"})
	must(t, err)
	if up.Status != "in_review" || up.Version != 2 || !reflect.DeepEqual(up.Data, sub.Data) {
		t.Fatalf("after update %#v", up)
	}
	if _, err := s.UpdateSubmission(ctx, "ffm", sub.Ref, 1, record.SubmissionChange{Status: "rejected"}); !errors.Is(err, record.ErrConflict) {
		t.Fatalf("stale status change: %v", err)
	}
	// concurrent: exactly one wins
	s2 := another()
	var wins atomic.Int64
	inParallel(10, s, s2, func(i int, st Store) {
		_, err := st.UpdateSubmission(ctx, "ffm", sub.Ref, 2, record.SubmissionChange{Status: fmt.Sprintf("s%d", i), Office: "amt-2", Actor: "sb"})
		if err == nil {
			wins.Add(1)
		} else if !errors.Is(err, record.ErrConflict) {
			t.Error(err)
		}
	})
	if wins.Load() != 1 {
		t.Fatalf("%d concurrent status changes won, want 1", wins.Load())
	}
	ev := &record.Event{Tenant: "ffm", Submission: sub.Ref, Type: record.EventDelivered, Actor: "system", Data: map[string]any{"to": "webhook"}}
	must(t, s.AppendEvent(ctx, ev))
	if err := s.AppendEvent(ctx, &record.Event{Tenant: "ffm", Submission: "KITA-1999-000001", Type: "x"}); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("event for unknown submission: %v", err)
	}
	evs, err := s.Events(ctx, "ffm", sub.Ref)
	must(t, err)
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
	}
	want := []string{"submitted", "routed", "status_changed", "status_changed", "reassigned", "delivered"}
	if !reflect.DeepEqual(types, want) {
		t.Fatalf("events %v, want %v", types, want)
	}
	if evs[2].Data["from"] != "submitted" || evs[2].Data["to"] != "in_review" || evs[2].Actor != "sb-17" {
		t.Fatalf("status event %#v", evs[2])
	}
	final, err := s.GetSubmission(ctx, "ffm", sub.Ref)
	must(t, err)
	if final.Version != 3 || final.Office != "amt-2" {
		t.Fatalf("final %#v", final)
	}
}

func testInbox(t *testing.T, ns NewStore) {
	s, _ := ns(t)
	ctx := ctxT(t)
	base := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	var want []string
	for i := 0; i < 12; i++ {
		r := submitReq("ffm", i)
		r.At = base.Add(time.Duration(i) * time.Minute)
		if i%3 == 0 {
			r.Office = "amt-b"
		}
		sub, _, err := s.Submit(ctx, r)
		must(t, err)
		if i%3 != 0 && i%2 == 0 {
			_, err = s.UpdateSubmission(ctx, "ffm", sub.Ref, 1, record.SubmissionChange{Status: "in_review"})
			must(t, err)
			want = append(want, sub.Ref)
		}
	}
	_, _, err := s.Submit(ctx, submitReq("of", 1))
	must(t, err)
	got, err := s.ListSubmissions(ctx, record.InboxQuery{Tenant: "ffm", Office: "jugendamt-frankfurt", Status: []string{"in_review"}})
	must(t, err)
	var refs []string
	for _, g := range got {
		refs = append(refs, g.Ref)
		if g.Data != nil {
			t.Fatal("inbox rows carry data")
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(want)))
	if !reflect.DeepEqual(refs, want) {
		t.Fatalf("inbox %v, want %v (newest first)", refs, want)
	}
	page, err := s.ListSubmissions(ctx, record.InboxQuery{Tenant: "ffm", Limit: 5, Skip: 5})
	must(t, err)
	if len(page) != 5 {
		t.Fatalf("page size %d", len(page))
	}
}

// testInboxPages walks every filter combination page by page: the pages
// together are exactly the matching submissions, newest first.
func testInboxPages(t *testing.T, ns NewStore) {
	s, _ := ns(t)
	ctx := ctxT(t)
	base := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	offices := []string{"amt-a", "amt-b"}
	statuses := []string{"submitted", "in_review", "done"}
	type row struct {
		ref, office, status string
		at                  time.Time
	}
	var all []row
	for i := 0; i < 24; i++ {
		r := submitReq("ffm", i)
		r.Office = offices[i%2]
		r.At = base.Add(time.Duration(i/2) * time.Minute) // pairs share a creation time
		sub, _, err := s.Submit(ctx, r)
		must(t, err)
		st := statuses[(i/2)%3]
		if st != "submitted" {
			_, err = s.UpdateSubmission(ctx, "ffm", sub.Ref, 1, record.SubmissionChange{Status: st})
			must(t, err)
		}
		all = append(all, row{sub.Ref, r.Office, st, r.At})
	}
	_, _, err := s.Submit(ctx, submitReq("of", 1))
	must(t, err)
	for _, office := range []string{"", "amt-a"} {
		for _, sts := range [][]string{nil, {"in_review"}, {"done", "submitted"}} {
			var want []string
			for i := len(all) - 1; i >= 0; i-- {
				r := all[i]
				ok := office == "" || r.office == office
				if len(sts) > 0 {
					in := false
					for _, st := range sts {
						in = in || st == r.status
					}
					ok = ok && in
				}
				if ok {
					want = append(want, r.ref)
				}
			}
			var got []string
			for skip := 0; ; skip += 5 {
				page, err := s.ListSubmissions(ctx, record.InboxQuery{Tenant: "ffm", Office: office, Status: sts, Skip: skip, Limit: 5})
				must(t, err)
				for i, p := range page {
					got = append(got, p.Ref)
					if i > 0 && p.Created.After(page[i-1].Created) {
						t.Fatalf("page not newest first: %v after %v", p.Created, page[i-1].Created)
					}
				}
				if len(page) < 5 {
					break
				}
			}
			// Equal creation times may come in either order; compare sets
			// and the order of creation times.
			sort.Strings(got)
			sort.Strings(want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("office %q statuses %v: pages %v, want %v", office, sts, got, want)
			}
		}
	}
}

// Sample file contents for the allowlist.
var (
	pngHead = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00")
	pdfHead = []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
)

// PDF returns a PDF-looking byte slice of n bytes.
func PDF(n int) []byte {
	b := make([]byte, n)
	copy(b, pdfHead)
	for i := len(pdfHead); i < n; i++ {
		b[i] = byte('a' + i%26)
	}
	return b
}

func testFiles(t *testing.T, ns NewStore) {
	s, _ := ns(t)
	ctx := ctxT(t)
	owner := record.NewToken()
	content := PDF(600 << 10) // spans three chunks
	a, err := s.PutFile(ctx, "ffm", owner, "bescheid.pdf", bytes.NewReader(content))
	must(t, err)
	sum := sha256.Sum256(content)
	if a.Size != int64(len(content)) || a.SHA256 != hex.EncodeToString(sum[:]) || a.ContentType != "application/pdf" || a.Name != "bescheid.pdf" {
		t.Fatalf("attachment %#v", a)
	}
	rc, info, err := s.OpenFile(ctx, "ffm", a.ID)
	must(t, err)
	got, err := io.ReadAll(rc)
	rc.Close()
	must(t, err)
	if !bytes.Equal(got, content) || *info != *a {
		t.Fatal("file content or metadata differ after round trip")
	}
	if _, _, err := s.OpenFile(ctx, "other", a.ID); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("other tenant: %v", err)
	}
	// Only the owner sees the file's metadata by OwnedFile.
	if own, err := s.OwnedFile(ctx, "ffm", owner, a.ID); err != nil || *own != *a {
		t.Fatalf("owned file: %+v %v", own, err)
	}
	for _, c := range []struct{ tenant, owner string }{{"ffm", record.NewToken()}, {"ffm", ""}, {"other", owner}} {
		if _, err := s.OwnedFile(ctx, c.tenant, c.owner, a.ID); !errors.Is(err, record.ErrNotFound) {
			t.Fatalf("file of another owner (%s, %q): %v", c.tenant, c.owner, err)
		}
	}
	// Sniffing, not names: an HTML file named .pdf is refused.
	if _, err := s.PutFile(ctx, "ffm", owner, "x.pdf", strings.NewReader("<html><script>alert(1)</script>")); !errors.Is(err, record.ErrUnsupportedType) {
		t.Fatalf("html upload: %v", err)
	}
	png, err := s.PutFile(ctx, "ffm", owner, "foto.png", bytes.NewReader(pngHead))
	must(t, err)
	if png.ContentType != "image/png" {
		t.Fatalf("png sniffed as %s", png.ContentType)
	}
	// Attach to a submission: metadata comes from the store.
	req := submitReq("ffm", 1)
	req.AttachmentIDs = []string{a.ID, png.ID}
	sub, _, err := s.Submit(ctx, req)
	must(t, err)
	if len(sub.Attachments) != 2 || sub.Attachments[0] != *a || sub.Attachments[1] != *png {
		t.Fatalf("attachments %#v", sub.Attachments)
	}
	if err := s.DeleteFile(ctx, "ffm", a.ID); !errors.Is(err, record.ErrConflict) {
		t.Fatalf("deleting an attached file: %v", err)
	}
	// A second submission cannot take the same file.
	req2 := submitReq("ffm", 2)
	req2.AttachmentIDs = []string{a.ID}
	if _, _, err := s.Submit(ctx, req2); !errors.Is(err, record.ErrConflict) {
		t.Fatalf("file attached twice: %v", err)
	}
	// Unattached files go with their draft; attached ones stay.
	loose, err := s.PutFile(ctx, "ffm", owner, "loose.png", bytes.NewReader(pngHead))
	must(t, err)
	d := &record.Draft{ID: owner, Tenant: "ffm", Service: svc, Data: map[string]any{}, Expires: time.Now().Add(time.Hour)}
	must(t, s.CreateDraft(ctx, d))
	must(t, s.DeleteDraft(ctx, "ffm", owner))
	if _, _, err := s.OpenFile(ctx, "ffm", loose.ID); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("loose file after draft deletion: %v", err)
	}
	if _, _, err := s.OpenFile(ctx, "ffm", a.ID); err != nil {
		t.Fatalf("attached file after draft deletion: %v", err)
	}
}

// FileLimits checks ErrTooLarge for a store configured with the given
// per-file and per-owner limits.
func FileLimits(t *testing.T, s Store, maxFile, maxTotal int64) {
	ctx := ctxT(t)
	owner := record.NewToken()
	if _, err := s.PutFile(ctx, "ffm", owner, "big.pdf", bytes.NewReader(PDF(int(maxFile)+1))); !errors.Is(err, record.ErrTooLarge) {
		t.Fatalf("file over limit: %v", err)
	}
	if _, err := s.PutFile(ctx, "ffm", owner, "ok.pdf", bytes.NewReader(PDF(int(maxFile)))); err != nil {
		t.Fatalf("file at limit: %v", err)
	}
	var err error
	for used := maxFile; used <= maxTotal && err == nil; used += maxFile {
		_, err = s.PutFile(ctx, "ffm", owner, "more.pdf", bytes.NewReader(PDF(int(maxFile))))
	}
	if !errors.Is(err, record.ErrTooLarge) {
		t.Fatalf("owner total over limit: %v", err)
	}
}

func testSweeper(t *testing.T, ns NewStore) {
	s, _ := ns(t)
	ctx := ctxT(t)
	now := time.Now()
	// drafts
	var live, dead []string
	for i := 0; i < 6; i++ {
		exp := now.Add(time.Hour)
		if i%2 == 0 {
			exp = now.Add(-time.Minute)
		}
		d := &record.Draft{Tenant: "ffm", Service: svc, Data: sampleData(i), Expires: exp}
		must(t, s.CreateDraft(ctx, d))
		if i%2 == 0 {
			dead = append(dead, d.ID)
			_, err := s.PutFile(ctx, "ffm", d.ID, "x.png", bytes.NewReader(pngHead))
			must(t, err)
		} else {
			live = append(live, d.ID)
		}
	}
	// submissions: kita keeps 30 days, other keeps forever
	var old, young []*record.Submission
	for i := 0; i < 6; i++ {
		r := submitReq("ffm", i)
		if i%2 == 0 {
			r.At = now.Add(-40 * 24 * time.Hour)
		}
		f, err := s.PutFile(ctx, "ffm", record.NewToken(), "a.pdf", bytes.NewReader(PDF(1000)))
		must(t, err)
		r.AttachmentIDs = []string{f.ID}
		sub, _, err := s.Submit(ctx, r)
		must(t, err)
		if i%2 == 0 {
			old = append(old, sub)
		} else {
			young = append(young, sub)
		}
	}
	keep := submitReq("ffm", 9)
	keep.Service = record.ServiceRef{ID: "gewerbe", Version: "1", Hash: "h"}
	keep.Prefix = "GEW"
	keep.At = now.Add(-400 * 24 * time.Hour)
	kept, _, err := s.Submit(ctx, keep)
	must(t, err)

	sw := &sweep.Sweeper{Store: s, Holder: "test", Retention: func(id string) (time.Duration, bool) {
		if id == svc.ID {
			return 30 * 24 * time.Hour, true
		}
		return 0, false
	}}
	res, err := sw.RunOnce(ctx)
	must(t, err)
	if res.Skipped || res.Drafts != len(dead) || res.Submissions != len(old) {
		t.Fatalf("sweep result %+v, want %d drafts and %d submissions", res, len(dead), len(old))
	}
	for _, id := range dead {
		if _, err := s.GetDraft(ctx, "ffm", id); !errors.Is(err, record.ErrNotFound) {
			t.Fatalf("expired draft %s: %v", id, err)
		}
	}
	for _, id := range live {
		if _, err := s.GetDraft(ctx, "ffm", id); err != nil {
			t.Fatalf("live draft %s: %v", id, err)
		}
	}
	for _, sub := range old {
		if _, err := s.GetSubmission(ctx, "ffm", sub.Ref); !errors.Is(err, record.ErrNotFound) {
			t.Fatalf("expired submission %s: %v", sub.Ref, err)
		}
		if _, _, err := s.OpenFile(ctx, "ffm", sub.Attachments[0].ID); !errors.Is(err, record.ErrNotFound) {
			t.Fatalf("file of deleted submission: %v", err)
		}
		evs, err := s.Events(ctx, "ffm", sub.Ref)
		must(t, err)
		if len(evs) != 1 || evs[0].Type != record.EventDeleted || evs[0].Submission != sub.Ref {
			t.Fatalf("events after deletion: %#v, want only a tombstone", evs)
		}
		checkNoPersonalData(t, evs[0].Data)
	}
	for _, sub := range append(young, kept) {
		got, err := s.GetSubmission(ctx, "ffm", sub.Ref)
		if err != nil || !reflect.DeepEqual(got.Data, sub.Data) {
			t.Fatalf("kept submission %s: %v", sub.Ref, err)
		}
		for _, a := range got.Attachments {
			if _, _, err := s.OpenFile(ctx, "ffm", a.ID); err != nil {
				t.Fatalf("file of kept submission: %v", err)
			}
		}
	}
	// A second run finds nothing more.
	res, err = sw.RunOnce(ctx)
	must(t, err)
	if res.Drafts != 0 || res.Submissions != 0 {
		t.Fatalf("second sweep %+v", res)
	}
}

// workedOnMeanwhile is a store in which a caseworker changes the first
// submission the sweeper lists as due, right after it was listed.
type workedOnMeanwhile struct {
	Store
	t       *testing.T
	changed string
}

func (s *workedOnMeanwhile) SubmissionsUpdatedBefore(ctx context.Context, serviceID string, t time.Time, limit int) ([]record.SubmissionKey, error) {
	keys, err := s.Store.SubmissionsUpdatedBefore(ctx, serviceID, t, limit)
	if err == nil && len(keys) > 0 && s.changed == "" {
		k := keys[0]
		sub, gerr := s.Store.GetSubmission(ctx, k.Tenant, k.Ref)
		must(s.t, gerr)
		_, uerr := s.Store.UpdateSubmission(ctx, k.Tenant, k.Ref, sub.Version, record.SubmissionChange{Status: "in_review", Actor: "sb"})
		must(s.t, uerr)
		s.changed = k.Ref
	}
	return keys, err
}

// testSweeperChangedMeanwhile: a submission changed after the sweeper
// listed it as due (a batch takes minutes with the sweeper's rests) is
// no longer due and is kept; the others of the batch go.
func testSweeperChangedMeanwhile(t *testing.T, ns NewStore) {
	s, _ := ns(t)
	ctx := ctxT(t)
	var refs []string
	for i := 0; i < 3; i++ {
		r := submitReq("ffm", i)
		r.At = time.Now().Add(-40 * 24 * time.Hour)
		sub, _, err := s.Submit(ctx, r)
		must(t, err)
		refs = append(refs, sub.Ref)
	}
	ws := &workedOnMeanwhile{Store: s, t: t}
	sw := &sweep.Sweeper{Store: ws, Holder: "test", Duty: 1, Retention: func(string) (time.Duration, bool) { return 30 * 24 * time.Hour, true }}
	res, err := sw.RunOnce(ctx)
	must(t, err)
	if ws.changed == "" || res.Submissions != 2 {
		t.Fatalf("sweep %+v (changed %q): want the two unchanged submissions deleted", res, ws.changed)
	}
	for _, ref := range refs {
		_, err := s.GetSubmission(ctx, "ffm", ref)
		switch {
		case ref == ws.changed && err != nil:
			t.Fatalf("the submission changed after it was listed was deleted: %v", err)
		case ref != ws.changed && !errors.Is(err, record.ErrNotFound):
			t.Fatalf("due submission %s: %v", ref, err)
		}
	}
	if evs, err := s.Events(ctx, "ffm", ws.changed); err != nil || evs[len(evs)-1].Type == record.EventDeleted {
		t.Fatalf("events of the kept submission: %v %v", evs, err)
	}
}

// testSweeperExtendedDraft: a draft saved with a later expiry survives a
// sweep past its first expiry and goes with the sweep past the new one.
func testSweeperExtendedDraft(t *testing.T, ns NewStore) {
	s, _ := ns(t)
	ctx := ctxT(t)
	now := time.Now()
	d := &record.Draft{Tenant: "ffm", Service: svc, Data: map[string]any{}, Expires: now.Add(time.Hour)}
	must(t, s.CreateDraft(ctx, d))
	keep := &record.Draft{Tenant: "ffm", Service: svc, Data: map[string]any{}, Expires: now.Add(30 * 24 * time.Hour)}
	must(t, s.CreateDraft(ctx, keep))
	d.Expires = now.Add(5 * time.Hour)
	must(t, s.UpdateDraft(ctx, d))
	at := now
	sweepAt := func(after time.Duration, want int) {
		t.Helper()
		at = now.Add(after)
		res, err := (&sweep.Sweeper{Store: s, Holder: "test", Now: func() time.Time { return at }}).RunOnce(ctx)
		must(t, err)
		if res.Drafts != want {
			t.Fatalf("sweep at +%v deleted %d drafts, want %d", after, res.Drafts, want)
		}
	}
	sweepAt(0, 0)
	sweepAt(3*time.Hour, 0)
	if _, err := s.GetDraft(ctx, "ffm", d.ID); err != nil {
		t.Fatalf("extended draft after its first expiry: %v", err)
	}
	sweepAt(7*time.Hour, 1)
	sweepAt(8*time.Hour, 0)
	if _, err := s.GetDraft(ctx, "ffm", keep.ID); err != nil {
		t.Fatalf("draft not yet due: %v", err)
	}
}

func checkNoPersonalData(t *testing.T, m map[string]any) {
	t.Helper()
	for k, v := range m {
		if s, ok := v.(string); ok && strings.Contains(s, "Mustermann") {
			t.Fatalf("tombstone carries personal data in %s: %q", k, s)
		}
		if _, ok := v.(map[string]any); ok {
			t.Fatalf("tombstone carries structured data in %s", k)
		}
	}
}

func testSweeperLease(t *testing.T, ns NewStore) {
	s, another := ns(t)
	s2 := another()
	ctx := ctxT(t)
	ok, err := s.AcquireLease(ctx, "sweeper", "a", time.Minute)
	must(t, err)
	if !ok {
		t.Fatal("lease not taken")
	}
	res, err := (&sweep.Sweeper{Store: s2, Holder: "b"}).RunOnce(ctx)
	must(t, err)
	if !res.Skipped {
		t.Fatal("second instance swept while the lease was held")
	}
	ok, err = s2.AcquireLease(ctx, "sweeper", "a", time.Minute) // renewal by holder
	must(t, err)
	if !ok {
		t.Fatal("holder could not renew")
	}
	must(t, s.ReleaseLease(ctx, "sweeper", "a"))
	// concurrent acquisition: exactly one
	var wins atomic.Int64
	inParallel(10, s, s2, func(i int, st Store) {
		ok, err := st.AcquireLease(ctx, "sweeper", fmt.Sprintf("h%d", i), time.Minute)
		if err != nil {
			t.Error(err)
		}
		if ok {
			wins.Add(1)
		}
	})
	if wins.Load() != 1 {
		t.Fatalf("%d holders took the lease", wins.Load())
	}
	// expired leases can be taken over
	ok, err = s.AcquireLease(ctx, "short", "x", time.Millisecond)
	must(t, err)
	time.Sleep(20 * time.Millisecond)
	ok2, err := s2.AcquireLease(ctx, "short", "y", time.Minute)
	must(t, err)
	if !ok || !ok2 {
		t.Fatal("expired lease not taken over")
	}
}

func testExportImport(t *testing.T, ns NewStore) {
	src, _ := ns(t)
	dst, _ := ns(t)
	ctx := ctxT(t)
	var subs []*record.Submission
	for i := 0; i < 5; i++ {
		r := submitReq("ffm", i)
		if i == 2 {
			f, err := src.PutFile(ctx, "ffm", record.NewToken(), "gross.pdf", bytes.NewReader(PDF(700<<10)))
			must(t, err)
			r.AttachmentIDs = []string{f.ID}
		}
		sub, _, err := src.Submit(ctx, r)
		must(t, err)
		if i == 1 {
			sub, err = src.UpdateSubmission(ctx, "ffm", sub.Ref, 1, record.SubmissionChange{Status: "done", Actor: "sb"})
			must(t, err)
		}
		subs = append(subs, sub)
	}
	deletedRef := subs[4].Ref
	must(t, src.DeleteSubmission(ctx, "ffm", deletedRef, "test", time.Time{}, time.Time{}))
	subs = subs[:4]
	_, _, err := src.Submit(ctx, submitReq("of", 1)) // other tenant: not exported
	must(t, err)
	jobs, claims, steps, version, user, token := exportDeliveryState(t, src)

	var buf bytes.Buffer
	must(t, src.Export(ctx, record.ExportFilter{Tenant: "ffm"}, &buf))
	st, err := dst.Import(ctx, bytes.NewReader(buf.Bytes()))
	must(t, err)
	if st.Submissions != 6 || st.Files != 1 || st.Chunks != 3 || st.Events != 2 || st.Conflicts != 0 ||
		st.Versions != 1 || st.Deliveries != 3 || st.DeliveryRecords != 5 || st.Accounts != 2 {
		t.Fatalf("import stats %+v", st)
	}
	total := func(st record.ImportStats) int {
		return st.Submissions + st.Events + st.Files + st.Chunks + st.Versions + st.Deliveries + st.DeliveryRecords + st.Accounts
	}
	st2, err := dst.Import(ctx, bytes.NewReader(buf.Bytes()))
	must(t, err)
	if total(st2) != 0 || st2.Conflicts != 0 || st2.Skipped != total(st) {
		t.Fatalf("second import %+v (first %+v): want everything skipped", st2, st)
	}
	// The delivery state came along: an open job stays open (and is due
	// in the target), a finished one is not sent again, attempts and
	// steps are there; so are the service version, the account and the
	// token.
	for _, want := range jobs {
		got, err := dst.DeliveryJob(ctx, want.ID)
		must(t, err)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("delivery job %s differs after import:\n%+v\n%+v", want.ID, got, want)
		}
	}
	due, err := dst.DueDeliveries(ctx, time.Now().Add(48*time.Hour), 100)
	must(t, err)
	var dueIDs []string
	for _, j := range due {
		dueIDs = append(dueIDs, j.ID)
	}
	sort.Strings(dueIDs)
	if want := []string{jobs[1].ID, jobs[3].ID}; fmt.Sprint(dueIDs) != fmt.Sprint(want) {
		t.Fatalf("due in the target: %v, want the open and the new job %v", dueIDs, want)
	}
	if err := dst.ClaimDelivery(ctx, &record.DeliveryClaim{Job: jobs[0].ID, N: 2, Holder: "t", Until: time.Now().Add(time.Minute)}); !errors.Is(err, record.ErrConflict) {
		t.Fatalf("claim of a job delivered before the move: %v", err)
	}
	for _, want := range claims {
		got, err := dst.DeliveryClaim(ctx, want.Job, want.N)
		must(t, err)
		if got.Holder != want.Holder || got.Outcome != want.Outcome || got.Error != want.Error || !got.Ended.Equal(want.Ended) {
			t.Fatalf("attempt %s#%d after import: %+v, want %+v", want.Job, want.N, got, want)
		}
	}
	for _, want := range steps {
		got, err := dst.DeliveryStep(ctx, want.Job, want.Name)
		must(t, err)
		if got.Result != want.Result {
			t.Fatalf("step %s %s after import: %+v", want.Job, want.Name, got)
		}
	}
	vs, err := dst.ServiceVersions(ctx)
	must(t, err)
	if len(vs) != 1 || vs[0].Hash != version.Hash || !reflect.DeepEqual(vs[0].Files, version.Files) {
		t.Fatalf("service versions after import: %+v", vs)
	}
	if u, err := dst.StaffUser(ctx, user.ID); err != nil || u.PasswordHash != user.PasswordHash || fmt.Sprint(u.Offices) != fmt.Sprint(user.Offices) {
		t.Fatalf("account after import: %+v %v", u, err)
	}
	if tk, err := dst.APIToken(ctx, token.ID); err != nil || tk.Hash != token.Hash {
		t.Fatalf("token after import: %+v %v", tk, err)
	}
	for _, want := range subs {
		got, err := dst.GetSubmission(ctx, "ffm", want.Ref)
		must(t, err)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("submission %s differs after import:\n%#v\n%#v", want.Ref, got, want)
		}
		e1, err := src.Events(ctx, "ffm", want.Ref)
		must(t, err)
		e2, err := dst.Events(ctx, "ffm", want.Ref)
		must(t, err)
		if !reflect.DeepEqual(e1, e2) {
			t.Fatalf("events of %s differ:\n%#v\n%#v", want.Ref, e1, e2)
		}
		for _, a := range want.Attachments {
			r1, _, err := src.OpenFile(ctx, "ffm", a.ID)
			must(t, err)
			r2, info, err := dst.OpenFile(ctx, "ffm", a.ID)
			must(t, err)
			b1, _ := io.ReadAll(r1)
			b2, _ := io.ReadAll(r2)
			r1.Close()
			r2.Close()
			if !bytes.Equal(b1, b2) || *info != a {
				t.Fatalf("file %s differs after import", a.ID)
			}
		}
	}
	tomb, err := dst.Events(ctx, "ffm", deletedRef)
	if err != nil || len(tomb) != 1 || tomb[0].Type != record.EventDeleted {
		t.Fatalf("tombstone not imported: %v %#v", err, tomb)
	}
	if l, err := dst.ListSubmissions(ctx, record.InboxQuery{Tenant: "of"}); err != nil || len(l) != 0 {
		t.Fatalf("other tenant leaked into export: %v", err)
	}
	// New numbers in the target continue after the imported ones.
	n, _, err := dst.Submit(ctx, submitReq("ffm", 99))
	must(t, err)
	for _, s := range subs {
		if s.Ref == n.Ref {
			t.Fatalf("target reused imported reference %s", n.Ref)
		}
	}
	// --since: only newer submissions
	var since bytes.Buffer
	must(t, src.Export(ctx, record.ExportFilter{Tenant: "ffm", Since: time.Now().Add(time.Hour)}, &since))
	if c := strings.Count(since.String(), `"kind":"submission"`); c != 0 {
		t.Fatalf("--since in the future exported %d submissions", c)
	}
}

// exportDeliveryState gives two new submissions of tenant ffm delivery
// jobs in every state — delivered, failed once (open, with an attempt
// and a step), dead, and not yet taken in — and stores the service
// version they were made with, an account and an API token of ffm, and
// an account of another tenant. It returns the jobs as stored, their
// attempts and steps.
func exportDeliveryState(t *testing.T, s Store) (jobs []*record.DeliveryJob, claims []*record.DeliveryClaim, steps []record.DeliveryStep, v *record.ServiceVersion, u *record.User, tk *record.APIToken) {
	ctx := ctxT(t)
	a, _, err := s.Submit(ctx, jobReq("ffm", 10, "fv", "archiv", "postfach"))
	must(t, err)
	_, err = s.DueDeliveries(ctx, time.Now(), 100) // taken in
	must(t, err)
	b, _, err := s.Submit(ctx, jobReq("ffm", 11, "fv")) // left in its submission
	must(t, err)
	now := time.Now().UTC().Truncate(time.Millisecond)
	id := func(ref, dest string) string { return record.DeliveryJobID("ffm", ref, dest) }
	for i, dest := range []string{"fv", "archiv", "postfach"} {
		c := &record.DeliveryClaim{Job: id(a.Ref, dest), N: 1, Holder: "host:1", Started: now, Until: now.Add(time.Minute)}
		must(t, s.ClaimDelivery(ctx, c))
		j, err := s.DeliveryJob(ctx, c.Job)
		must(t, err)
		j.Attempts, j.Updated = 1, now
		switch i {
		case 0:
			must(t, s.RecordDeliveryStep(ctx, record.DeliveryStep{Job: c.Job, Name: "upload:form", At: now, Result: "att-1"}))
			steps = append(steps, record.DeliveryStep{Job: c.Job, Name: "upload:form", Result: "att-1"})
			j.Status, j.Delivered = record.DeliveryDelivered, now
		case 1:
			c.Ended, c.Outcome, c.Error = now, "failed", "receiver answered 503"
			must(t, s.EndDeliveryClaim(ctx, c))
			must(t, s.RecordDeliveryStep(ctx, record.DeliveryStep{Job: c.Job, Name: "upload:a1", At: now, Result: "att-2"}))
			steps = append(steps, record.DeliveryStep{Job: c.Job, Name: "upload:a1", Result: "att-2"})
			j.LastError, j.Next = c.Error, now.Add(10*time.Second)
		case 2:
			c.Ended, c.Outcome, c.Error = now, "failed-permanently", "receiver answered 400"
			must(t, s.EndDeliveryClaim(ctx, c))
			j.Status, j.LastError = record.DeliveryDead, c.Error
		}
		must(t, s.SaveDeliveryJob(ctx, j, 0))
		claims = append(claims, c)
	}
	for _, jid := range []string{id(a.Ref, "fv"), id(a.Ref, "archiv"), id(a.Ref, "postfach"), id(b.Ref, "fv")} {
		j, err := s.DeliveryJob(ctx, jid)
		must(t, err)
		jobs = append(jobs, j)
	}
	v = &record.ServiceVersion{Hash: svc.Hash, ServiceID: svc.ID, Version: svc.Version, Compiler: "c/1", Offered: now,
		Files: []record.SourceFile{{Path: "service.cue", Data: []byte("package kita\n")}}}
	must(t, s.PutVersion(ctx, v))
	must(t, s.PutVersion(ctx, &record.ServiceVersion{Hash: "sha256:unused", ServiceID: svc.ID, Version: "0.1.0", Offered: now}))
	u = &record.User{ID: "erika.sachbearbeitung", Tenant: "ffm", Name: "Erika", Roles: []string{"caseworker"}, Offices: []string{"jugendamt-frankfurt"},
		Source: "local", PasswordHash: "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA", Created: now, Updated: now, Version: 1}
	must(t, s.CreateStaffUser(ctx, u))
	must(t, s.CreateStaffUser(ctx, &record.User{ID: "otto", Tenant: "of", Name: "Otto", Roles: []string{"admin"}, Source: "local", Created: now, Updated: now, Version: 1}))
	tk = &record.APIToken{ID: "tok1", Tenant: "ffm", Name: "Fachverfahren", Roles: []string{"reader"}, Hash: strings.Repeat("ab", 32), Created: now}
	must(t, s.CreateAPIToken(ctx, tk))
	return jobs, claims, steps, v, u, tk
}

// inParallel runs f n times at once, handing the odd calls the second
// client, and waits for all of them.
func inParallel(n int, s, s2 Store, f func(i int, st Store)) {
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		st := s
		if i%2 == 1 {
			st = s2
		}
		go func() {
			defer wg.Done()
			f(i, st)
		}()
	}
	wg.Wait()
}

func testVersions(t *testing.T, ns NewStore) {
	s, another := ns(t)
	ctx := ctxT(t)
	if vs, err := s.ServiceVersions(ctx); err != nil || len(vs) != 0 {
		t.Fatalf("empty store: %v, %v", vs, err)
	}
	at := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	v1 := &record.ServiceVersion{Hash: strings.Repeat("a", 64), ServiceID: "hundesteuer", Version: "1.0.0", Compiler: "c/1", Offered: at,
		Files: []record.SourceFile{{Path: "cue.mod/module.cue", Data: []byte("module: \"x.example/a\"\n")}, {Path: "service.cue", Data: []byte("package a\n\x00\xff")}}}
	must(t, s.PutVersion(ctx, v1))
	// The first offer of a hash wins; a repeat is no error and changes nothing.
	again := *v1
	again.Version, again.Offered = "9.9.9", at.Add(time.Hour)
	must(t, s.PutVersion(ctx, &again))
	v2 := &record.ServiceVersion{Hash: strings.Repeat("b", 64), ServiceID: "hundesteuer", Version: "1.1.0", Compiler: "c/1", Offered: at.Add(24 * time.Hour),
		Files: []record.SourceFile{{Path: "cue.mod/module.cue", Data: []byte("m")}}}
	must(t, s.PutVersion(ctx, v2))
	// Another client sees both, byte for byte.
	vs, err := another().ServiceVersions(ctx)
	must(t, err)
	sort.Slice(vs, func(i, j int) bool { return vs[i].Hash < vs[j].Hash })
	if len(vs) != 2 {
		t.Fatalf("got %d versions, want 2", len(vs))
	}
	for i, want := range []*record.ServiceVersion{v1, v2} {
		got := vs[i]
		if !got.Offered.Equal(want.Offered) {
			t.Errorf("version %d offered %v, want %v", i, got.Offered, want.Offered)
		}
		got.Offered = want.Offered
		if !reflect.DeepEqual(got, want) {
			t.Errorf("version %d:\n got %+v\nwant %+v", i, got, want)
		}
	}
}
