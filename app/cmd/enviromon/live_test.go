package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/internal/testenv"
	simmqtt "github.com/enviromon/enviromon/app/sim/mqtt"
)

// artifact appends text to a file under the test artifacts folder
// (ENVIROMON_ARTIFACTS, else test-artifacts/ at the repository root), which
// `make test` prints at the end.
func artifact(t *testing.T, name, text string) {
	t.Helper()
	dir := os.Getenv("ENVIROMON_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(testenv.RepoRoot(t), "test-artifacts")
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.WriteString(text)
	require.NoError(t, err)
}

// liveLine is one line the Node listener prints.
type liveLine struct {
	Ready     bool    `json:"ready"`
	Transport string  `json:"transport"`
	At        int64   `json:"at"` // ms since epoch
	DeviceID  string  `json:"deviceId"`
	MessageID string  `json:"messageId"`
	Count     int64   `json:"count"`
	Temp      float64 `json:"temperature"`
}

// startListener runs dashboard/test/live-client.mjs, the official
// @microsoft/signalr client in Node, against the app at base.
func startListener(t *testing.T, base, transport string) <-chan liveLine {
	t.Helper()
	root := testenv.RepoRoot(t)
	if _, err := exec.LookPath("node"); err != nil {
		testenv.Missing(t, "node", "apt-get install nodejs")
	}
	if _, err := os.Stat(filepath.Join(root, "dashboard", "node_modules", "@microsoft", "signalr")); err != nil {
		testenv.Missing(t, "the dashboard's npm packages", "make dashboard")
	}
	cmd := exec.Command("node", filepath.Join("dashboard", "test", "live-client.mjs"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "ENVIROMON_URL="+base, "TRANSPORT="+transport)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = testWriter{t}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = stdin.Close() // asks the client to stop
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	lines := make(chan liveLine, 4096)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var l liveLine
			if json.Unmarshal(sc.Bytes(), &l) == nil {
				lines <- l
			}
		}
	}()
	select {
	case l, ok := <-lines:
		require.True(t, ok && l.Ready, "the listener did not connect")
		t.Logf("official client connected over %s", l.Transport)
	case <-time.After(20 * time.Second):
		t.Fatal("the official SignalR client did not connect within 20 s")
	}
	return lines
}

// TestLiveUpdatesReachTheOfficialClient publishes readings over MQTT at a
// steady rate and receives them with the official SignalR client, which
// negotiated through the app's /api/negotiate, over WebSockets and over
// Server-Sent Events. It prints the publish-to-receipt latency.
func TestLiveUpdatesReachTheOfficialClient(t *testing.T) {
	for _, transport := range []string{"websockets", "sse"} {
		t.Run(transport, func(t *testing.T) {
			a, p, _ := startEmbedded(t)
			lines := startListener(t, "http://"+a.httpAddr, transport)

			sender, err := simmqtt.New(simmqtt.Config{Broker: fmt.Sprintf("tcp://127.0.0.1:%d", p.broker)})
			require.NoError(t, err)
			defer sender.Close()
			const n, rate = 100, 25 // messages, per second
			sent := make(map[string]time.Time, n)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			tick := time.NewTicker(time.Second / rate)
			defer tick.Stop()
			for i := range n {
				<-tick.C
				id := fmt.Sprintf("lat-%03d", i)
				sent[id] = time.Now()
				payload := fmt.Sprintf(`{"messageId":%q,"temperature":%d}`, id, i%30)
				require.NoError(t, sender.Send(ctx, "live-dev", []byte(payload)))
			}

			var latencies []time.Duration
			deadline := time.After(15 * time.Second)
			var last liveLine
		receive:
			for {
				select {
				case l, ok := <-lines:
					require.True(t, ok, "the listener stopped")
					if l.DeviceID != "live-dev" {
						continue
					}
					last = l
					if at, ok := sent[l.MessageID]; ok {
						latencies = append(latencies, time.UnixMilli(l.At).Sub(at))
					}
					if l.Count == n {
						break receive
					}
				case <-deadline:
					t.Fatalf("the client saw count %d, want %d", last.Count, n)
				}
			}
			assert.Equal(t, "lat-099", last.MessageID, "the latest state arrives last")
			require.NotEmpty(t, latencies)
			slices.Sort(latencies)
			pct := func(q float64) time.Duration { return latencies[int(q*float64(len(latencies)-1))] }
			t.Logf("latency device publish → official client receipt (%s, %d msg/s, %d of %d states seen after coalescing): p50 %v, p99 %v",
				transport, rate, len(latencies), n, pct(0.50).Round(time.Millisecond), pct(0.99).Round(time.Millisecond))
			artifact(t, "latency.txt", fmt.Sprintf("%s official client (Node), %s, %d msg/s: p50 %v p99 %v over %d received states\n",
				time.Now().UTC().Format(time.RFC3339), transport, rate, pct(0.50).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), len(latencies)))
		})
	}
}
