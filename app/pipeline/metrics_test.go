package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRejectionsAreCountedByReason(t *testing.T) {
	tests := []struct {
		name      string
		m         Message
		want      Reason
		wantCount int64
	}{
		{"not JSON", Message{Payload: []byte(`{{{`), DeviceID: "d1"}, ReasonPayload, 1},
		{"truncated by the transport", Message{Payload: []byte(`{"deviceId":"d1"`), DeviceID: "d1", Truncated: true}, ReasonPayload, 1},
		{"no device id", Message{Payload: []byte(`{"temperature":20}`)}, ReasonDevice, 1},
		{"a device id IoT Hub refuses", Message{Payload: []byte(`{"deviceId":"a/b","temperature":20}`)}, ReasonDevice, 1},
		{"another device than the transport's", Message{Payload: []byte(`{"deviceId":"victim","temperature":20}`), DeviceID: "d1"}, ReasonIdentity, 1},
		{"a field of the wrong type", Message{Payload: []byte(`{"deviceId":"d1","temperature":"warm"}`)}, ReasonReading, 1},
		{"out of range", Message{Payload: []byte(`[{"deviceId":"d1","temperature":999},{"deviceId":"d2","humidity":-5}]`)}, ReasonRange, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := start(t, newMemStore(), Config{})
			res, err := p.Process(context.Background(), tt.m)
			require.NoError(t, err)
			require.Equal(t, int(tt.wantCount), res.Rejected, "%+v", res)
			s := p.Metrics().Snapshot()
			for r := range numReasons {
				want := int64(0)
				if r == tt.want {
					want = tt.wantCount
				}
				assert.Equal(t, want, s.RejectedBy[r], "reason %s", r)
			}
			assert.Equal(t, s.Rejected, s.RejectedBy[tt.want], "the reasons add up to the rejections")
		})
	}
}

func TestReasonNames(t *testing.T) {
	assert.Equal(t, "unknown", ReasonUnknown.String())
	assert.Equal(t, "range", ReasonRange.String())
	assert.Equal(t, "unknown", Reason(200).String())
}

func TestOnlineCountsDevicesSeenWithinTheWindow(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	p := start(t, newMemStore(), Config{OnlineAfter: time.Minute}, WithClock(func() time.Time { return clock() }))
	send := func(id string, enqueued time.Time) {
		t.Helper()
		_, err := p.Process(context.Background(), Message{Payload: []byte(`{"temperature":20}`), DeviceID: id, EnqueuedAt: enqueued})
		require.NoError(t, err)
	}
	send("a", now.Add(-10*time.Second))
	send("b", now.Add(-50*time.Second))
	send("c", now.Add(-2*time.Minute)) // a late delivery of an old message
	send("a", now.Add(-5*time.Second))
	assert.Equal(t, 2, p.Online(), "a and b; c was last seen two minutes ago")

	later := now.Add(30 * time.Second)
	clock = func() time.Time { return later }
	assert.Equal(t, 1, p.Online(), "b is now 80 s quiet")
	p.online.mu.Lock()
	assert.Len(t, p.online.seen, 1, "quiet devices are forgotten: memory follows the devices online")
	p.online.mu.Unlock()
}
