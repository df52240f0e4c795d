package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/amtsform/amtsform/engine/mongostore"
	"github.com/amtsform/amtsform/engine/mongostore/embedded"
	"github.com/amtsform/amtsform/engine/record"
)

// TestDeliveriesScript runs testdata/deliveries/*.txtar with a command
// that seeds a data directory with delivery jobs.
func TestDeliveriesScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:  "testdata/deliveries",
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){"seeddeliveries": cmdSeedDeliveries},
	})
}

// cmdSeedDeliveries DIR stores two submissions with a webhook job each in
// the embedded store at DIR; the second job is dead-lettered after 12
// attempts.
func cmdSeedDeliveries(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: seeddeliveries DIR")
	}
	ctx := context.Background()
	srv, err := embedded.Start(ts.MkAbs(args[0]), nil)
	ts.Check(err)
	defer srv.Stop()
	s, err := mongostore.Connect(ctx, srv.URI(), mongostore.Options{ExclusiveDrafts: true})
	ts.Check(err)
	defer s.Close(ctx)
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for i := 1; i <= 2; i++ {
		_, _, err := s.Submit(ctx, &record.SubmitRequest{Tenant: "musterstadt", Prefix: "KITA", Service: record.ServiceRef{ID: "kita", Version: "1.0.0", Hash: "h"},
			Data: map[string]any{"n": int64(i)}, At: at.Add(time.Duration(i) * time.Minute), Jobs: []record.DeliveryJob{{Destination: "fachverfahren", Kind: "webhook"}}})
		ts.Check(err)
	}
	id := record.DeliveryJobID("musterstadt", "KITA-2026-000002", "fachverfahren")
	j, err := s.DeliveryJob(ctx, id)
	ts.Check(err)
	for n := 1; n <= 12; n++ {
		ts.Check(s.ClaimDelivery(ctx, &record.DeliveryClaim{Job: id, N: n, Holder: "test", Started: at, Until: at}))
		ts.Check(s.EndDeliveryClaim(ctx, &record.DeliveryClaim{Job: id, N: n, Ended: at, Outcome: "failed", Error: fmt.Sprintf("receiver answered %d", 500+n%2)}))
	}
	j.Attempts, j.Status, j.LastError = 12, record.DeliveryDead, "envelope: receiver answered 500"
	ts.Check(s.SaveDeliveryJob(ctx, j, 0))
}
