package catalog_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/catalog"
	"github.com/amtsform/amtsform/engine/record"
)

// memVersions is an in-memory catalog.Versions.
type memVersions struct {
	mu   sync.Mutex
	m    map[string]*record.ServiceVersion
	puts int
}

func (v *memVersions) PutVersion(ctx context.Context, sv *record.ServiceVersion) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m = map[string]*record.ServiceVersion{}
	}
	if _, ok := v.m[sv.Hash]; !ok {
		c := *sv
		v.m[sv.Hash] = &c
		v.puts++
	}
	return nil
}

func (v *memVersions) ServiceVersions(ctx context.Context) ([]*record.ServiceVersion, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []*record.ServiceVersion
	for _, sv := range v.m {
		out = append(out, sv)
	}
	return out, nil
}

func load(t *testing.T, dir string) *engine.Service {
	t.Helper()
	s, err := engine.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRestoreAndPin(t *testing.T) {
	ctx := context.Background()
	kita := load(t, "../../examples/kita-gebuehren")
	dogs := load(t, "../../examples/hundesteuer")
	store := &memVersions{}

	first := catalog.New(store)
	if err := first.Offer(ctx, "musterstadt", []*engine.Service{kita, dogs}); err != nil {
		t.Fatal(err)
	}
	if err := first.Offer(ctx, "kelkheim", []*engine.Service{dogs}); err != nil {
		t.Fatal(err)
	}
	if store.puts != 2 {
		t.Errorf("stored %d versions, want 2 (one per hash)", store.puts)
	}
	// A stored version whose sources no longer compile.
	broken := &record.ServiceVersion{Hash: strings.Repeat("f", 64), ServiceID: "alt", Version: "0.9.0",
		Files: []record.SourceFile{{Path: "cue.mod/module.cue", Data: []byte("module: \"x.example/a\"\nlanguage: version: \"v0.17.0\"\n")}, {Path: "s.cue", Data: []byte("package a\nservice: {id: 1")}}}
	if err := store.PutVersion(ctx, broken); err != nil {
		t.Fatal(err)
	}

	// A new process knows only what was stored.
	next := catalog.New(store)
	n, err := next.Restore(ctx)
	if n != 2 {
		t.Errorf("restored %d versions, want 2", n)
	}
	if err == nil || !strings.Contains(err.Error(), "alt") || !strings.Contains(err.Error(), "0.9.0") {
		t.Errorf("restore error %v, want one naming the broken version", err)
	}
	for _, s := range []*engine.Service{kita, dogs} {
		got, err := next.Pinned(record.ServiceRef{ID: s.ID, Version: s.Version, Hash: s.Hash})
		if err != nil {
			t.Fatalf("%s: %v", s.ID, err)
		}
		if got.Hash != s.Hash || got.Form.Title != s.Form.Title {
			t.Errorf("%s: restored %s, want %s", s.ID, got.Hash, s.Hash)
		}
	}
	// No fallback to another version: an unknown hash is unavailable,
	// even though the service id is offered.
	if err := next.Offer(ctx, "musterstadt", []*engine.Service{kita}); err != nil {
		t.Fatal(err)
	}
	if _, err := next.Pinned(record.ServiceRef{ID: "kita-gebuehren", Hash: strings.Repeat("0", 64)}); !errors.Is(err, catalog.ErrUnavailable) {
		t.Errorf("unknown hash: %v, want ErrUnavailable", err)
	}
	if _, err := next.Pinned(record.ServiceRef{ID: "alt", Hash: broken.Hash}); !errors.Is(err, catalog.ErrUnavailable) {
		t.Errorf("broken version: %v, want ErrUnavailable", err)
	}
	// The id must match the hash's service.
	if _, err := next.Pinned(record.ServiceRef{ID: "hundesteuer", Hash: kita.Hash}); !errors.Is(err, catalog.ErrUnavailable) {
		t.Errorf("hash of another service: %v", err)
	}
	// Per tenant: kelkheim was not offered anything in this process yet.
	if _, err := next.Get("kelkheim", "hundesteuer"); !errors.Is(err, record.ErrNotFound) {
		t.Errorf("kelkheim: %v", err)
	}
	if got := next.List("musterstadt"); len(got) != 1 || got[0].ID != "kita-gebuehren" {
		t.Errorf("musterstadt lists %v", got)
	}
}

func TestOfferRejectsDuplicateIDs(t *testing.T) {
	kita := load(t, "../../examples/kita-gebuehren")
	if err := catalog.New(nil).Offer(context.Background(), "t", []*engine.Service{kita, kita}); err == nil {
		t.Error("a tenant offering one id twice was accepted")
	}
}
