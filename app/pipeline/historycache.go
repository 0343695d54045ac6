package pipeline

import (
	"bytes"
	"slices"
	"sync"
	"time"

	"github.com/enviromon/enviromon/app/telemetry"
)

// historyCache keeps the history records this processor wrote last,
// decoded, each with the exact bytes it was written as. A commit that reads
// those bytes back (no one wrote the record since) takes the record instead
// of decoding it again; decoding was the larger part of what history costs
// a commit. Any other bytes (another replica's write, a write that did not
// commit) are decoded from the store as before, so the cache can be stale
// but never wrong.
type historyCache struct {
	mu      sync.Mutex
	entries map[string]cachedHour
}

type cachedHour struct {
	written []byte
	record  *telemetry.HourRecord
}

// maxCachedHours bounds the cache: about one record per active device.
const maxCachedHours = 20000

// take returns the record written as cur under key, and forgets it: the
// caller owns it until it puts it back. It returns nil when the cache
// holds no record written as cur.
func (c *historyCache) take(key string, cur []byte) *telemetry.HourRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return nil
	}
	delete(c.entries, key)
	if !bytes.Equal(e.written, cur) {
		return nil
	}
	return e.record
}

// put remembers r as written under key as written.
func (c *historyCache) put(key string, written []byte, r *telemetry.HourRecord) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[string]cachedHour)
	}
	if _, ok := c.entries[key]; !ok && len(c.entries) >= maxCachedHours {
		for k := range c.entries { // any one: the cache is an optimisation
			delete(c.entries, k)
			break
		}
	}
	c.entries[key] = cachedHour{written: written, record: r}
}

// pendingHints remembers, per device record, the pending minutes this
// processor last wrote into it, so that a commit can predict which hour
// records it will write (historyOf). A wrong or missing hint costs a
// minute an extra commit in the device record, never a reading.
type pendingHints struct {
	mu      sync.Mutex
	minutes map[string][]time.Time
}

// get returns a copy of the starts of dk's pending minutes as last written.
func (p *pendingHints) get(dk string) []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.minutes[dk])
}

// put remembers pending as dk's.
func (p *pendingHints) put(dk string, pending []telemetry.MinuteBuckets) {
	starts := make([]time.Time, len(pending))
	for i, m := range pending {
		starts[i] = m.Start
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.minutes == nil {
		p.minutes = make(map[string][]time.Time)
	}
	if _, ok := p.minutes[dk]; !ok && len(p.minutes) >= maxCachedHours {
		for k := range p.minutes {
			delete(p.minutes, k)
			break
		}
	}
	p.minutes[dk] = starts
}
