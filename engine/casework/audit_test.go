package casework

import (
	"context"
	"strings"
	"testing"

	"github.com/amtsform/amtsform/engine/audit"
	"github.com/amtsform/amtsform/engine/record"
)

// tee records into two auditors.
type tee [2]Auditor

func (t tee) Record(ctx context.Context, e record.AuditEntry) error {
	if err := t[0].Record(ctx, e); err != nil {
		return err
	}
	return t[1].Record(ctx, e)
}

// TestWalkAuditTrail walks the Kita case with the real audit log on the
// same store: every view, download and action is in the tenant's
// hash-chained trail, which verifies, and none carries citizen data.
func TestWalkAuditTrail(t *testing.T) {
	f := newFixture(t)
	log := audit.New(f.store)
	f.work = New(f.store, f.cat, f.dir, Options{Audit: tee{f.audit, log}, Mail: f.mail, PublicURL: "https://formulare.example/", Now: f.time, Logger: quiet})
	ref, _ := walkKita(t, f)
	entries, err := log.List(ctxTest, "ffm", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		if e.Object != ref {
			t.Errorf("entry %d about %q", e.Seq, e.Object)
		}
		for k, v := range e.Detail {
			if strings.Contains(v, "Erika") || strings.Contains(v, "@") {
				t.Errorf("entry %d detail %s=%q", e.Seq, k, v)
			}
		}
		got = append(got, e.Action+" "+e.Actor)
	}
	want := "case.claimed anna,case.transition anna,case.documents_requested anna,case.documents_received citizen,case.viewed anna,attachment.downloaded anna,case.transition anna,case.transition bernd"
	if strings.Join(got, ",") != want {
		t.Fatalf("trail\n got %s\nwant %s", strings.Join(got, ","), want)
	}
	rep, err := log.Verify(ctxTest, "ffm")
	if err != nil || !rep.OK() || rep.Entries != int64(len(entries)) {
		t.Fatalf("verify %+v %v", rep, err)
	}
}
