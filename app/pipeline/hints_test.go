package pipeline

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/enviromon/enviromon/app/telemetry"
)

func TestPendingHints(t *testing.T) {
	var h pendingHints
	at := time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC)
	assert.Nil(t, h.get("device:a"), "no hint yet")
	h.put("device:a", []telemetry.MinuteBuckets{{Start: at}, {Start: at.Add(time.Minute)}})
	got := h.get("device:a")
	assert.Equal(t, []time.Time{at, at.Add(time.Minute)}, got)
	got[0] = time.Time{}
	assert.Equal(t, at, h.get("device:a")[0], "get hands out a copy")

	for i := range maxHints + 10 {
		h.put(fmt.Sprint("device:", i), nil)
	}
	assert.Len(t, h.minutes, maxHints, "bounded")
}
