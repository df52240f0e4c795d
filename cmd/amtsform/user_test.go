package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/amtsform/amtsform/engine/staff"
)

// TestUserAddThenLogin checks that an account made by 'amtsform user add'
// signs in with its password, and no longer after 'user disable'.
func TestUserAddThenLogin(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	withStdin(t, "correct horse battery staple\n", func() {
		var out, errb bytes.Buffer
		if code := run([]string{"user", "add", "--data-dir", dir, "--tenant", "musterstadt", "--role", "caseworker",
			"--office", "jugendamt-main-taunus", "--password-stdin", "erika"}, &out, &errb); code != 0 {
			t.Fatalf("user add: exit %d: %s", code, errb.String())
		}
	})
	login := func() (*staff.Principal, error) {
		ctx := context.Background()
		s, closeFn, err := openStore(ctx, "", dir, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer closeFn()
		return staff.New(s, staff.Options{}).Login(ctx, "erika", "correct horse battery staple", "192.0.2.1")
	}
	p, err := login()
	if err != nil {
		t.Fatal(err)
	}
	if p.User.Tenant != "musterstadt" || !p.HasRole("caseworker") {
		t.Errorf("principal: %+v", p.User)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"user", "disable", "--data-dir", dir, "erika"}, &out, &errb); code != 0 {
		t.Fatalf("user disable: exit %d: %s", code, errb.String())
	}
	if _, err := login(); err != staff.ErrDisabled {
		t.Errorf("login after disable: %v, want ErrDisabled", err)
	}
}

func withStdin(t *testing.T, input string, f func()) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() { w.WriteString(input); w.Close() }()
	old := os.Stdin
	os.Stdin = r
	defer func() { os.Stdin = old; r.Close() }()
	f()
}
