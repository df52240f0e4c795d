package delivery_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/delivery"
	"github.com/amtsform/amtsform/engine/delivery/receiver"
	"github.com/amtsform/amtsform/engine/record"
	"github.com/amtsform/amtsform/engine/storetest"
	"github.com/amtsform/amtsform/mail"
	"github.com/amtsform/amtsform/mail/smtptest"
)

type offices map[string]*engine.Office

func (o offices) Office(tenant, id string) (*engine.Office, bool) { x, ok := o[id]; return x, ok }

// TestMailAndDirectory delivers one submission with an attachment to a
// mail destination (the office's mailbox, over SMTP) and a directory.
func TestMailAndDirectory(t *testing.T) {
	s := openStore(t)
	ctx := tctx(t)
	att, err := s.PutFile(ctx, "ffm", "d", "nachweis.pdf", bytes.NewReader(storetest.PDF(2500)))
	if err != nil {
		t.Fatal(err)
	}
	sub, _, err := s.Submit(ctx, &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: svcRef, Office: "amt",
		Data: map[string]any{"nachweis": att.ID}, AttachmentIDs: []string{att.ID}, AttachmentOwner: "d",
		Jobs: []record.DeliveryJob{{Destination: "postfach", Kind: "mail"}, {Destination: "archiv", Kind: "directory"}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := smtptest.Start(t, smtptest.Options{})
	cfg, err := mail.ParseURL(srv.URL("Amtsform <noreply@stadt.example>"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Timeout = 5 * time.Second
	m, err := mail.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "share")
	d := delivery.New(s, delivery.Options{
		Bindings: delivery.StaticBindings{"ffm/postfach": {Kind: "mail"}, "ffm/archiv": {Kind: "directory", Dir: dir}},
		Offices:  offices{"amt": {ID: "amt", Email: "jugendamt@stadt.example"}},
		Mail:     delivery.SMTP(m), Poll: 20 * time.Millisecond, Logger: quiet,
		Receipt: func(ctx context.Context, svc *engine.Service, sub *record.Submission) ([]byte, error) {
			return storetest.PDF(1500), nil
		},
	})
	run(t, d)
	waitFor(t, "both deliveries", 20*time.Second, func() bool {
		n := 0
		for _, dest := range []string{"postfach", "archiv"} {
			j, err := s.DeliveryJob(ctx, record.DeliveryJobID("ffm", sub.Ref, dest))
			if err == nil && j.Status == record.DeliveryDelivered {
				n++
			}
		}
		return n == 2
	})
	msgs := srv.Messages()
	if len(msgs) != 1 || msgs[0].To[0] != "jugendamt@stadt.example" {
		t.Fatalf("mails %+v", msgs)
	}
	body := string(msgs[0].Data)
	for _, want := range []string{"Einreichung " + sub.Ref, "nachweis.pdf", sub.Ref + ".pdf", "application/pdf"} {
		if !strings.Contains(body, want) {
			t.Errorf("mail lacks %q", want)
		}
	}
	// The directory: two files first, then the envelope naming them.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	id := record.DeliveryID(record.DeliveryJobID("ffm", sub.Ref, "archiv"))
	want := []string{id + "." + att.ID + ".pdf", id + ".json", id + ".receipt.pdf"}
	sort.Strings(want)
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("files %v, want %v (no temporary files left)", names, want)
	}
	b, err := os.ReadFile(filepath.Join(dir, id+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var env receiver.Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	pdf, err := os.ReadFile(filepath.Join(dir, id+"."+att.ID+".pdf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := env.CheckAttachment(att.ID, pdf); err != nil {
		t.Fatal(err)
	}
	if _, err := env.DataBytes(nil); err != nil {
		t.Fatal(err)
	}
}

// TestUnbound: a destination the tenant has not bound keeps its jobs
// pending without using attempts, and does not count as stuck.
func TestUnbound(t *testing.T) {
	s := openStore(t)
	ctx := tctx(t)
	sub := submit(t, s, 1, map[string]any{"n": int64(1)}, svcRef, nil, "", "nirgendwo")
	d := delivery.New(s, delivery.Options{Bindings: delivery.StaticBindings{}, Poll: 10 * time.Millisecond, Logger: quiet})
	run(t, d)
	time.Sleep(200 * time.Millisecond)
	j, err := s.DeliveryJob(ctx, record.DeliveryJobID("ffm", sub.Ref, "nirgendwo"))
	if err != nil || j.Status != record.DeliveryPending || j.Attempts != 0 {
		t.Fatalf("unbound job %+v %v", j, err)
	}
	st, err := d.Stats(ctx)
	if err != nil || st.Due != 0 {
		t.Fatalf("stats %+v %v", st, err)
	}
}
