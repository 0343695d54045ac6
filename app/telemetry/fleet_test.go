package telemetry

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestFleetAdd(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	var f Fleet
	for _, s := range []Summary{
		{DeviceID: "fresh", Count: 10, Rejected: 1, LastSeen: now.Add(-10 * time.Second)},
		{DeviceID: "at the limit", Count: 5, LastSeen: now.Add(-time.Minute)},
		{DeviceID: "stale", Count: 7, Rejected: 2, LastSeen: now.Add(-time.Minute - time.Millisecond)},
		{DeviceID: "never seen", Rejected: 3},
	} {
		f.Add(s, now, time.Minute)
	}
	assert.Equal(t, Fleet{Devices: 4, Online: 2, Offline: 2, Messages: 22, Rejected: 6, LastSeen: now.Add(-10 * time.Second)}, f)
}
