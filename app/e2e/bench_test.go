//go:build e2e

package e2e

import (
	"errors"
	"fmt"
	"github.com/stretchr/testify/require"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// The benchmarks behind `make bench` (README, Performance). Each one runs
// with -benchtime 1x: one iteration is one measurement of a path and, right
// before it on the same machine, of the ceiling that bounds it, so that the
// ratio of the two is what a noisy machine cannot move much. The figures go
// to the README through app/cmd/benchreport, never by hand.

// Sizes of one measurement. The ceilings and the app's paths publish the
// same number of messages, far more than any queue default (1,000) holds.
const (
	burst         = 30000 // messages per throughput measurement
	baselineBurst = 1000  // the per-message baseline is two orders slower
	countedWithin = 5 * time.Minute
)

// BenchmarkEmbedded is `make run`'s configuration (the app with its
// embedded broker, SQLite and local SignalR service) against ceiling A:
// mosquitto delivering to a subscriber that only acknowledges.
func BenchmarkEmbedded(b *testing.B) {
	for _, devices := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("devices=%d", devices), func(b *testing.B) {
			dir := b.TempDir()
			ceiling := newCeilingA(b, dir)
			app := startEmbedded(b, dir)
			l := load{broker: app.mqttURL, prefix: "emb", devices: devices}
			warm := measure(b, l, 0, devices, app.accepted) // every device's first message
			first := devices
			for b.Loop() {
				a := ceiling.measure(b, devices)
				profiled := app.profile(b, fmt.Sprintf("embedded-%d", devices))
				got := measure(b, l, first, burst, app.accepted)
				profiled()
				first += burst
				report(b, got, a, "ceilingA")
			}
			b.ReportMetric(warm, "new-devices/s")
		})
	}
}

// BenchmarkSidecar is the app beside daprd on each state store, against
// ceiling B (mosquitto → daprd's bindings.mqtt3 → an app that only answers
// 200) and the original system's per-message algorithm on the same store.
func BenchmarkSidecar(b *testing.B) {
	const devices = 1000
	for _, be := range []backend{sqliteFile, redisServer, tableStorage} {
		b.Run("store="+be.name, func(b *testing.B) {
			requireTools(b)
			ceiling := newCeilingB(b)
			base := newBaseline(b, be)
			st := newStack(b, be)
			r := st.startReplica(b, "enviromon-0")
			app := appEndpoint{base: r.base, pid: r.app.cmd.Process.Pid, pprof: r.pprof}
			l := load{broker: st.mqttURL, prefix: "side", devices: devices}
			warm := measure(b, l, 0, devices, app.accepted)
			first := devices
			n := burst
			if be.name == tableStorage.name {
				n = burst / 2 // Azurite answers a few hundred writes a second
			}
			for b.Loop() {
				c := ceiling.measure(b, n)
				before := metrics(b, app.base)
				profiled := app.profile(b, "sidecar-"+be.name)
				got := measure(b, l, first, n, app.accepted)
				profiled()
				after := metrics(b, app.base)
				first += n
				base := base.measure(b)
				report(b, got, c, "ceilingB")
				b.ReportMetric(got/base, "x-baseline")
				b.ReportMetric(base, "baseline-msgs/s")
				writes := after["enviromon_store_writes_total"] - before["enviromon_store_writes_total"]
				b.ReportMetric(float64(writes)/float64(n), "writes/msg")
				commits := after["enviromon_commits_total"] - before["enviromon_commits_total"]
				batched := after["enviromon_commit_readings_total"] - before["enviromon_commit_readings_total"]
				b.ReportMetric(float64(batched)/float64(max(commits, 1)), "readings/commit")
			}
			b.ReportMetric(warm, "new-devices/s")
		})
	}
}

// report records a path's rate, its ceiling's, and their ratio.
func report(b *testing.B, got, ceiling float64, name string) {
	b.ReportMetric(got, "msgs/s")
	b.ReportMetric(ceiling, name+"-msgs/s")
	b.ReportMetric(got/ceiling, "x-"+name)
	b.ReportMetric(0, "ns/op") // one iteration is a whole measurement: ns/op says nothing
}

// measure publishes n messages from message number first and returns the
// rate at which they were counted: n over the time from the first publish
// until counted has grown by n.
func measure(t testing.TB, l load, first, n int, counted func(testing.TB) int64) float64 {
	t.Helper()
	from := counted(t)
	start := time.Now()
	res := l.run(t, first, n)
	if res.acked != n {
		t.Fatalf("%d of %d publishes acknowledged", res.acked, n)
	}
	deadline := start.Add(countedWithin)
	for {
		got := counted(t) - from
		if got >= int64(n) {
			return float64(n) / time.Since(start).Seconds()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged messages counted after %s", got, n, countedWithin)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ceilingA is mosquitto (the repository's configuration) with one
// subscriber that acknowledges every message and does nothing else.
type ceilingA struct {
	url  string
	seen atomic.Int64
	next int
}

func newCeilingA(t testing.TB, dir string) *ceilingA {
	t.Helper()
	c := &ceilingA{}
	_, c.url = startMosquitto(t, filepath.Join(dir, "ceiling-a"))
	sub := mqttClient(t, c.url, "ceiling-a-subscriber", func(paho.Message) { c.seen.Add(1) })
	t.Cleanup(func() { sub.Disconnect(100) })
	return c
}

func (c *ceilingA) measure(t testing.TB, devices int) float64 {
	t.Helper()
	l := load{broker: c.url, prefix: "ceil", devices: devices}
	r := measure(t, l, c.next, burst, func(testing.TB) int64 { return c.seen.Load() })
	c.next += burst
	return r
}

// appEndpoint is a running app: its HTTP base URL and process id.
type appEndpoint struct {
	base    string
	pid     int
	mqttURL string // the embedded broker, if any
	pprof   string // its -pprof address
}

// accepted is the app's count of readings accepted.
func (a appEndpoint) accepted(t testing.TB) int64 {
	return metrics(t, a.base)["enviromon_readings_accepted_total"]
}

// profileSeconds is how much of a measurement a CPU profile covers.
const profileSeconds = 5

// profile starts a CPU profile of the app, when BENCH_PROFILE is set, and
// returns the function that waits for it and saves it as
// test-artifacts/profiles/<name>.pprof (git-ignored); each run overwrites
// the last. Idle time is not sampled, so a measurement shorter than the
// profile does not dilute it.
func (a appEndpoint) profile(t testing.TB, name string) func() {
	t.Helper()
	if os.Getenv("BENCH_PROFILE") == "" || a.pprof == "" {
		return func() {}
	}
	dir := filepath.Join(tools.root, "test-artifacts", "profiles")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	done := make(chan error, 1)
	go func() {
		url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", a.pprof, profileSeconds)
		resp, err := http.Get(url)
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			done <- fmt.Errorf("%s: %s", url, resp.Status)
			return
		}
		f, err := os.Create(filepath.Join(dir, name+".pprof"))
		if err != nil {
			done <- err
			return
		}
		_, err = io.Copy(f, resp.Body)
		done <- errors.Join(err, f.Close())
	}()
	return func() { require.NoError(t, <-done, "CPU profile %s", name) }
}
