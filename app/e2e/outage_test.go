//go:build e2e && faults

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
const outage = 10 * time.Second

// durable is a state server that keeps its data on disk across a stop and
// a start on the same port.
type durable struct {
	name    string
	backend func(d *durable) backend
	start   func(t testing.TB, dir string, port int) *proc
	proc    *proc
	port    int
	dir     string
	// flush is how long the server may keep a write in memory only:
	// Azurite saves its tables to disk every 5 s (LokiJS autosave), and a
	// table it had not saved yet is gone after a stop.
	flush time.Duration
}

var durableStores = []*durable{
	{name: "redis", start: startDurableRedis, backend: func(d *durable) backend {
		return backend{name: "redis", start: func(t testing.TB, _ string) (map[string]string, store) {
			d.proc = d.start(t, d.dir, d.port)
			s := newRedisStore(fmt.Sprintf("127.0.0.1:%d", d.port))
			t.Cleanup(func() { _ = s.Close() })
			return map[string]string{`"127.0.0.1:6379"`: fmt.Sprintf(`"127.0.0.1:%d"`, d.port)}, s
		}}
	}},
	{name: "tablestorage", start: startDurableAzurite, flush: 6 * time.Second, backend: func(d *durable) backend {
		return backend{name: "tablestorage", start: func(t testing.TB, _ string) (map[string]string, store) {
			d.proc = d.start(t, d.dir, d.port)
			az := testenv.Azurite{TableURL: fmt.Sprintf("http://127.0.0.1:%d/%s", d.port, testenv.AzuriteAccount),
				Account: testenv.AzuriteAccount, Key: testenv.AzuriteKey}
			s, err := newTableStore(az, "enviromon")
			require.NoError(t, err)
			return map[string]string{"http://127.0.0.1:10002/devstoreaccount1": az.TableURL}, s
		}}
	}},
}

// TestStoreOutage proves the at-least-once mechanism beside daprd: the
// state store (durable Redis; Azurite on disk, as Table Storage stands in
// for Azure) is stopped for 10 s while devices keep publishing. The app
// answers 5xx to every delivery meanwhile and /readyz turns false; the
// binding keeps retrying them (components/local/telemetry.yaml:
// backOffMaxRetries -1), so the broker's messages stay unacknowledged;
// once the store is back, every message the broker acknowledged to a
// device is counted exactly once.
func TestStoreOutage(t *testing.T) {
	for _, d := range durableStores {
		t.Run(d.name, func(t *testing.T) {
			d.dir, d.port = t.TempDir(), testenv.FreePort(t)
			storeOutage(t, d)
		})
	}
}

func storeOutage(t *testing.T, d *durable) {
	st := newStack(t, d.backend(d))
	r := st.startReplica(t, "enviromon-0")

	before := sim.Config{Devices: 8, Rate: 20, Count: 20, Invalid: 0.1, Repeat: 0.1, Seed: 21, Prefix: "before-"}
	statsBefore := sendMQTT(t, st.mqttURL, before)
	settle(t, "GET /api/devices before the outage", 60*time.Second, expected(statsBefore), apiDevices(r.base))
	time.Sleep(d.flush)
	m0 := metrics(t, r.base)

	d.proc.stop()
	stopped := time.Now()
	t.Logf("%s stopped", d.name)

	// Devices keep publishing; the broker acknowledges each publish (QoS 1)
	// and holds it for the binding, which cannot get it committed.
	during := sim.Config{Devices: 8, Rate: 20, Count: 40, Invalid: 0.1, Repeat: 0.1, Seed: 22, Prefix: "during-"}
	statsDuring := sendMQTT(t, st.mqttURL, during)

	// The app is not ready and fails deliveries, again and again.
	ready := waitStatus(t, r.base+"/readyz", http.StatusServiceUnavailable, outage/2)
	assert.True(t, ready, "/readyz still answers 200 with the store down")
	time.Sleep(time.Until(stopped.Add(outage)))
	mEnd := metrics(t, r.base)
	assert.Positive(t, mEnd["enviromon_messages_total"]-m0["enviromon_messages_total"], "no delivery reached the app during the outage")
	assert.Equal(t, m0["enviromon_readings_accepted_total"], mEnd["enviromon_readings_accepted_total"], "readings counted with the store down")
	failed := func(m map[string]int64) int64 {
		return m["enviromon_messages_failed_total"] + m["enviromon_readings_failed_total"]
	}
	assert.Positive(t, failed(mEnd)-failed(m0), "the app answered no delivery with an error during the outage")

	require.True(t, d.proc.exited(), "%s still running", d.name)
	d.proc = d.start(t, d.dir, d.port)
	t.Logf("%s back after %s", d.name, time.Since(stopped).Round(time.Millisecond))
	recovered := time.Now()

	want := expected(statsBefore, statsDuring)
	settle(t, "GET /api/devices after the outage", 120*time.Second, want, apiDevices(r.base))
	settle(t, d.name+" read directly", 10*time.Second, want, func(ctx context.Context) (map[string]counts, error) {
		return storedDevices(ctx, st.store)
	})
	catchUp := time.Since(recovered)
	mAfter := metrics(t, r.base)
	acked := statsBefore.Total.Acked() + statsDuring.Total.Acked()
	// Deliveries failed during the outage and came again: the app saw
	// more deliveries than the devices sent in it.
	deliveries := mAfter["enviromon_messages_total"] - m0["enviromon_messages_total"]
	assert.Greater(t, deliveries, int64(statsDuring.Total.Acked()), "no delivery was retried")
	assert.Equal(t, int64(statsBefore.Total.Valid+statsDuring.Total.Valid), mAfter["enviromon_readings_accepted_total"], "readings counted once each")
	require.True(t, waitStatus(t, r.base+"/readyz", http.StatusOK, 10*time.Second), "/readyz not back to 200")

	record("outage/%-11s store down %s, app answering 5xx and /readyz 503: %d deliveries for the outage's %d publishes (retries included); %d acknowledged publishes (%d valid) counted exactly once, %s after the store returned",
		d.name, outage, deliveries, statsDuring.Total.Acked(), acked, statsBefore.Total.Valid+statsDuring.Total.Valid, catchUp.Round(time.Millisecond))
}

// startDurableAzurite runs Azurite's Table service on port with its data
// under dir (not in memory), so a stop and a start keep the tables.
func startDurableAzurite(t testing.TB, dir string, port int) *proc {
	t.Helper()
	p := startProc(t, procSpec{name: "azurite-table", bin: testenv.AzuriteTable(t), dir: dir, env: childEnv(),
		args: []string{"--tableHost", "127.0.0.1", "--tablePort", fmt.Sprint(port), "--location", dir,
			"--skipApiVersionCheck", "--disableProductStyleUrl", "--disableTelemetry"}})
	url := fmt.Sprintf("http://127.0.0.1:%d/%s/Tables", port, testenv.AzuriteAccount)
	require.NoError(t, p.waitFor("Azurite answers", 30*time.Second, func(ctx context.Context) error { return answers(ctx, url) }))
	return p
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
