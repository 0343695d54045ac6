package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder is an in-memory receiver: it keeps every payload it acknowledges
// and asks fail, when set, whether to refuse an attempt instead.
type recorder struct {
	mu       sync.Mutex
	attempts int
	got      map[string][][]byte
	fail     func(attempt int, payload []byte) error
}

var _ Sender = (*recorder)(nil)

func (r *recorder) Send(ctx context.Context, deviceID string, payload []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts++
	if r.fail != nil {
		if err := r.fail(r.attempts, payload); err != nil {
			return err
		}
	}
	if r.got == nil {
		r.got = map[string][][]byte{}
	}
	r.got[deviceID] = append(r.got[deviceID], payload)
	return nil
}

// received counts what a de-duplicating receiver makes of the payloads.
func received(t *testing.T, payloads [][]byte) Counts {
	t.Helper()
	seen := map[string]bool{}
	var c Counts
	for _, p := range payloads {
		var m struct{ MessageID any }
		require.NoError(t, json.Unmarshal(p, &m))
		id := fmt.Sprint(m.MessageID)
		switch {
		case seen[id]:
			c.Repeats++
		case limitsError(p) == nil:
			c.Valid++
		default:
			c.Invalid++
		}
		seen[id] = true
	}
	return c
}

func TestRunCountsExactly(t *testing.T) {
	for _, shape := range []Shape{ShapeBME280, ShapePi} {
		t.Run(string(shape), func(t *testing.T) {
			cfg := Config{Devices: 3, Rate: 500, Count: 60, Invalid: 0.3, Repeat: 0.2, Shape: shape, Seed: 1}
			var rec recorder
			stats, err := Run(t.Context(), cfg, &rec)
			require.NoError(t, err)

			require.Len(t, stats.Devices, 3)
			var total Counts
			for _, id := range []string{"sim-001", "sim-002", "sim-003"} {
				c := stats.Devices[id]
				assert.Equal(t, 60, c.Sends(), id)
				assert.Equal(t, received(t, rec.got[id]), c, id)
				assert.Positive(t, c.Invalid, id)
				assert.Positive(t, c.Repeats, id)
				total.add(c)
			}
			assert.Equal(t, total, stats.Total)
			assert.Equal(t, 180, rec.attempts)
		})
	}
}

func TestRunSameSeedSamePayloads(t *testing.T) {
	cfg := Config{Devices: 2, Rate: 1000, Count: 30, Invalid: 0.2, Repeat: 0.2, Seed: 11}
	var a, b recorder
	_, err := Run(t.Context(), cfg, &a)
	require.NoError(t, err)
	_, err = Run(t.Context(), cfg, &b)
	require.NoError(t, err)
	assert.Equal(t, a.got, b.got)
}

func TestRunRetries(t *testing.T) {
	transient := errors.New("broker busy")
	tests := []struct {
		name     string
		attempts int
		fail     func(int, []byte) error
		want     func(Counts) Counts // from the counts of a clean run
		calls    int
	}{
		{"every other attempt fails", 2,
			func(n int, _ []byte) error {
				if n%2 == 1 {
					return transient
				}
				return nil
			},
			func(c Counts) Counts { return c }, 20},
		{"always fails", 3,
			func(int, []byte) error { return transient },
			func(c Counts) Counts { return Counts{Failures: 10} }, 30},
		{"rejections are not retried", 3,
			func(_ int, p []byte) error {
				if limitsError(p) != nil {
					return fmt.Errorf("status 400: %w", ErrRejected)
				}
				return nil
			},
			func(c Counts) Counts { return Counts{Valid: c.Valid, Rejected: c.Invalid} }, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Devices: 1, Rate: 1000, Count: 10, Invalid: 0.4, Seed: 2, Backoff: time.Millisecond}
			var clean recorder
			want, err := Run(t.Context(), cfg, &clean)
			require.NoError(t, err)

			cfg.Attempts = tt.attempts
			rec := recorder{fail: tt.fail}
			got, err := Run(t.Context(), cfg, &rec)
			require.NoError(t, err)
			assert.Equal(t, tt.want(want.Total), got.Total)
			assert.Equal(t, tt.calls, rec.attempts)
		})
	}
}

func TestRunDuration(t *testing.T) {
	cfg := Config{Devices: 4, Rate: 20, Duration: 500 * time.Millisecond}
	var rec recorder
	start := time.Now()
	stats, err := Run(t.Context(), cfg, &rec)
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 2*time.Second)
	for id, c := range stats.Devices {
		// 20/s for half a second: about 10, the first at once.
		assert.InDelta(t, 10, c.Valid, 4, id)
	}
	assert.InDelta(t, 80, stats.Rate(), 30)
}

func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	blocked := make(chan struct{})
	s := SenderFunc(func(ctx context.Context, _ string, _ []byte) error {
		close(blocked)
		<-ctx.Done()
		return fmt.Errorf("send: %w", ctx.Err())
	})
	go func() {
		<-blocked
		cancel()
	}()
	stats, err := Run(ctx, Config{Devices: 1, Rate: 1}, s)
	require.NoError(t, err, "a cancelled run is not an error")
	assert.Equal(t, Counts{Cancelled: 1}, stats.Total)
}

func TestRunProgress(t *testing.T) {
	var mu sync.Mutex
	var seen []Stats
	cfg := Config{Devices: 1, Rate: 100, Duration: 300 * time.Millisecond, ProgressEvery: 50 * time.Millisecond,
		Progress: func(s Stats) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, s)
		}}
	final, err := Run(t.Context(), cfg, &recorder{})
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, seen)
	last := seen[len(seen)-1]
	assert.Positive(t, last.Total.Valid)
	assert.LessOrEqual(t, last.Total.Valid, final.Total.Valid)
}

func TestRunNamedDevices(t *testing.T) {
	var r recorder
	cfg := Config{Devices: 2, IDs: []string{"kitchen", "Hall(2)"}, Rate: 200, Count: 5, Seed: 1}
	stats, err := Run(t.Context(), cfg, &r)
	require.NoError(t, err)
	require.Len(t, r.got, 2)
	for _, id := range cfg.IDs {
		require.Len(t, r.got[id], 5, "sent as %s", id)
		var body struct{ DeviceID string }
		require.NoError(t, json.Unmarshal(r.got[id][0], &body))
		assert.Equal(t, id, body.DeviceID, "the payload names the device it is sent as")
		assert.Equal(t, 5, stats.Devices[id].Sends())
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	ok := Config{Devices: 1, Rate: 1}
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"no devices", func(c *Config) { c.Devices = 0 }},
		{"zero rate", func(c *Config) { c.Rate = 0 }},
		{"negative count", func(c *Config) { c.Count = -1 }},
		{"negative duration", func(c *Config) { c.Duration = -time.Second }},
		{"invalid share above 1", func(c *Config) { c.Invalid = 1.5 }},
		{"negative repeat share", func(c *Config) { c.Repeat = -0.1 }},
		{"unknown shape", func(c *Config) { c.Shape = "xml" }},
		{"negative attempts", func(c *Config) { c.Attempts = -1 }},
		{"fewer ids than devices", func(c *Config) { c.Devices, c.IDs = 2, []string{"a"} }},
		{"repeated id", func(c *Config) { c.Devices, c.IDs = 2, []string{"a", "a"} }},
		{"empty id", func(c *Config) { c.IDs = []string{""} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.edit(&cfg)
			_, err := Run(t.Context(), cfg, &recorder{})
			assert.ErrorIs(t, err, ErrConfig)
		})
	}
	require.NoError(t, ok.Validate())
}
