//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/internal/testenv"
	"github.com/enviromon/enviromon/app/sim"
	"github.com/enviromon/enviromon/app/telemetry"
)

// counts is what a device shows: valid readings counted, invalid rejected.
type counts struct{ Count, Rejected int64 }

// expected adds up the unique valid and invalid messages per device of
// every run: exactly what a de-duplicating pipeline must have counted.
func expected(runs ...sim.Stats) map[string]counts {
	want := map[string]counts{}
	for _, r := range runs {
		for id, c := range r.Devices {
			w := want[id]
			w.Count += int64(c.Valid)
			w.Rejected += int64(c.Invalid)
			want[id] = w
		}
	}
	return want
}

// diff describes how got differs from want; "" when equal.
func diff(want, got map[string]counts) string {
	var b strings.Builder
	for _, id := range slices.Sorted(maps.Keys(want)) {
		g, ok := got[id]
		switch {
		case !ok:
			fmt.Fprintf(&b, "%s missing (want %+v); ", id, want[id])
		case g != want[id]:
			fmt.Fprintf(&b, "%s %+v, want %+v; ", id, g, want[id])
		}
	}
	for _, id := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[id]; !ok {
			fmt.Fprintf(&b, "%s unexpected %+v; ", id, got[id])
		}
	}
	return b.String()
}

// settle polls read until it returns want, and returns how long that took.
func settle(t testing.TB, what string, timeout time.Duration, want map[string]counts, read func(context.Context) (map[string]counts, error)) time.Duration {
	t.Helper()
	began := time.Now()
	deadline := began.Add(timeout)
	var last string
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		got, err := read(ctx)
		cancel()
		if err == nil {
			if last = diff(want, got); last == "" {
				return time.Since(began)
			}
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never matched the simulator's counts within %s: %s", what, timeout, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// apiDevices reads GET /api/devices.
func apiDevices(base string) func(context.Context) (map[string]counts, error) {
	return func(ctx context.Context) (map[string]counts, error) {
		var list []telemetry.Summary
		if err := getJSON(ctx, base+"/api/devices", &list); err != nil {
			return nil, err
		}
		out := make(map[string]counts, len(list))
		for _, d := range list {
			out[d.DeviceID] = counts{Count: d.Count, Rejected: d.Rejected}
		}
		return out, nil
	}
}

func getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// metrics reads the app's /metrics as name → value.
func metrics(t testing.TB, base string) map[string]int64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	out := map[string]int64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue // comments, and labelled samples (buckets, reasons)
		}
		// client_golang writes every value as a float, 1.234567e+06 from a
		// million on; the go_ and process_ ones are fractions too.
		v, err := strconv.ParseFloat(value, 64)
		require.NoError(t, err, sc.Text())
		out[name] = int64(v)
	}
	require.NoError(t, sc.Err())
	return out
}

// live is dashboard/test/live-client.mjs: the official @microsoft/signalr
// client, negotiating through the app's POST /api/negotiate, which asks
// daprd's SignalR binding (clientNegotiate), then connecting to
// signalr-local. It keeps the highest count seen per device.
type live struct {
	mu    sync.Mutex
	max   map[string]int64
	ready chan string // the transport, once connected
	// seen, when set, gets every message id received and its receipt time.
	seen func(messageID string, at time.Time)
}

func startLive(t testing.TB, base string) *live { return startLiveSeen(t, base, nil) }

// startLiveSeen is startLive that also hands every message id received, with
// its receipt time, to seen.
func startLiveSeen(t testing.TB, base string, seen func(messageID string, at time.Time)) *live {
	t.Helper()
	root := tools.root
	if _, err := os.Stat(filepath.Join(root, "dashboard", "node_modules", "@microsoft", "signalr")); err != nil {
		testenv.Missing(t, "the dashboard's npm packages", "make dashboard")
	}
	l := &live{max: map[string]int64{}, ready: make(chan string, 1), seen: seen}
	// The client stops when its standard input ends: hold it open.
	r, w, err := os.Pipe()
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.Close() })
	p := startProc(t, procSpec{name: "live-client.mjs", bin: "node", dir: root, stdin: r,
		args: []string{filepath.Join("dashboard", "test", "live-client.mjs")},
		env:  childEnv("ENVIROMON_URL=" + base),
		stdout: &lineWriter{fn: func(line []byte) {
			var m struct {
				Ready     bool   `json:"ready"`
				Transport string `json:"transport"`
				DeviceID  string `json:"deviceId"`
				MessageID string `json:"messageId"`
				Count     int64  `json:"count"`
				At        int64  `json:"at"`
			}
			if json.Unmarshal(line, &m) != nil {
				return
			}
			if m.Ready {
				l.ready <- m.Transport
				return
			}
			if l.seen != nil && m.MessageID != "" {
				l.seen(m.MessageID, time.UnixMilli(m.At))
			}
			l.mu.Lock()
			l.max[m.DeviceID] = max(l.max[m.DeviceID], m.Count)
			l.mu.Unlock()
		}}})
	_ = r.Close() // the child holds its own copy
	select {
	case tr := <-l.ready:
		t.Logf("official SignalR client connected over %s", tr)
	case <-p.done:
		t.Fatalf("live-client.mjs exited before connecting: %v", p.err)
	case <-time.After(30 * time.Second):
		t.Fatal("the official SignalR client did not connect within 30 s")
	}
	return l
}

// read returns the highest count seen per device; Rejected is not in the
// live message the client prints, so only Count is compared.
func (l *live) read(want map[string]counts) func(context.Context) (map[string]counts, error) {
	return func(context.Context) (map[string]counts, error) {
		l.mu.Lock()
		defer l.mu.Unlock()
		out := make(map[string]counts, len(l.max))
		for id, n := range l.max {
			out[id] = counts{Count: n, Rejected: want[id].Rejected}
		}
		return out, nil
	}
}
