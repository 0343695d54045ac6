//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/enviromon/enviromon/app/sim"
)

// TestBurst publishes 20,000 QoS 1 messages as fast as mosquitto
// acknowledges them, far more than any of its queue defaults holds (1,000
// queued per client), through daprd's MQTT binding to one app on SQLite.
// Every acknowledged message must be counted exactly once: with mosquitto's
// defaults a slow subscriber silently loses what does not fit its queue,
// after the device was told the message arrived.
func TestBurst(t *testing.T) {
	cfg := sim.Config{Devices: 100, Rate: 1000, Count: 200, Invalid: 0.02, Repeat: 0.02, Seed: 31}
	st := newStack(t, sqliteFile)
	r := st.startReplica(t, "enviromon-0")

	stats := sendMQTT(t, st.mqttURL, cfg)
	sent := stats.Total.Acked()
	assert.GreaterOrEqual(t, sent, 20000, "burst too small")
	want := expected(stats)
	api := settle(t, "GET /api/devices", 5*time.Minute, want, apiDevices(r.base))
	settle(t, "sqlite read directly", 30*time.Second, want, func(ctx context.Context) (map[string]counts, error) {
		return storedDevices(ctx, st.store)
	})
	m := metrics(t, r.base)
	assert.Equal(t, int64(stats.Total.Valid), m["enviromon_readings_accepted_total"], "readings accepted")
	rate := float64(sent) / stats.Elapsed.Seconds()
	t.Logf("burst: %s; counted exactly once %s after the last acknowledgement", stats, api.Round(time.Millisecond))
	record("burst/sqlite      %d acknowledged QoS 1 publishes in %s (%.0f/s acknowledged by mosquitto), all counted exactly once %s after the last",
		sent, stats.Elapsed.Round(time.Millisecond), rate, api.Round(time.Millisecond))
}
