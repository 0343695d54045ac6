//go:build e2e

package e2e

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/sim"
	simmqtt "github.com/enviromon/enviromon/app/sim/mqtt"
)

// TestPipeline runs the whole path with one replica, once per state store,
// with only the state component folder swapped: devices publish over MQTT
// to mosquitto → daprd (bindings.mqtt3, shared subscription) → the app →
// daprd (state) → the store; and daprd (bindings.azure.signalr) →
// signalr-local → the official @microsoft/signalr client. The counts must
// equal the simulator's unique valid and invalid messages per device, read
// through the app's API, straight from the store, and as the last live
// update the client received.
func TestPipeline(t *testing.T) {
	cfg := sim.Config{Devices: 6, Rate: 20, Count: 60, Invalid: 0.1, Repeat: 0.15, Seed: 7}
	for _, b := range []backend{tableStorage, sqliteFile, redisServer} {
		t.Run(b.name, func(t *testing.T) {
			began := time.Now()
			st := newStack(t, b)
			r := st.startReplica(t, "enviromon-0")
			l := startLive(t, r.base)
			startup := time.Since(began)

			stats := sendMQTT(t, st.mqttURL, cfg)
			want := expected(stats)
			api := settle(t, "GET /api/devices", 60*time.Second, want, apiDevices(r.base))
			stored := settle(t, b.name+" read directly", 10*time.Second, want, func(ctx context.Context) (map[string]counts, error) {
				return storedDevices(ctx, st.store)
			})
			seen := settle(t, "the official SignalR client", 30*time.Second, want, l.read(want))
			if b.name == tableStorage.name {
				checkPartitions(t, r.base, st.store, slices.Collect(maps.Keys(want)))
			}

			m := metrics(t, r.base)
			assert.Zero(t, m["enviromon_readings_failed_total"], "failed readings")
			assert.Equal(t, int64(stats.Total.Valid), m["enviromon_readings_accepted_total"], "readings accepted")
			assert.Equal(t, int64(stats.Total.Invalid), m["enviromon_readings_rejected_total"], "readings rejected")
			assert.GreaterOrEqual(t, m["enviromon_readings_duplicate_total"], int64(stats.Total.Repeats), "every repeat recognised")
			t.Logf("%s: %s", b.name, stats)
			t.Logf("%s: metrics messages %d, duplicates %d, commits %d, writes %d, conflicts %d",
				b.name, m["enviromon_messages_total"], m["enviromon_readings_duplicate_total"], m["enviromon_commits_total"],
				m["enviromon_store_writes_total"], m["enviromon_store_conflicts_total"])
			t.Logf("%s timings: start-up %s, send %s, settle: API %s, store +%s, live client +%s",
				b.name, startup.Round(time.Millisecond), stats.Elapsed.Round(time.Millisecond),
				api.Round(time.Millisecond), stored.Round(time.Millisecond), seen.Round(time.Millisecond))
			record("pipeline/%-12s %d devices, %d sends (%d valid, %d invalid, %d repeats): start-up %s, send %s, settle %s (live +%s)",
				b.name, cfg.Devices, stats.Total.Acked(), stats.Total.Valid, stats.Total.Invalid, stats.Total.Repeats,
				startup.Round(time.Millisecond), stats.Elapsed.Round(time.Millisecond), api.Round(time.Millisecond), seen.Round(time.Millisecond))
		})
	}
}

// sendMQTT runs the simulator against the broker, each device on its own
// connection publishing at QoS 1 to devices/{id}/messages/events/, and
// requires that every send was acknowledged, with invalid readings and
// redeliveries among them.
func sendMQTT(t testing.TB, url string, cfg sim.Config) sim.Stats {
	t.Helper()
	sender, err := simmqtt.New(simmqtt.Config{Broker: url})
	require.NoError(t, err)
	defer sender.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	stats, err := sim.Run(ctx, cfg, sender)
	require.NoError(t, err)
	requireClean(t, "mqtt", stats)
	return stats
}

// requireClean requires a run whose counts are exact: nothing failed,
// refused or cut short, and invalid readings and repeats were sent.
func requireClean(t testing.TB, what string, s sim.Stats) {
	t.Helper()
	require.Zero(t, s.Total.Failures+s.Total.Rejected+s.Total.Cancelled, "%s: %s", what, s)
	require.NotZero(t, s.Total.Invalid, "%s: the run must include invalid readings", what)
	require.NotZero(t, s.Total.Repeats, "%s: the run must include redeliveries", what)
}
