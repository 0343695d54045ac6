//go:build e2e && faults

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/internal/testenv"
	"github.com/enviromon/enviromon/app/sim"
)

// TestFaultSignalRDown stops the SignalR service while devices publish and
// a dashboard is open in a real browser. Ingestion does not notice: every
// acknowledged message is counted while live updates cannot be sent. The
// page shows that it lost its live connection, and once the service is
// back it reconnects by itself and shows every count, including those of
// devices that first appeared during the outage.
func TestFaultSignalRDown(t *testing.T) {
	if _, err := os.Stat(filepath.Join(tools.root, "dashboard", "node_modules", "playwright-core")); err != nil {
		testenv.Missing(t, "the dashboard's npm packages", "make dashboard")
	}
	st := newStack(t, sqliteFile)
	// The page's Content-Security-Policy must let it reach the service.
	st.appArgs = []string{"-dashboard", filepath.Join(tools.root, "dashboard"), "-connect-src", st.signalrURL}
	r := st.startReplica(t, "enviromon-0")
	// The browser calls the service from the app's origin: allow it.
	st.signalr.stop()
	st.signalrAt.args = append(st.signalrAt.args, "-allow-origins", r.base)
	st.signalr = startProc(t, st.signalrAt)
	require.NoError(t, st.signalr.waitFor("SignalR answers", 10*time.Second, serving(st.signalrAt)))

	before := sendMQTT(t, st.mqttURL, sim.Config{Devices: 4, Rate: 20, Count: 20, Invalid: 0.1, Repeat: 0.1, Seed: 51, Prefix: "before-"})
	settle(t, "GET /api/devices before the outage", 60*time.Second, expected(before), apiDevices(r.base))

	page := startPage(t, r.base)
	page.waitState(t, 30*time.Second, "live")
	page.expect(t, expected(before), "")

	st.signalr.stop()
	stopped := time.Now()
	page.waitState(t, 30*time.Second, "reconnecting", "offline")
	t.Logf("the page noticed after %s", time.Since(stopped).Round(time.Millisecond))

	m0 := metrics(t, r.base)
	during := sendMQTT(t, st.mqttURL, sim.Config{Devices: 4, Rate: 20, Count: 20, Invalid: 0.1, Repeat: 0.1, Seed: 52, Prefix: "during-"})
	want := expected(before, during)
	took := settle(t, "GET /api/devices with SignalR down", 60*time.Second, want, apiDevices(r.base))
	m1 := metrics(t, r.base)
	require.Equal(t, int64(during.Total.Valid), m1["enviromon_readings_accepted_total"]-m0["enviromon_readings_accepted_total"],
		"readings counted while SignalR was down")

	st.signalr = startProc(t, st.signalrAt)
	back := time.Now()
	require.NoError(t, st.signalr.waitFor("SignalR answers again", 10*time.Second, serving(st.signalrAt)))
	page.waitState(t, 60*time.Second, "live")
	reconnected := time.Since(back)
	page.expect(t, want, "fault-signalr-resynced.png")

	// Live updates flow again.
	after := sendMQTT(t, st.mqttURL, sim.Config{Devices: 2, Rate: 20, Count: 20, Invalid: 0.1, Repeat: 0.1, Seed: 53, Prefix: "after-"})
	page.expect(t, expected(before, during, after), "")
	record("fault/signalr     SignalR service stopped while 4 devices sent %d messages: all counted (%s after the last); the open dashboard reconnected %s after the service returned and showed every count",
		during.Total.Acked(), took.Round(time.Millisecond), reconnected.Round(time.Millisecond))
}

// serving succeeds once the service started by spec answers HTTP.
func serving(spec procSpec) func(context.Context) error {
	for i, a := range spec.args {
		if a == "-addr" && i+1 < len(spec.args) {
			return func(ctx context.Context) error { return answers(ctx, "http://"+spec.args[i+1]+"/") }
		}
	}
	panic("signalr-local started without -addr")
}

// page is the dashboard open in Chromium (dashboard/test/resync-browser.mjs).
type page struct {
	in     *os.File
	states chan string
	shown  chan json.RawMessage
	proc   *proc
}

func startPage(t testing.TB, base string) *page {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.Close() })
	p := &page{in: w, states: make(chan string, 64), shown: make(chan json.RawMessage, 4)}
	p.proc = startProc(t, procSpec{name: "resync-browser.mjs", bin: "node", dir: tools.root, stdin: r,
		args: []string{filepath.Join("dashboard", "test", "resync-browser.mjs")},
		env:  childEnv("ENVIROMON_URL="+base, "ENVIROMON_ARTIFACTS="+filepath.Join(tools.root, "test-artifacts")),
		stdout: &lineWriter{fn: func(line []byte) {
			var m struct {
				State string `json:"state"`
				Shown *bool  `json:"shown"`
			}
			if json.Unmarshal(line, &m) != nil {
				return
			}
			switch {
			case m.State != "":
				p.states <- m.State
			case m.Shown != nil:
				p.shown <- append(json.RawMessage(nil), line...)
			}
		}}})
	_ = r.Close()
	return p
}

// waitState waits until the connection indicator shows one of states.
func (p *page) waitState(t testing.TB, limit time.Duration, states ...string) {
	t.Helper()
	deadline := time.After(limit)
	var seen []string
	for {
		select {
		case s := <-p.states:
			seen = append(seen, s)
			for _, want := range states {
				if s == want {
					return
				}
			}
		case <-p.proc.done:
			t.Fatalf("the browser exited (%v) waiting for %v; states seen %v", p.proc.err, states, seen)
		case <-deadline:
			t.Fatalf("the page did not show %v within %s; states seen %v", states, limit, seen)
		}
	}
}

// expect waits until the page's cards show want's message counts, and saves
// a screenshot as name when name is not "".
func (p *page) expect(t testing.TB, want map[string]counts, name string) {
	t.Helper()
	counts := make(map[string]int64, len(want))
	for id, c := range want {
		counts[id] = c.Count
	}
	line, err := json.Marshal(map[string]any{"expect": counts, "name": name})
	require.NoError(t, err)
	_, err = p.in.Write(append(line, '\n'))
	require.NoError(t, err)
	select {
	case got := <-p.shown:
		var m struct {
			Shown bool            `json:"shown"`
			Got   json.RawMessage `json:"got"`
		}
		require.NoError(t, json.Unmarshal(got, &m))
		require.True(t, m.Shown, "the page shows %s, want %v", m.Got, counts)
	case <-p.proc.done:
		t.Fatalf("the browser exited: %v", p.proc.err)
	case <-time.After(90 * time.Second):
		t.Fatal("the browser did not answer within 90 s")
	}
}
