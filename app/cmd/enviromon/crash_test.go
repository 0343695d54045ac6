package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/sim"
	simmqtt "github.com/enviromon/enviromon/app/sim/mqtt"
)

// TestKilledAppLosesNothing runs the app as its own process, kills it with
// SIGKILL twice while devices publish over MQTT, and restarts it on the same
// data folder. Every publish a device saw acknowledged must be counted
// exactly once: the embedded broker kept it on disk until the pipeline's
// commit was acknowledged, and de-duplication absorbs the redeliveries.
func TestKilledAppLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the app binary")
	}
	bin := filepath.Join(t.TempDir(), "enviromon")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = testWriter{t}
	require.NoError(t, build.Run())

	dir := t.TempDir()
	p := newPorts(t)
	httpPort := freePort(t)
	args := appArgs(dir, embeddedSetup(t, dir, p), p)
	args[1] = fmt.Sprintf("127.0.0.1:%d", httpPort) // -addr
	args = append(args, "-log-level", "warn")
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	launch := func() *exec.Cmd {
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = testWriter{t}, testWriter{t}
		require.NoError(t, cmd.Start())
		require.Eventually(t, func() bool {
			resp, err := http.Get(base + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}, 20*time.Second, 20*time.Millisecond, "the app did not become ready")
		return cmd
	}
	app := launch()
	t.Cleanup(func() { _ = app.Process.Kill(); _, _ = app.Process.Wait() })

	// Enough retries to ride out the restarts, so every message is
	// acknowledged in the end.
	done := publishMQTT(t, p.broker, 2*time.Minute, sim.Config{Devices: 5, Rate: 40, Count: 120, Repeat: 0.05, Invalid: 0.05, Seed: 3,
		Attempts: 40, Backoff: 50 * time.Millisecond})
	for range 2 {
		time.Sleep(700 * time.Millisecond)
		require.NoError(t, app.Process.Signal(syscall.SIGKILL))
		_, _ = app.Process.Wait()
		app = launch()
	}
	stats := <-done
	require.Zero(t, stats.Total.Failures+stats.Total.Cancelled, stats.String())

	requireCounted(t, base, stats, 30*time.Second, "after two kills")
	_ = os.Remove(bin)
}

// requireCounted waits up to limit for the app at base to hold exactly the
// valid and invalid messages stats says were acknowledged, per device.
func requireCounted(t *testing.T, base string, stats sim.Stats, limit time.Duration, when string) {
	t.Helper()
	want := func() bool {
		got := getDevices(t, base)
		for id, c := range stats.Devices {
			if got[id].Count != int64(c.Valid) || got[id].Rejected != int64(c.Invalid) {
				return false
			}
		}
		return true
	}
	require.Eventually(t, want, limit, 100*time.Millisecond, "counts %s differ from the acknowledged messages: %s", when, stats.String())
	got := getDevices(t, base)
	for id, c := range stats.Devices {
		assert.Equal(t, int64(c.Valid), got[id].Count, id)
		assert.Equal(t, int64(c.Invalid), got[id].Rejected, id)
	}
}

// publishMQTT runs cfg against the broker on port in the background, for at
// most limit; the run's stats arrive on the channel.
func publishMQTT(t *testing.T, port int, limit time.Duration, cfg sim.Config) <-chan sim.Stats {
	t.Helper()
	sender, err := simmqtt.New(simmqtt.Config{Broker: fmt.Sprintf("tcp://127.0.0.1:%d", port), AckTimeout: 2 * time.Second})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	done := make(chan sim.Stats, 1)
	t.Cleanup(func() { cancel(); _ = sender.Close() })
	go func() {
		stats, err := sim.Run(ctx, cfg, sender)
		assert.NoError(t, err)
		done <- stats
	}()
	return done
}
