//go:build e2e && faults

package e2e

import (
	"context"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/sim"
)

// The fault-injection suite (`make test-faults`, build tags e2e and
// faults): each TestFault case breaks one part of the running system
// mid-stream and checks the counts against the simulator's own ledger of
// what the broker acknowledged. The embedded app's kill -9 is
// app/cmd/enviromon's TestKilledAppLosesNothing; the store outage beside
// daprd is TestStoreOutage.
//
// Not yet in .ci/run: TestFaultKilledSidecarApp fails about one run in two
// (issue 9). After the kill, a device ends one valid reading short, or a
// few valid readings counted as rejected with the total right. The cause is
// not found yet.

// TestFaultKilledSidecarApp kills the app beside daprd with SIGKILL while
// devices publish, and starts it again. Deliveries that were in flight fail;
// daprd retries them (resiliency.yaml: maxRetries -1) and mosquitto keeps
// what the binding has not acknowledged, so every message a device got a
// PUBACK for is counted exactly once, with no message counted twice.
func TestFaultKilledSidecarApp(t *testing.T) {
	st := newStack(t, sqliteFile)
	r := st.startReplica(t, "enviromon-0")

	cfg := sim.Config{Devices: 20, Rate: 20, Count: 100, Invalid: 0.05, Repeat: 0.05, Seed: 41}
	sent := make(chan sim.Stats, 1)
	go func() { sent <- sendMQTT(t, st.mqttURL, cfg) }()

	// Kill once the app has counted part of the stream, not all of it.
	require.Eventually(t, func() bool {
		return metrics(t, r.base)["enviromon_readings_accepted_total"] >= 200
	}, 60*time.Second, 20*time.Millisecond, "the app counted nothing before the kill")
	before := metrics(t, r.base)["enviromon_readings_accepted_total"]
	require.NoError(t, syscall.Kill(-r.app.cmd.Process.Pid, syscall.SIGKILL))
	<-r.app.done
	killed := time.Now()
	t.Logf("app killed after %d readings counted", before)

	time.Sleep(2 * time.Second) // deliveries fail meanwhile; daprd retries them
	r.app = startProc(t, r.appSpec)
	require.NoError(t, r.app.waitFor("ready app", 30*time.Second, statusIs(r.base+"/readyz", http.StatusOK)))
	t.Logf("app back after %s", time.Since(killed).Round(time.Millisecond))

	stats := <-sent
	assert.Less(t, before, int64(stats.Total.Valid), "the kill came after the whole stream was counted")
	want := expected(stats)
	took := settle(t, "GET /api/devices after the restart", 120*time.Second, want, apiDevices(r.base))
	settle(t, "sqlite read directly", 10*time.Second, want, func(ctx context.Context) (map[string]counts, error) {
		return storedDevices(ctx, st.store)
	})
	record("fault/kill-app    app beside daprd killed (SIGKILL) after %d of %d valid readings, restarted 2 s later: %d acknowledged publishes counted exactly once %s after the last",
		before, stats.Total.Valid, stats.Total.Acked(), took.Round(time.Millisecond))
}
