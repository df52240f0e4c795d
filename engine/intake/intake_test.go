package intake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/catalog"
	"github.com/amtsform/amtsform/engine/intake"
	"github.com/amtsform/amtsform/engine/mongostore"
	"github.com/amtsform/amtsform/engine/mongostore/embedded"
	"github.com/amtsform/amtsform/engine/record"
)

// newEngine returns an engine with the examples on a fresh embedded store.
func newEngine(t *testing.T) *intake.Intake {
	t.Helper()
	if testing.Short() {
		t.Skip("starts an embedded store")
	}
	dir := t.TempDir()
	srv, err := embedded.Start(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := mongostore.Connect(ctx, srv.URI(), mongostore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	svcs, err := engine.LoadServices([]string{"../../examples"})
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.New(st)
	if err := cat.Offer(ctx, "musterstadt", svcs); err != nil {
		t.Fatal(err)
	}
	return &intake.Intake{
		Store: st, Catalog: cat, Secret: []byte("test"),
		Background: func(f func()) { f() },
	}
}

func num(s string) json.Number { return json.Number(s) }

func TestDraftLifecycle(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	const tenant = "musterstadt"
	d, s, err := e.NewDraft(ctx, tenant, "kita-gebuehren")
	if err != nil {
		t.Fatal(err)
	}
	if d.Page != "person" || len(d.ID) < 22 {
		t.Fatalf("draft %+v", d)
	}

	// A page with errors is saved anyway and does not advance.
	pr, err := e.SavePage(ctx, tenant, d.ID, d.Version, "person", map[string]any{
		"applicant": map[string]any{"givenName": "Jürgen", "familyName": "Müller", "birthDate": "1985-13-01"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if pr.Next != "" || len(pr.Errors) == 0 {
		t.Fatalf("expected errors and no next page, got %+v", pr.Errors)
	}
	for _, fe := range pr.Errors {
		if s.PageOf(strings.Split(fe.Path, ".")[0]) != "person" {
			t.Errorf("error of another page reported: %v", fe)
		}
	}
	got, _, err := e.Draft(ctx, tenant, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Data["applicant"].(map[string]any)["givenName"] != "Jürgen" {
		t.Fatal("typed answers were lost")
	}

	// A stale version is a conflict; a field of another page is refused.
	if _, err := e.SavePage(ctx, tenant, d.ID, d.Version, "person", map[string]any{}); !errors.Is(err, record.ErrConflict) {
		t.Fatalf("stale save: %v", err)
	}
	var ve *engine.ValidationError
	if _, err := e.SavePage(ctx, tenant, d.ID, 0, "person", map[string]any{"income": num("1")}); !errors.As(err, &ve) {
		t.Fatalf("foreign field: %v", err)
	}

	steps := []struct {
		page   string
		values map[string]any
		next   string
	}{
		{"person", map[string]any{
			"applicant": map[string]any{"givenName": "Jürgen", "familyName": "Müller", "birthDate": "1985-06-01"},
			"address":   map[string]any{"street": "Römerberg", "houseNumber": "23", "postalCode": "60311", "city": "Frankfurt am Main"},
		}, "kinder"},
		{"kinder", map[string]any{"children": []any{
			map[string]any{"name": "Lena", "birthDate": "2021-03-01", "careType": "krippe", "monthlyFee": num("20000")},
		}}, "einkommen"},
		{"einkommen", map[string]any{"income": num("2400000"), "iban": "DE89370400440532013000", "consent": true, "coveredFee": num("1")}, ""},
	}
	for _, st := range steps {
		pr, err := e.SavePage(ctx, tenant, d.ID, 0, st.page, st.values)
		if err != nil {
			t.Fatal(err)
		}
		if len(pr.Errors) > 0 || pr.Next != st.next {
			t.Fatalf("%s: errors %v, next %q", st.page, pr.Errors, pr.Next)
		}
	}

	sub, created, err := e.SubmitDraft(ctx, tenant, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !created || !strings.HasPrefix(sub.Ref, "KITA-"+time.Now().Format("2006")+"-") || sub.Office != "jugendamt-frankfurt" {
		t.Fatalf("submission %+v", sub)
	}
	if sub.Computed["coveredFee"] != int64(20000) {
		t.Fatalf("computed %v: the client's coveredFee must be ignored", sub.Computed)
	}
	if _, _, err := e.Draft(ctx, tenant, d.ID); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("draft after submit: %v", err)
	}
	// A retry after the draft's removal still gets the submission (issue
	// 8 item 2), not "not found".
	again, created, err := e.SubmitDraft(ctx, tenant, d.ID)
	if err != nil || created || again.Ref != sub.Ref {
		t.Fatalf("retry after the draft was removed: %+v created=%v err=%v, want %s", again, created, err, sub.Ref)
	}
	if _, _, err := e.SubmitDraft(ctx, tenant, record.NewToken()); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("unknown draft: %v", err)
	}
	if !e.CheckStatusSecret(tenant, sub.Ref, e.StatusSecret(tenant, sub.Ref)) || e.CheckStatusSecret(tenant, sub.Ref, "x") {
		t.Fatal("status secret")
	}
	// Another tenant cannot see the draft or the submission.
	if _, err := e.Store.GetSubmission(ctx, "andere-stadt", sub.Ref); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("other tenant: %v", err)
	}
}

func TestSubmitDocumentInvalid(t *testing.T) {
	e := newEngine(t)
	_, _, err := e.SubmitDocument(context.Background(), "musterstadt", "kita-gebuehren", map[string]any{"income": "viel"}, "", "", "")
	var ve *engine.ValidationError
	if !errors.Is(err, intake.ErrInvalid) || !errors.As(err, &ve) || len(ve.Errors) == 0 {
		t.Fatalf("err = %v", err)
	}
	if _, _, err := e.SubmitDocument(context.Background(), "musterstadt", "gibt-es-nicht", nil, "", "", ""); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("unknown service: %v", err)
	}
}

// TestSubmitComputedInList submits every valid spec-test input of every
// example, so that computed values inside repeating groups (keys such as
// "dogs[0].listed") are stored and read back.
func TestSubmitComputedInList(t *testing.T) {
	e := newEngine(t)
	e.Now = func() time.Time { return time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC) } // the spec tests' day
	ctx := context.Background()
	n := 0
	for _, s := range e.Catalog.List("musterstadt") {
		for _, tc := range s.Tests {
			if !tc.Valid || !tc.Today.IsZero() {
				continue // inputs valid only on another day are skipped
			}
			sub, _, err := e.SubmitDocument(ctx, "musterstadt", s.ID, deepCopyDoc(tc.Input), "", "", "")
			if err != nil {
				t.Fatalf("%s %s: %v", s.ID, tc.Name, err)
			}
			got, err := e.Store.GetSubmission(ctx, "musterstadt", sub.Ref)
			if err != nil {
				t.Fatal(err)
			}
			want := s.Evaluate(tc.Input, engine.Options{}).Computed
			for k, v := range want {
				if got.Computed[k] != v {
					t.Errorf("%s %s: computed %s = %v, want %v", s.ID, tc.Name, k, got.Computed[k], v)
				}
			}
			n++
		}
	}
	if n < 10 {
		t.Fatalf("only %d documents submitted", n)
	}
}

// TestSavePageKeepsUnrepresentableNumbers saves numbers a store cannot
// hold exactly: the save succeeds (no 500), the value comes back as the
// text written, and it is a field error until corrected.
func TestSavePageKeepsUnrepresentableNumbers(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	const tenant = "musterstadt"
	for _, lit := range []string{"1e400", "99999999999999999999", "1e-400", "-1e400"} {
		t.Run(lit, func(t *testing.T) {
			d, _, err := e.NewDraft(ctx, tenant, "kita-gebuehren")
			if err != nil {
				t.Fatal(err)
			}
			// Reach the income page: person and children complete.
			savePages(t, e, d.ID)
			pr, err := e.SavePage(ctx, tenant, d.ID, 0, "einkommen", map[string]any{"income": num(lit), "consent": true})
			if err != nil {
				t.Fatalf("save: %v", err)
			}
			found := false
			for _, fe := range pr.Errors {
				if fe.Path == "income" && (fe.Code == "type" || fe.Code == "max" || fe.Code == "min") {
					found = true
				}
			}
			if !found {
				t.Errorf("errors %v, want a type/min/max error on income", pr.Errors)
			}
			again, _, err := e.Draft(ctx, tenant, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got := again.Data["income"]; got != lit {
				t.Errorf("stored income %#v, want the text %q", got, lit)
			}
		})
	}
}

// savePages completes the Kita draft's person and children pages.
func savePages(t *testing.T, e *intake.Intake, token string) {
	t.Helper()
	ctx := context.Background()
	for _, st := range []struct {
		page   string
		values map[string]any
	}{
		{"person", map[string]any{
			"applicant": map[string]any{"givenName": "Jürgen", "familyName": "Müller", "birthDate": "1985-06-01"},
			"address":   map[string]any{"street": "Römerberg", "houseNumber": "23", "postalCode": "60311", "city": "Frankfurt am Main"},
		}},
		{"kinder", map[string]any{"children": []any{
			map[string]any{"name": "Lena", "birthDate": "2021-03-01", "careType": "krippe", "monthlyFee": num("20000")},
		}}},
	} {
		pr, err := e.SavePage(ctx, "musterstadt", token, 0, st.page, st.values)
		if err != nil || len(pr.Errors) > 0 {
			t.Fatalf("%s: %v %v", st.page, err, pr)
		}
	}
}

// TestTimeZoneAfterMidnightInBerlin submits in the first hour of a new
// year in Berlin, which is still the old year in UTC: rules see the
// Berlin date as today and the reference number carries the Berlin year.
func TestTimeZoneAfterMidnightInBerlin(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	// 2026-12-31 23:30 UTC is 2027-01-01 00:30 in Berlin.
	e.Now = func() time.Time { return time.Date(2026, 12, 31, 23, 30, 0, 0, time.UTC) }
	if got := e.Today().Format(time.DateOnly); got != "2027-01-01" {
		t.Errorf("today %s, want 2027-01-01", got)
	}
	s, err := e.Catalog.Get("musterstadt", "hundesteuer")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	for _, tc := range s.Tests {
		if tc.Valid && tc.Today.IsZero() {
			doc = tc.Input
			break
		}
	}
	doc = deepCopyDoc(doc)
	// The registration starts today (Berlin): valid only if rules see the
	// Berlin date (at most three months back, not in the future).
	doc["startDate"] = "2027-01-01"
	sub, _, err := e.SubmitDocument(ctx, "musterstadt", "hundesteuer", doc, "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sub.Ref, "HUND-2027-") {
		t.Errorf("reference %s, want the Berlin year 2027", sub.Ref)
	}
}

func deepCopyDoc(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	_ = d.Decode(&out)
	return out
}

// TestKeyScopedByDraft: an idempotency key sent with a draft token is
// bound to that token. Another client replaying the key and the document
// with its own draft gets a submission of its own, not the first one
// (and not its status secret) — issue 8 item 9.
func TestKeyScopedByDraft(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	doc := map[string]any{
		"applicant": map[string]any{"givenName": "Jürgen", "familyName": "Müller", "birthDate": "1985-06-01"},
		"address":   map[string]any{"street": "Römerberg", "houseNumber": "23", "postalCode": "60311", "city": "Frankfurt am Main"},
		"children": []any{
			map[string]any{"name": "Lena", "birthDate": "2021-03-01", "careType": "krippe", "monthlyFee": num("20000")},
		},
		"income": num("2400000"), "iban": "DE89370400440532013000", "consent": true,
	}
	a, _, err := e.NewDraft(ctx, "musterstadt", "kita-gebuehren")
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := e.NewDraft(ctx, "musterstadt", "kita-gebuehren")
	if err != nil {
		t.Fatal(err)
	}
	first, created, err := e.SubmitDocument(ctx, "musterstadt", "kita-gebuehren", deepCopyDoc(doc), "key-1", "", a.ID)
	if err != nil || !created {
		t.Fatalf("first: %v %v", created, err)
	}
	replay, created, err := e.SubmitDocument(ctx, "musterstadt", "kita-gebuehren", deepCopyDoc(doc), "key-1", "", a.ID)
	if err != nil || created || replay.Ref != first.Ref {
		t.Fatalf("replay with the same draft: %+v %v %v", replay, created, err)
	}
	other, created, err := e.SubmitDocument(ctx, "musterstadt", "kita-gebuehren", deepCopyDoc(doc), "key-1", "", b.ID)
	if err != nil || !created || other.Ref == first.Ref {
		t.Fatalf("the key with another draft: %+v created=%v err=%v, want a new submission", other, created, err)
	}
	// Without a draft, too, it is another key.
	bare, created, err := e.SubmitDocument(ctx, "musterstadt", "kita-gebuehren", deepCopyDoc(doc), "key-1", "", "")
	if err != nil || !created || bare.Ref == first.Ref {
		t.Fatalf("the key without a draft: %+v created=%v err=%v", bare, created, err)
	}
}

func TestStrongKey(t *testing.T) {
	for k, want := range map[string]bool{
		"0b9f6c1e-6a52-4b8e-9a57-3c1d2e4f5a6b": true,
		"Qk3x_9-aZ0pLmN7rT2vW4y":               true,
		"Qk3x_9-aZ0pLmN7rT2vW4":                false, // 21
		"openapi-test-1":                       false,
		"Qk3x_9-aZ0pLmN7rT2vW4y=":              false,
		"Qk3x 9-aZ0pLmN7rT2vW4yy":              false,
	} {
		if intake.StrongKey(k) != want {
			t.Errorf("StrongKey(%q) = %v, want %v", k, !want, want)
		}
	}
}

// tinyJPEG is a 1×1 JPEG; tinyPDF a minimal PDF.
var (
	tinyJPEG = []byte{0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0xFF, 0xD9}
	tinyPDF  = []byte("%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
)

// TestAttachmentFieldRules: the holiday pass photo must be a JPEG. An
// upload naming the field is refused at once and nothing is kept; a file
// uploaded without naming its field is refused at submit.
func TestAttachmentFieldRules(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	d, svc, err := e.NewDraft(ctx, "musterstadt", "ferienbetreuung")
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Upload(ctx, d, svc, "photo", "pass.pdf", bytes.NewReader(tinyPDF))
	var ve *engine.ValidationError
	if !errors.As(err, &ve) || len(ve.Errors) != 1 || ve.Errors[0].Code != engine.CodeAttachmentType || ve.Errors[0].Path != "photo" {
		t.Fatalf("PDF as the photo: %v, want attachmentType on photo", err)
	}
	a, err := e.Upload(ctx, d, svc, "photo", "pass.jpg", bytes.NewReader(tinyJPEG))
	if err != nil {
		t.Fatalf("JPEG as the photo: %v", err)
	}
	if a.ContentType != "image/jpeg" {
		t.Fatalf("sniffed %s", a.ContentType)
	}
	// At submit: a PDF uploaded without naming its field.
	pdf, err := e.Upload(ctx, d, svc, "", "pass.pdf", bytes.NewReader(tinyPDF))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	for _, tc := range svc.Tests {
		if tc.Valid && tc.Today.IsZero() {
			doc = deepCopyDoc(tc.Input)
			break
		}
	}
	if doc == nil {
		t.Fatal("no valid spec test for today")
	}
	doc["photo"] = pdf.ID
	_, _, err = e.SubmitDocument(ctx, "musterstadt", "ferienbetreuung", deepCopyDoc(doc), "", "", d.ID)
	if !errors.As(err, &ve) || !errors.Is(err, intake.ErrInvalid) || ve.Errors[0].Code != engine.CodeAttachmentType {
		t.Fatalf("submit with a PDF photo: %v, want attachmentType", err)
	}
	doc["photo"] = a.ID
	if _, _, err := e.SubmitDocument(ctx, "musterstadt", "ferienbetreuung", deepCopyDoc(doc), "", "", d.ID); err != nil {
		t.Fatalf("submit with the JPEG photo: %v", err)
	}
}
