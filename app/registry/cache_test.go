package registry

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestCacheIsBounded(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newCache(time.Minute, 3, func() time.Time { return now })
	for i := range 100 {
		c.put("ghost-"+strconv.Itoa(i), entry{}, c.epoch())
		assert.LessOrEqual(t, c.len(), 3)
	}
	_, ok := c.get("ghost-99")
	assert.True(t, ok, "the newest entry is kept")
}

func TestCacheExpires(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newCache(time.Second, 10, func() time.Time { return now })
	c.put("a", entry{found: true}, c.epoch())
	_, ok := c.get("a")
	assert.True(t, ok)
	now = now.Add(time.Second)
	_, ok = c.get("a")
	assert.False(t, ok)
	assert.Equal(t, 0, c.len(), "an expired entry is dropped when met")
}

func TestCacheSkipsAReadOlderThanAForget(t *testing.T) {
	c := newCache(time.Minute, 10, time.Now)
	epoch := c.epoch() // a lookup starts reading the store
	c.forget("a")      // meanwhile the device is deleted here
	c.put("a", entry{found: true}, epoch)
	_, ok := c.get("a")
	assert.False(t, ok, "what the read saw may be gone")
}
