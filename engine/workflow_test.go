package engine

import (
	"testing"
	"time"
)

func TestTransitionAllowed(t *testing.T) {
	svc, err := Load("../examples/kita-gebuehren")
	if err != nil {
		t.Fatal(err)
	}
	if svc.ProcessingDays != 30 {
		t.Fatalf("processingDays %d", svc.ProcessingDays)
	}
	approve, ok := svc.Workflow.Transition("bewilligen")
	if !ok || !approve.FourEyes || approve.Notify == nil {
		t.Fatalf("bewilligen %+v", approve)
	}
	req, _ := svc.Workflow.Transition("nachfordern")
	if !req.RequestDocuments || len(req.Documents) != 1 || req.Received != "fortsetzen" {
		t.Fatalf("nachfordern %+v", req)
	}
	if d := req.Deadline(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); !d.Equal(time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("deadline %v", d)
	}
	res := svc.Evaluate(kitaDoc(), Options{})
	if !res.Valid() {
		t.Fatal(res.Err())
	}
	facts := CaseFacts{Status: "entscheidungsreif"}
	for _, tc := range []struct {
		name string
		data map[string]any
		want bool
	}{
		{"fee covered", map[string]any{"coveredFee": int64(18000)}, true},
		{"nothing covered", map[string]any{"coveredFee": int64(0)}, false},
		{"not computed", map[string]any{}, false},
	} {
		got, err := svc.TransitionAllowed(approve, tc.data, facts)
		if err != nil || got != tc.want {
			t.Errorf("%s: %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	if ok, err := svc.TransitionAllowed(req, nil, facts); !ok || err != nil {
		t.Fatalf("no guard: %v %v", ok, err)
	}
}

func TestGuardSeesCase(t *testing.T) {
	src := brokenSpec(map[string]string{
		"workflow: spec.#StandardWorkflow": `workflow: {
		initial: "neu"
		states: {
			neu: title: {de: "Neu", en: "New"}
			fertig: {title: {de: "Fertig", en: "Done"}, final: true}
		}
		transitions: [{id: "eilig", title: {de: "Eilig", en: "Urgent"}, from: ["neu"], to: "fertig", roles: ["leitung"],
			guard: "case.priority >= 1 && case.daysSinceReceived > 3 && case.assignee != '' && case.status == 'neu' && case.office == 'amt' && income > 5"}]
	}`})
	svc, err := Load(writeSpec(t, src))
	if err != nil {
		t.Fatal(err)
	}
	tr, _ := svc.Workflow.Transition("eilig")
	today := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	base := CaseFacts{Status: "neu", Assignee: "u-1", Office: "amt", Priority: 1, Received: today.AddDate(0, 0, -4), Today: today}
	data := map[string]any{"income": int64(10)}
	for _, tc := range []struct {
		name string
		edit func(*CaseFacts, map[string]any)
		want bool
	}{
		{"all hold", func(*CaseFacts, map[string]any) {}, true},
		{"normal priority", func(c *CaseFacts, _ map[string]any) { c.Priority = 0 }, false},
		{"received 3 days ago", func(c *CaseFacts, _ map[string]any) { c.Received = today.AddDate(0, 0, -3) }, false},
		{"unassigned", func(c *CaseFacts, _ map[string]any) { c.Assignee = "" }, false},
		{"other office", func(c *CaseFacts, _ map[string]any) { c.Office = "b" }, false},
		{"low income", func(_ *CaseFacts, d map[string]any) { d["income"] = int64(1) }, false},
	} {
		c, d := base, map[string]any{"income": data["income"]}
		tc.edit(&c, d)
		got, err := svc.TransitionAllowed(tr, d, c)
		if err != nil || got != tc.want {
			t.Errorf("%s: %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}
