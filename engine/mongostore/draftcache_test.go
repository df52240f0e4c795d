package mongostore

import (
	"strconv"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestDraftCacheBoundedInBytes fills the cache with drafts of 1 KiB and
// of 100 KiB: it never holds more than its budget, keeps the recently
// used ones and never caches a draft beyond an eighth of the budget.
func TestDraftCacheBoundedInBytes(t *testing.T) {
	const budget = 1 << 20
	c := newDraftCache(budget)
	draft := func(n int) bson.Raw {
		raw, err := bson.Marshal(bson.D{{Key: "data", Value: strings.Repeat("x", n)}})
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	for i := 0; i < 5000; i++ {
		c.put("d"+strconv.Itoa(i), draft(1<<10))
		if i%7 == 0 {
			c.get("d0") // keep one draft in use
		}
		if c.bytes > budget {
			t.Fatalf("after %d drafts the cache holds %d bytes, budget %d", i+1, c.bytes, budget)
		}
	}
	if _, ok := c.get("d0"); !ok {
		t.Error("the draft in use was evicted")
	}
	if _, ok := c.get("d1"); ok {
		t.Error("an old draft is still cached")
	}
	c.put("big", draft(budget/4))
	if _, ok := c.get("big"); ok {
		t.Error("a draft beyond an eighth of the budget was cached")
	}
	// Replacing an entry does not count it twice.
	before := c.bytes
	c.put("d4999", draft(1<<10))
	if c.bytes != before {
		t.Errorf("replacing an entry changed the size from %d to %d", before, c.bytes)
	}
	c.drop("d4999")
	var sum int64
	for _, e := range c.m {
		ent := e.Value.(*cacheEntry)
		sum += int64(len(ent.raw) + len(ent.id))
	}
	if sum != c.bytes || len(c.m) != c.lru.Len() {
		t.Errorf("accounting: %d bytes counted, %d held; %d entries, %d in the list", c.bytes, sum, len(c.m), c.lru.Len())
	}
}
