//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/internal/testenv"
	"github.com/enviromon/enviromon/app/sim"
)

// outage is how long the state store stays down.
const outage = 20 * time.Second

// TestStoreOutage proves the at-least-once mechanism of the Azure
// deployment with the same Resiliency policy on the local MQTT binding: the
// store (Redis, durable) is stopped for 20 s while devices keep publishing.
// The app answers 5xx to every delivery meanwhile and daprd keeps retrying
// them (components/local/resiliency.yaml: maxRetries -1), so the broker's
// messages stay unacknowledged; once the store is back, every message the
// broker acknowledged to a device is counted exactly once.
func TestStoreOutage(t *testing.T) {
	var redisProc *proc
	var redisPort int
	dataDir := t.TempDir()
	durableRedis := backend{name: "redis", start: func(t testing.TB, _ string) (map[string]string, store) {
		redisPort = testenv.FreePort(t)
		redisProc = startDurableRedis(t, dataDir, redisPort)
		s := newRedisStore(fmt.Sprintf("127.0.0.1:%d", redisPort))
		t.Cleanup(func() { _ = s.Close() })
		return map[string]string{`"127.0.0.1:6379"`: fmt.Sprintf(`"127.0.0.1:%d"`, redisPort)}, s
	}}
	st := newStack(t, durableRedis)
	r := st.startReplica(t, "enviromon-0")

	before := sim.Config{Devices: 8, Rate: 20, Count: 20, Invalid: 0.1, Repeat: 0.1, Seed: 21, Prefix: "before-"}
	statsBefore := sendMQTT(t, st.mqttURL, before)
	settle(t, "GET /api/devices before the outage", 60*time.Second, expected(statsBefore), apiDevices(r.base))
	m0 := metrics(t, r.base)

	redisProc.stop()
	stopped := time.Now()
	t.Logf("redis stopped")

	// Devices keep publishing; the broker acknowledges each publish (QoS 1)
	// and holds it for the binding, which daprd cannot get committed.
	during := sim.Config{Devices: 8, Rate: 20, Count: 40, Invalid: 0.1, Repeat: 0.1, Seed: 22, Prefix: "during-"}
	statsDuring := sendMQTT(t, st.mqttURL, during)

	// The app is not ready and fails deliveries, again and again.
	ready := waitStatus(t, r.base+"/readyz", http.StatusServiceUnavailable, 10*time.Second)
	assert.True(t, ready, "/readyz still answers 200 with the store down")
	time.Sleep(time.Until(stopped.Add(outage / 2)))
	mHalf := metrics(t, r.base)
	time.Sleep(time.Until(stopped.Add(outage)))
	mEnd := metrics(t, r.base)
	// Every publish of the outage was sent within its first seconds, so
	// deliveries in its second half can only be daprd's retries.
	firstHalf := mHalf["enviromon_messages_total"] - m0["enviromon_messages_total"]
	secondHalf := mEnd["enviromon_messages_total"] - mHalf["enviromon_messages_total"]
	require.Less(t, statsDuring.Elapsed, outage/2, "the outage's publishes took too long to tell first tries from retries")
	assert.Positive(t, firstHalf, "no delivery reached the app in the first half of the outage")
	assert.Positive(t, secondHalf, "daprd stopped retrying in the second half of the outage")
	assert.Equal(t, m0["enviromon_readings_accepted_total"], mEnd["enviromon_readings_accepted_total"], "readings counted with the store down")
	failed := func(m map[string]int64) int64 {
		return m["enviromon_messages_failed_total"] + m["enviromon_readings_failed_total"]
	}
	assert.Positive(t, failed(mEnd)-failed(m0), "the app answered no delivery with an error during the outage")

	require.True(t, redisProc.exited(), "redis still running")
	redisProc = startDurableRedis(t, dataDir, redisPort)
	t.Logf("redis back after %s", time.Since(stopped).Round(time.Millisecond))
	recovered := time.Now()

	want := expected(statsBefore, statsDuring)
	settle(t, "GET /api/devices after the outage", 120*time.Second, want, apiDevices(r.base))
	settle(t, "redis read directly", 10*time.Second, want, func(ctx context.Context) (map[string]counts, error) {
		return storedDevices(ctx, st.store)
	})
	catchUp := time.Since(recovered)
	mAfter := metrics(t, r.base)
	acked := statsBefore.Total.Acked() + statsDuring.Total.Acked()
	assert.Equal(t, int64(statsBefore.Total.Valid+statsDuring.Total.Valid), mAfter["enviromon_readings_accepted_total"], "readings counted once each")
	require.True(t, waitStatus(t, r.base+"/readyz", http.StatusOK, 10*time.Second), "/readyz not back to 200")

	t.Logf("outage %s: the app failed %d deliveries in its first half and %d (retries only) in its second; after recovery all %d acknowledged publishes counted exactly once in %s",
		outage, firstHalf, secondHalf, acked, catchUp.Round(time.Millisecond))
	record("outage/redis      store down %s, app answering 5xx: %d deliveries failed in the first half, %d daprd retries in the second; %d acknowledged publishes (%d valid) counted exactly once, %s after the store returned",
		outage, firstHalf, secondHalf, acked, statsBefore.Total.Valid+statsDuring.Total.Valid, catchUp.Round(time.Millisecond))
}

// startDurableRedis runs redis-server on port with an append-only file
// fsynced on every write under dir, so a stop and a start keep the data.
func startDurableRedis(t testing.TB, dir string, port int) *proc {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		testenv.Missing(t, "redis-server", "apt-get install redis-server")
	}
	p := startProc(t, procSpec{name: "redis-server", bin: bin, dir: dir, env: childEnv(),
		args: []string{"--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--dir", dir,
			"--save", "", "--appendonly", "yes", "--appendfsync", "always", "--appendfilename", "state.aof"}})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	require.NoError(t, p.waitFor("PONG", 10*time.Second, func(ctx context.Context) error { return dial(ctx, addr) }))
	return p
}

// waitStatus polls url until it answers want, for up to limit.
func waitStatus(t testing.TB, url string, want int, limit time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		code, err := httpStatus(ctx, url)
		cancel()
		if err == nil && code == want {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}
