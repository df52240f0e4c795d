package mongostore

import (
	"container/list"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// draftCache keeps the stored form of recently used drafts in memory, so
// that showing a form page needs no database round trip. It is only
// correct when this Store is the database's only writer of drafts — the
// embedded store, which locks its data directory — and is enabled by
// Options.ExclusiveDrafts. Entries are raw BSON, decoded on every read,
// so callers never share (and can never mutate) a cached value.
//
// The cache is bounded in bytes, not only in entries: the least recently
// used drafts leave first, and a draft larger than an eighth of the
// budget is never cached (it is read from the store).
type draftCache struct {
	mu       sync.Mutex
	m        map[string]*list.Element
	lru      list.List // front: most recently used; values are *cacheEntry
	bytes    int64
	maxBytes int64
}

type cacheEntry struct {
	id  string
	raw bson.Raw
}

// defaultDraftCacheBytes bounds the draft cache of the embedded store.
const defaultDraftCacheBytes = 64 << 20

func newDraftCache(maxBytes int64) *draftCache {
	return &draftCache{m: map[string]*list.Element{}, maxBytes: maxBytes}
}

func (c *draftCache) get(id string) (bson.Raw, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	if !ok {
		return nil, false
	}
	c.lru.MoveToFront(e)
	return e.Value.(*cacheEntry).raw, true
}

func (c *draftCache) put(id string, raw bson.Raw) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.remove(id)
	size := int64(len(raw) + len(id))
	if size > c.maxBytes/8 {
		return
	}
	c.m[id] = c.lru.PushFront(&cacheEntry{id: id, raw: raw})
	c.bytes += size
	for c.bytes > c.maxBytes {
		c.remove(c.lru.Back().Value.(*cacheEntry).id)
	}
}

func (c *draftCache) drop(id string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.remove(id)
}

// remove deletes an entry; the caller holds mu.
func (c *draftCache) remove(id string) {
	e, ok := c.m[id]
	if !ok {
		return
	}
	ent := e.Value.(*cacheEntry)
	c.bytes -= int64(len(ent.raw) + len(ent.id))
	c.lru.Remove(e)
	delete(c.m, id)
}
