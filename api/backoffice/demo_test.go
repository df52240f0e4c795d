package backoffice_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"

	"github.com/amtsform/amtsform/api/apitest"
	bo "github.com/amtsform/amtsform/api/backoffice"
	"github.com/amtsform/amtsform/api/httpx"
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/directory"
	"github.com/amtsform/amtsform/engine/record"
	"github.com/amtsform/amtsform/ui"
)

// TestDemoServer serves the back office with the in-memory fakes and
// seeded demo cases on $BACKOFFICE_DEMO_ADDR until SIGTERM or SIGINT;
// without the variable it is skipped. browser/backoffice.mjs starts it
// (from the test binary: go test -c ./api/backoffice) until the lead
// wires the real server:
//
//	BACKOFFICE_DEMO_ADDR=127.0.0.1:8090 go test ./api/backoffice -run '^TestDemoServer$' -timeout 0
//
// Users (password = name + "-pw"): anna and bernd (caseworkers of the
// Main-Taunus youth office), dirk (caseworker of the Hofheim office),
// clara (auditor), ida (admin of Musterstadt) and kai (admin of
// Kelkheim) for the catalogue; the OIDC button signs in bernd.
func TestDemoServer(t *testing.T) {
	addr := os.Getenv("BACKOFFICE_DEMO_ADDR")
	if addr == "" {
		t.Skip("set BACKOFFICE_DEMO_ADDR to serve the demo back office")
	}
	kita := apitest.Example(t, "kita-gebuehren")
	w := newWorld(time.Now, []*engine.Service{kita})
	seed(t, w, kita, time.Now().Truncate(time.Minute))
	seedMore(w, kita, time.Now().Truncate(time.Minute))
	w.oidcUser = "bernd"
	// the catalogue: ida administers Musterstadt (a module with newer
	// versions in the registry), kai Kelkheim (nothing installed, no
	// registry)
	w.addUser(&bo.User{ID: "ida", Tenant: "musterstadt", Name: "Ida Imhof", Roles: []string{"admin"}}, "ida-pw")
	w.addUser(&bo.User{ID: "kai", Tenant: "kelkheim", Name: "Kai Keller", Roles: []string{"admin"}}, "kai-pw")
	w.catalogue.noRegistry = map[string]bool{"kelkheim": true}
	d := deps(w)
	d.Now = time.Now
	d.LoginRate = 1000
	if inst, err := engine.LoadInstallation(filepath.Join(apitest.ExamplesDir(), "installation")); err == nil {
		d.Directory = directory.New(inst)
	} else {
		t.Logf("no directory: %v", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	d.Logger = log
	tmpl, err := ui.Templates()
	if err != nil {
		t.Fatal(err)
	}
	// as api.New assembles the server
	app := fiber.New(fiber.Config{Immutable: true, DisableStartupMessage: true, DisablePreParseMultipartForm: true,
		ErrorHandler: httpx.ErrorHandler(log, httpx.TemplatePage(tmpl, "error.html"))})
	app.Use(httpx.RequestContext(15 * time.Second))
	app.Use(httpx.SecurityHeaders(false))
	app.Use("/static", filesystem.New(filesystem.Config{Root: http.FS(ui.Static())}))
	app.Get("/", func(c *fiber.Ctx) error { return c.Redirect("/backoffice/", fiber.StatusFound) })
	if err := bo.Register(app, d); err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = app.ShutdownWithTimeout(5 * time.Second)
	}()
	fmt.Fprintf(os.Stderr, "back office demo on http://%s/backoffice/\n", addr)
	if err := app.Listen(addr); err != nil {
		t.Fatal(err)
	}
}

// seedMore adds cases enough for a second inbox page and every state.
func seedMore(w *world, kita *engine.Service, now time.Time) {
	ref := record.ServiceRef{ID: kita.ID, Version: kita.Version, Hash: kita.Hash}
	res := kita.Evaluate(apitest.KitaData(), engine.Options{Today: now})
	// the initial state first: KITA-2026-000100 is a fresh, unassigned case
	var states []string
	for id := range kita.Workflow.States {
		if id != kita.Workflow.Initial {
			states = append(states, id)
		}
	}
	slices.Sort(states)
	states = append([]string{kita.Workflow.Initial}, states...)
	users := []string{"", "anna", "bernd", ""}
	for i := 0; i < 28; i++ {
		s := &bo.Submission{Ref: fmt.Sprintf("KITA-2026-%06d", 100+i), Tenant: "musterstadt", Service: ref, Data: res.Data, Computed: res.Computed,
			Office: officeA, Status: states[i%len(states)], Assignee: users[i%len(users)], Priority: i % 3,
			Created: now.Add(-time.Duration(i*17+5) * time.Hour)}
		if i%4 == 1 {
			s.Due = now.Add(time.Duration(i-10) * 24 * time.Hour)
		}
		if i%6 == 2 {
			s.FollowUp = now.Add(time.Duration(i) * 24 * time.Hour)
		}
		w.addCase(s, nil)
	}
}
