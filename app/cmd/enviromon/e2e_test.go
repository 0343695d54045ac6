package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/sim"
	simmqtt "github.com/enviromon/enviromon/app/sim/mqtt"
	"github.com/enviromon/enviromon/app/telemetry"
)

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// ports are the loopback ports of one app under test.
type ports struct{ broker, signalr int }

func newPorts(t *testing.T) ports { return ports{broker: freePort(t), signalr: freePort(t)} }

// embeddedSetup copies components/embedded, with SQLite under dir and the
// MQTT and SignalR bindings pointed at the test's ports.
func embeddedSetup(t *testing.T, dir string, p ports) string {
	t.Helper()
	comps := filepath.Join(dir, "components")
	require.NoError(t, os.MkdirAll(comps, 0o755))
	for _, name := range []string{"statestore.yaml", "telemetry.yaml", "signalr.yaml", "envstore.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "..", "components", "embedded", name))
		require.NoError(t, err)
		s := strings.NewReplacer(
			`"data/enviromon.db"`, fmt.Sprintf("%q", filepath.Join(dir, "state.db")),
			"tcp://127.0.0.1:1883", fmt.Sprintf("tcp://127.0.0.1:%d", p.broker),
			"http://127.0.0.1:8088", fmt.Sprintf("http://127.0.0.1:%d", p.signalr),
		).Replace(string(b))
		require.NoError(t, os.WriteFile(filepath.Join(comps, name), []byte(s), 0o644))
	}
	return comps
}

// appArgs are the flags that run the app on dir and the test's ports.
func appArgs(dir, comps string, p ports) []string {
	return []string{"-addr", "127.0.0.1:0", "-components", comps, "-data", filepath.Join(dir, "data"),
		"-broker", fmt.Sprintf("127.0.0.1:%d", p.broker), "-signalr-local", fmt.Sprintf("127.0.0.1:%d", p.signalr), "-dashboard", ""}
}

// startApp starts the app as `enviromon` would with args, until the test ends.
func startApp(t *testing.T, args ...string) *app {
	t.Helper()
	a, err := tryStart(t, args)
	require.NoError(t, err)
	return a
}

func tryStart(t *testing.T, args []string) (*app, error) {
	cfg, err := parseConfig(args, func(string) string { return "" }, io.Discard)
	require.NoError(t, err)
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := start(context.Background(), cfg, func(string) string { return "" }, log)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = a.close() })
	return a, nil
}

// startEmbedded starts the app in embedded mode on a fresh folder and fresh
// ports, with extra flags. The ports were free when picked, but another test
// binary may take one before the app binds it: then it tries new ones.
func startEmbedded(t *testing.T, extra ...string) (*app, ports, []string) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		dir := t.TempDir()
		p := newPorts(t)
		args := append(appArgs(dir, embeddedSetup(t, dir, p), p), extra...)
		a, err := tryStart(t, args)
		if err == nil {
			return a, p, args
		}
		taken := errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use")
		if attempt == 3 || !taken {
			require.NoError(t, err)
		}
		t.Logf("port taken meanwhile (%v); trying other ports", err)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func getDevices(t *testing.T, base string) map[string]telemetry.Summary {
	t.Helper()
	resp, err := http.Get(base + "/api/devices")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var list []telemetry.Summary
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&list))
	out := make(map[string]telemetry.Summary, len(list))
	for _, d := range list {
		out[d.DeviceID] = d
	}
	return out
}

// TestMQTTEndToEnd drives the whole embedded path: devicesim → embedded
// broker → bindings.mqtt3 → processor → state.sqlite → GET /api/devices,
// with invalid readings and redeliveries, then restarts the app on the same
// data and reads the same counts back.
func TestMQTTEndToEnd(t *testing.T) {
	a, p, args := startEmbedded(t)
	brokerPort := p.broker
	base := "http://" + a.httpAddr

	sender, err := simmqtt.New(simmqtt.Config{Broker: fmt.Sprintf("tcp://127.0.0.1:%d", brokerPort)})
	require.NoError(t, err)
	defer sender.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stats, err := sim.Run(ctx, sim.Config{Devices: 6, Rate: 40, Count: 60, Invalid: 0.1, Repeat: 0.15, Seed: 7}, sender)
	require.NoError(t, err)
	require.Zero(t, stats.Total.Failures+stats.Total.Cancelled, stats.String())
	require.NotZero(t, stats.Total.Invalid, "the run must include invalid readings")
	require.NotZero(t, stats.Total.Repeats, "the run must include redeliveries")

	// A PUBACK to the device means the broker holds the message; the count
	// follows once the pipeline committed it.
	want := func(got map[string]telemetry.Summary) bool {
		for id, c := range stats.Devices {
			d, ok := got[id]
			if !ok || d.Count != int64(c.Valid) || d.Rejected != int64(c.Invalid) {
				return false
			}
		}
		return len(got) == len(stats.Devices)
	}
	require.Eventually(t, func() bool { return want(getDevices(t, base)) }, 20*time.Second, 50*time.Millisecond,
		"device counts never matched the simulator's unique valid/invalid messages: %s", stats.String())

	// Restart on the same data: the index and the records survive.
	require.NoError(t, a.close())
	a2 := startApp(t, args...)
	got := getDevices(t, "http://"+a2.httpAddr)
	for id, c := range stats.Devices {
		assert.Equal(t, int64(c.Valid), got[id].Count, id)
		assert.Equal(t, int64(c.Invalid), got[id].Rejected, id)
	}
}
