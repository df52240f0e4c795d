package api

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDevPreview: in dev mode compile problems replace every citizen page,
// pages load dev.js, and /_dev/wait returns when the specs change.
func TestDevPreview(t *testing.T) {
	var (
		mu       sync.Mutex
		problems error
		changed  = make(chan struct{})
	)
	state := func() (error, <-chan struct{}) {
		mu.Lock()
		defer mu.Unlock()
		return problems, changed
	}
	ts := newTestServer(t, withConfig(func(c *Config) { c.Dev, c.DevState = true, state }))
	b := newBrowser(t, ts.URL(t))
	b.get("/"+testTenant+"/kita-gebuehren/").must(t, 200, "", "/static/dev.js")

	mu.Lock()
	problems = errors.New("examples/kita-gebuehren/service.cue:12:3: data.incme: no field \"incme\" in the data model\nexamples/kita-gebuehren/service.cue:40:1: second problem")
	mu.Unlock()
	p := b.get("/" + testTenant + "/kita-gebuehren/")
	p.must(t, 500, "", "service.cue:12:3", "second problem", "/static/dev.js")

	done := make(chan page, 1)
	go func() { done <- b.get("/_dev/wait") }()
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	close(changed)
	changed, problems = make(chan struct{}), nil
	mu.Unlock()
	select {
	case w := <-done:
		if w.status != 200 {
			t.Fatalf("/_dev/wait: %d", w.status)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("/_dev/wait did not return on a change")
	}
	b.get("/"+testTenant+"/kita-gebuehren/").must(t, 200, "", "Antrag starten")

	// Without dev mode there is no wait endpoint and no script.
	plain := newTestServer(t)
	pb := newBrowser(t, plain.URL(t))
	pb.get("/_dev/wait").must(t, 404, "")
	if strings.Contains(pb.get("/"+testTenant+"/kita-gebuehren/").body, "dev.js") {
		t.Fatal("dev.js outside dev mode")
	}
}
