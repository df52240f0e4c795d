// Package catalog holds the services each tenant offers, and every
// version a server has ever offered. A tenant's current services are
// looked up by id; the version a draft or submission was made with is
// looked up by its content hash. With a Versions store, every version
// offered is persisted as its source files, so that after a restart the
// drafts and submissions pinned to it are served, validated and receipted
// with exactly that version.
package catalog

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/record"
)

// ErrUnavailable reports a pinned version this server cannot serve: it
// was never offered here, or its stored sources no longer compile.
var ErrUnavailable = errors.New("service version unavailable")

// Versions persists the service versions a server offered.
type Versions interface {
	// PutVersion stores v unless a version with its hash is stored
	// already; then it does nothing and returns nil.
	PutVersion(ctx context.Context, v *record.ServiceVersion) error
	// ServiceVersions returns every stored version.
	ServiceVersions(ctx context.Context) ([]*record.ServiceVersion, error)
}

// Catalog is safe for concurrent use. Offer swaps a tenant's whole set at
// once, as the designer preview does on every change.
type Catalog struct {
	versions Versions // nil: versions live in memory only
	now      func() time.Time

	mu      sync.RWMutex
	current map[string]map[string]*engine.Service // tenant → id → service
	byHash  map[string]*engine.Service
	stored  map[string]bool // hashes known to be persisted
}

// New returns an empty catalog. versions may be nil; then old versions
// are kept for the life of the process only.
func New(versions Versions) *Catalog {
	return &Catalog{
		versions: versions,
		now:      time.Now,
		current:  map[string]map[string]*engine.Service{},
		byHash:   map[string]*engine.Service{},
		stored:   map[string]bool{},
	}
}

// Restore compiles every stored version so that pinned drafts and
// submissions can be served. A version that no longer compiles is left
// out and reported in the returned error (one entry per version, joined);
// the others are served.
func (c *Catalog) Restore(ctx context.Context) (restored int, err error) {
	if c.versions == nil {
		return 0, nil
	}
	vs, err := c.versions.ServiceVersions(ctx)
	if err != nil {
		return 0, fmt.Errorf("catalog: stored versions: %w", err)
	}
	var errs []error
	for _, v := range vs {
		s, err := compileStored(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("service %s version %s (hash %.12s, offered %s) cannot be compiled by this binary: %w",
				v.ServiceID, v.Version, v.Hash, v.Offered.Format(time.DateOnly), err))
			c.mu.Lock()
			c.stored[v.Hash] = true
			c.mu.Unlock()
			continue
		}
		c.mu.Lock()
		if _, ok := c.byHash[v.Hash]; !ok {
			c.byHash[v.Hash] = s
		}
		c.stored[v.Hash] = true
		c.mu.Unlock()
		restored++
	}
	return restored, errors.Join(errs...)
}

// compileStored compiles a stored version from its files (LoadStored).
func compileStored(v *record.ServiceVersion) (*engine.Service, error) {
	src, err := LoadStored(v)
	if err != nil {
		return nil, err
	}
	return engine.Compile(src)
}

// LoadStored loads a stored version from its files. The source carries
// the stored hash: the version is identified by what it was offered as,
// even if this binary's compiler version differs.
func LoadStored(v *record.ServiceVersion) (*engine.Source, error) {
	files := make([]engine.SourceFile, len(v.Files))
	for i, f := range v.Files {
		files[i] = engine.SourceFile{Path: f.Path, Data: f.Data}
	}
	src, err := engine.LoadFiles(files)
	if err != nil {
		return nil, err
	}
	src.Hash = v.Hash
	return src, nil
}

// Offer makes svcs the current services of tenant, replacing its earlier
// set. Versions replaced stay reachable by hash. Each version not stored
// yet is persisted before Offer returns; on a storage error the set is
// not changed.
func (c *Catalog) Offer(ctx context.Context, tenant string, svcs []*engine.Service) error {
	set := make(map[string]*engine.Service, len(svcs))
	for _, s := range svcs {
		if _, dup := set[s.ID]; dup {
			return fmt.Errorf("catalog: tenant %s offers service %q twice", tenant, s.ID)
		}
		set[s.ID] = s
	}
	if c.versions != nil {
		for _, s := range svcs {
			c.mu.RLock()
			known := c.stored[s.Hash]
			c.mu.RUnlock()
			if known {
				continue
			}
			if err := c.versions.PutVersion(ctx, versionOf(s, c.now())); err != nil {
				return fmt.Errorf("catalog: store version of %s: %w", s.ID, err)
			}
			c.mu.Lock()
			c.stored[s.Hash] = true
			c.mu.Unlock()
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.current[tenant] = set
	for _, s := range svcs {
		if _, ok := c.byHash[s.Hash]; !ok {
			c.byHash[s.Hash] = s
		}
	}
	return nil
}

func versionOf(s *engine.Service, now time.Time) *record.ServiceVersion {
	v := &record.ServiceVersion{Hash: s.Hash, ServiceID: s.ID, Version: s.Version, Compiler: engine.CompilerVersion, Offered: now.UTC()}
	for _, f := range s.Files {
		v.Files = append(v.Files, record.SourceFile{Path: f.Path, Data: f.Data})
	}
	return v
}

// Get returns a tenant's current version of a service.
func (c *Catalog) Get(tenant, id string) (*engine.Service, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if s, ok := c.current[tenant][id]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("service %q: %w", id, record.ErrNotFound)
}

// Pinned returns exactly the version a draft or submission was made
// with. It never falls back to another version: a version this server
// cannot serve yields an error wrapping ErrUnavailable.
func (c *Catalog) Pinned(ref record.ServiceRef) (*engine.Service, error) {
	c.mu.RLock()
	s, ok := c.byHash[ref.Hash]
	c.mu.RUnlock()
	if ok && s.ID == ref.ID {
		return s, nil
	}
	return nil, fmt.Errorf("service %q version %s (hash %.12s): %w", ref.ID, ref.Version, ref.Hash, ErrUnavailable)
}

// List returns a tenant's current services, ordered by id.
func (c *Catalog) List(tenant string) []*engine.Service {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]*engine.Service, 0, len(c.current[tenant]))
	for _, s := range c.current[tenant] {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Tenants returns the tenants that have a set of services, ordered.
func (c *Catalog) Tenants() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]string, 0, len(c.current))
	for t := range c.current {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Retention returns how long submissions of a service are kept after
// their last change: the longest retention any tenant's current version
// declares, so that no tenant's submissions go early. ok is false when no
// tenant offers the service or a version keeps them forever.
func (c *Catalog) Retention(serviceID string) (d time.Duration, ok bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, set := range c.current {
		s, has := set[serviceID]
		if !has {
			continue
		}
		if s.RetentionDays <= 0 {
			return 0, false
		}
		if x := time.Duration(s.RetentionDays) * 24 * time.Hour; x > d {
			d = x
		}
		ok = true
	}
	return d, ok
}
