package delivery_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/delivery"
	"github.com/amtsform/amtsform/engine/record"
)

// TestInternalValueNotDelivered: a computed value the spec marks internal
// (rules.internal) is stored with the submission but is not in the
// envelope's data, which validates against the published schema (where
// it is not either) with an independent validator.
func TestInternalValueNotDelivered(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"service.cue", "tests.cue"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "examples", "kita-gebuehren", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	extra := `package kita

service: data: totalFee?: int
service: ui: totalFee: label: {de: "Summe der Beiträge", en: "Sum of the fees"}
service: rules: compute: totalFee: "sum(children, .monthlyFee)"
service: rules: internal: ["totalFee"]
`
	if err := os.WriteFile(filepath.Join(dir, "internal.cue"), []byte(extra), 0o644); err != nil {
		t.Fatal(err)
	}
	svc, err := engine.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	for _, tc := range svc.Tests {
		if tc.Valid {
			doc = tc.Input
			break
		}
	}
	res := svc.Evaluate(doc, engine.Options{Today: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)})
	if !res.Valid() {
		t.Fatal(res.Err())
	}
	if _, ok := res.Data["totalFee"]; !ok {
		t.Fatal("the internal value is not computed")
	}
	s := openStore(t)
	ref := record.ServiceRef{ID: svc.ID, Version: svc.Version, Hash: svc.Hash}
	submit(t, s, 1, res.Data, ref, nil, "", "fachverfahren")
	var mu sync.Mutex
	var got *delivery.Envelope
	d := delivery.New(s, delivery.Options{
		Bindings: delivery.StaticBindings{"ffm/fachverfahren": {Kind: "webhook", URL: "https://fv.example"}},
		Services: pinned{svc}, Poll: 20 * time.Millisecond, Logger: quiet,
		Senders: map[string]delivery.Sender{"webhook": delivery.SenderFunc(func(ctx context.Context, a *delivery.Attempt) error {
			env, err := a.Envelope(ctx)
			if err == nil {
				mu.Lock()
				got = env
				mu.Unlock()
			}
			return err
		})},
	})
	run(t, d)
	waitFor(t, "delivery", 20*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return got != nil })
	mu.Lock()
	defer mu.Unlock()
	var data map[string]any
	if err := json.Unmarshal(got.Data, &data); err != nil {
		t.Fatal(err)
	}
	if _, ok := data["totalFee"]; ok {
		t.Errorf("the internal value is delivered: %s", got.Data)
	}
	if _, ok := data["coveredFee"]; !ok {
		t.Errorf("a delivered computed value is missing: %s", got.Data)
	}
	validateData(t, svc, got.Data)
	if _, ok := svc.JSONSchema()["properties"].(map[string]any)["totalFee"]; ok {
		t.Error("the schema names the internal value")
	}
}
