package mongostore

import (
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// draftCache keeps the stored form of recently used drafts in memory, so
// that showing a form page needs no database round trip. It is only
// correct when this Store is the database's only writer of drafts — the
// embedded store, which locks its data directory — and is enabled by
// Options.ExclusiveDrafts. Entries are raw BSON, decoded on every read,
// so callers never share (and can never mutate) a cached value.
type draftCache struct {
	mu  sync.Mutex
	m   map[string]bson.Raw
	max int
}

func newDraftCache(max int) *draftCache {
	return &draftCache{m: map[string]bson.Raw{}, max: max}
}

func (c *draftCache) get(id string) (bson.Raw, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	raw, ok := c.m[id]
	return raw, ok
}

func (c *draftCache) put(id string, raw bson.Raw) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[id]; !ok && len(c.m) >= c.max {
		for k := range c.m { // evict an arbitrary entry
			delete(c.m, k)
			break
		}
	}
	c.m[id] = raw
}

func (c *draftCache) drop(id string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}
