package registry

import (
	"sync"
	"time"

	"github.com/enviromon/enviromon/app/iothub"
)

// cache keeps records read for authentication for a short TTL, so that a
// device reconnecting in a loop, or a fleet connecting at once, reads the
// store once per device per TTL. Unknown devices are cached too: a client
// guessing ids costs no more than one that knows them. It is bounded: when
// full, an arbitrary entry makes room, in constant time (Go's map order is
// random), which is as good a choice as any for entries this short-lived.
type cache struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu      sync.Mutex
	entries map[string]entry
	// forgets counts forget calls. A read that began before one may have
	// seen the record it removed, so its result is not cached.
	forgets uint64
}

// entry is a cached lookup: the record, or found false for none.
type entry struct {
	dev   iothub.Device
	found bool
	at    time.Time
}

func newCache(ttl time.Duration, max int, now func() time.Time) *cache {
	return &cache{ttl: ttl, max: max, now: now, entries: make(map[string]entry)}
}

// get returns id's entry while it is fresh.
func (c *cache) get(id string) (entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if ok && c.now().Sub(e.at) >= c.ttl {
		delete(c.entries, id)
		ok = false
	}
	return e, ok
}

// epoch is what put needs to know that no forget happened meanwhile; take
// it before reading the store.
func (c *cache) epoch() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.forgets
}

// put caches e for id, unless a forget happened since epoch.
func (c *cache) put(id string, e entry, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.forgets != epoch {
		return
	}
	if _, ok := c.entries[id]; !ok && len(c.entries) >= c.max {
		for other := range c.entries {
			delete(c.entries, other)
			break
		}
	}
	e.at = c.now()
	c.entries[id] = e
}

// forget drops id's entry after a change made through this process.
func (c *cache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forgets++
	delete(c.entries, id)
}

// len returns the number of entries, fresh or not.
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
