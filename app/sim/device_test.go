package sim

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// messages draws n messages from device i of cfg, acknowledging each.
func messages(t *testing.T, cfg Config, i, n int) []Message {
	t.Helper()
	d, err := NewDevice(cfg, i)
	require.NoError(t, err)
	out := make([]Message, n)
	for k := range out {
		out[k], err = d.Next()
		require.NoError(t, err)
		d.Ack(out[k])
	}
	return out
}

func TestDeviceID(t *testing.T) {
	tests := []struct {
		prefix string
		i, n   int
		want   string
	}{
		{"sim-", 1, 3, "sim-001"},
		{"sim-", 42, 999, "sim-042"},
		{"sim-", 7, 1000, "sim-0007"},
		{"lab", 12345, 12345, "lab12345"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, DeviceID(tt.prefix, tt.i, tt.n))
		})
	}
}

func TestDeviceSeed(t *testing.T) {
	cfg := Config{Devices: 2, Rate: 1, Invalid: 0.3, Repeat: 0.3, Light: true, Seed: 7}
	a := messages(t, cfg, 1, 200)
	assert.Equal(t, a, messages(t, cfg, 1, 200), "same seed, same device: same messages")
	assert.NotEqual(t, a, messages(t, cfg, 2, 200), "another device walks its own way")
	cfg.Seed = 8
	assert.NotEqual(t, a, messages(t, cfg, 1, 200), "another seed, other messages")
}

func TestDeviceWalkStaysPlausible(t *testing.T) {
	for _, shape := range []Shape{ShapeBME280, ShapePi} {
		t.Run(string(shape), func(t *testing.T) {
			cfg := Config{Devices: 1, Rate: 1, Shape: shape, Seed: 1}
			ids := map[string]bool{}
			for _, m := range messages(t, cfg, 1, 5000) {
				require.NoError(t, limitsError(m.Payload), string(m.Payload))
				var r struct {
					Temperature float64  `json:"temperature"`
					Humidity    float64  `json:"humidity"`
					Pressure    *float64 `json:"pressure"`
				}
				require.NoError(t, json.Unmarshal(m.Payload, &r))
				if shape == ShapePi {
					require.Nil(t, r.Pressure)
					require.True(t, r.Temperature >= 20 && r.Temperature <= 32, r.Temperature)
					require.True(t, r.Humidity >= 60 && r.Humidity <= 80, r.Humidity)
				} else {
					require.NotNil(t, r.Pressure)
					require.True(t, r.Temperature >= 5 && r.Temperature <= 40, r.Temperature)
					require.True(t, r.Humidity >= 40 && r.Humidity <= 80, r.Humidity)
					require.True(t, *r.Pressure >= 980 && *r.Pressure <= 1040, *r.Pressure)
				}
				require.False(t, ids[m.ID], "new message ids are unique")
				ids[m.ID] = true
			}
		})
	}
}

func TestDeviceInvalidShare(t *testing.T) {
	cfg := Config{Devices: 1, Rate: 1, Invalid: 0.25, Seed: 3}
	kinds := map[Fault]int{}
	for _, m := range messages(t, cfg, 1, 4000) {
		kinds[m.Fault]++
		assert.Equal(t, m.Valid(), limitsError(m.Payload) == nil, string(m.Payload))
	}
	invalid := 4000 - kinds[FaultNone]
	assert.InDelta(t, 1000, invalid, 120, "a quarter invalid")
	for _, f := range faults(ShapeBME280) {
		assert.Positive(t, kinds[f], "fault %s is drawn", f)
	}
}

func TestDeviceRepeat(t *testing.T) {
	d, err := NewDevice(Config{Devices: 1, Rate: 1, Repeat: 1, Seed: 5}, 1)
	require.NoError(t, err)

	first, err := d.Next()
	require.NoError(t, err)
	assert.False(t, first.Repeat, "nothing acknowledged yet: a new message")
	second, err := d.Next()
	require.NoError(t, err)
	assert.False(t, second.Repeat, "an unacknowledged message is not re-sent")

	d.Ack(first)
	for range 10 {
		m, err := d.Next()
		require.NoError(t, err)
		assert.True(t, m.Repeat)
		assert.Equal(t, first.ID, m.ID, "a repeat reuses the message id")
		assert.Equal(t, first.Payload, m.Payload, "and the very bytes")
		d.Ack(m)
	}
}

func TestDeviceRepeatShare(t *testing.T) {
	cfg := Config{Devices: 1, Rate: 1, Repeat: 0.2, Seed: 9}
	seen := map[string]bool{}
	repeats := 0
	for _, m := range messages(t, cfg, 1, 5000) {
		if m.Repeat {
			repeats++
			assert.True(t, seen[m.ID], "repeat of a message sent before")
		} else {
			assert.False(t, seen[m.ID], "new message with a new id")
		}
		seen[m.ID] = true
	}
	assert.InDelta(t, 1000, repeats, 120)
}
