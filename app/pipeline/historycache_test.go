package pipeline

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/enviromon/enviromon/app/telemetry"
)

func TestHistoryCacheGivesOnlyWhatWasWrittenAsRead(t *testing.T) {
	var c historyCache
	r := &telemetry.HourRecord{}
	c.put("history:a:2026113007", []byte(`{"v":1}`), r)

	assert.Nil(t, c.take("history:a:2026113007", []byte(`{"v":2}`)), "another writer's bytes: decode them")
	assert.Nil(t, c.take("history:a:2026113007", []byte(`{"v":1}`)), "a mismatch forgets the entry")

	c.put("history:a:2026113007", []byte(`{"v":1}`), r)
	assert.Same(t, r, c.take("history:a:2026113007", []byte(`{"v":1}`)), "the bytes this processor wrote: the record as written")
	assert.Nil(t, c.take("history:a:2026113007", []byte(`{"v":1}`)), "taken: the caller owns it until it puts it back")
	assert.Nil(t, c.take("history:b:2026113007", nil))
}

func TestHistoryCacheIsBounded(t *testing.T) {
	var c historyCache
	for i := range maxCachedHours + 100 {
		c.put(string(rune(i)), nil, &telemetry.HourRecord{})
	}
	assert.Len(t, c.entries, maxCachedHours)
}
