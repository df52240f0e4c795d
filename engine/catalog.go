package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
)

// Catalog holds the compiled services a server offers. Services are looked
// up by id (the current version) or by content hash (the version a draft
// was started with). It is safe for concurrent use; Replace swaps the
// whole set at once, as the designer preview does on every change.
type Catalog struct {
	mu     sync.RWMutex
	byID   map[string]*Service
	byHash map[string]*Service
	order  []string
}

// NewCatalog returns a catalog of the given services.
func NewCatalog(svcs ...*Service) *Catalog {
	c := &Catalog{byHash: map[string]*Service{}}
	c.Replace(svcs)
	return c
}

// Replace makes svcs the current services. Versions replaced stay
// reachable by hash, so drafts started with them can still be finished.
func (c *Catalog) Replace(svcs []*Service) {
	byID := map[string]*Service{}
	var order []string
	for _, s := range svcs {
		if _, dup := byID[s.ID]; !dup {
			order = append(order, s.ID)
		}
		byID[s.ID] = s
	}
	sort.Strings(order)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byID, c.order = byID, order
	for _, s := range svcs {
		c.byHash[s.Hash] = s
	}
}

// Get returns the current version of a service.
func (c *Catalog) Get(id string) (*Service, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if s, ok := c.byID[id]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("service %q: %w", id, ErrNotFound)
}

// Pinned returns the service a draft or submission was made with: the
// version with that hash if the server still has it, else the current
// version of the same service.
func (c *Catalog) Pinned(ref ServiceRef) (*Service, error) {
	c.mu.RLock()
	s, ok := c.byHash[ref.Hash]
	c.mu.RUnlock()
	if ok {
		return s, nil
	}
	return c.Get(ref.ID)
}

// List returns the current services, ordered by id.
func (c *Catalog) List() []*Service {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]*Service, 0, len(c.order))
	for _, id := range c.order {
		out = append(out, c.byID[id])
	}
	return out
}

// SpecDirs expands the given paths into service directories: a path that
// holds .cue files is one service; otherwise each subdirectory that holds
// .cue files is.
func SpecDirs(paths []string) ([]string, error) {
	var dirs []string
	for _, p := range paths {
		if hasCUE(p) {
			dirs = append(dirs, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if sub := filepath.Join(p, e.Name()); e.IsDir() && hasCUE(sub) {
				dirs = append(dirs, sub)
			}
		}
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("no service definitions (.cue files) in %v", paths)
	}
	return dirs, nil
}

func hasCUE(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, "*.cue"))
	return len(m) > 0
}

// LoadServices loads and compiles every service under paths (see
// SpecDirs). It returns all services it could compile and the problems of
// the others joined in one error.
func LoadServices(paths []string) ([]*Service, error) {
	dirs, err := SpecDirs(paths)
	if err != nil {
		return nil, err
	}
	var svcs []*Service
	var errs []error
	for _, d := range dirs {
		s, err := Load(d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		svcs = append(svcs, s)
	}
	return svcs, errors.Join(errs...)
}
