//go:build e2e

package e2e

import (
	"bufio"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// latencyRun is how long one latency measurement publishes at half the
// peak rate.
const latencyRun = 10 * time.Second

// BenchmarkLatency measures, at half the peak rate measured first, the
// time from publish to committed (the app's histogram) and from publish to
// receipt in the official SignalR client, embedded and beside daprd.
func BenchmarkLatency(b *testing.B) {
	paths := []struct {
		name  string
		start func(b *testing.B) appEndpoint
	}{
		{"embedded", func(b *testing.B) appEndpoint { return startEmbedded(b, b.TempDir()) }},
		{"sidecar-sqlite", func(b *testing.B) appEndpoint {
			requireTools(b)
			st := newStack(b, sqliteFile)
			r := st.startReplica(b, "enviromon-0")
			return appEndpoint{base: r.base, pid: r.app.cmd.Process.Pid, mqttURL: st.mqttURL}
		}},
	}
	for _, p := range paths {
		b.Run(p.name, func(b *testing.B) {
			const devices = 1000
			app := p.start(b)
			var sent sync.Map // message id → publish time
			var mu sync.Mutex
			var toClient []float64
			startLiveSeen(b, app.base, func(id string, at time.Time) {
				if t, ok := sent.LoadAndDelete(id); ok {
					mu.Lock()
					toClient = append(toClient, float64(at.Sub(t.(time.Time)))/float64(time.Millisecond))
					mu.Unlock()
				}
			})
			l := load{broker: app.mqttURL, prefix: "lat", devices: devices}
			measure(b, l, 0, devices, app.accepted) // create the devices
			peak := measure(b, l, devices, burst, app.accepted)
			first := devices + burst
			l.rate = peak / 2
			l.sentAt = func(id string, at time.Time) { sent.Store(id, at) }
			for b.Loop() {
				n := int(l.rate * latencyRun.Seconds())
				before := histogram(b, app.base, "enviromon_ingest_latency_seconds")
				mu.Lock()
				toClient = toClient[:0]
				mu.Unlock()
				measure(b, l, first, n, app.accepted)
				first += n
				time.Sleep(time.Second) // the last live updates
				after := histogram(b, app.base, "enviromon_ingest_latency_seconds")
				d := after.minus(before)
				require.Greater(b, d.count(), 0.0, "no message observed in the latency histogram")
				b.ReportMetric(l.rate, "rate-msgs/s")
				b.ReportMetric(d.quantile(0.5)*1000, "commit-p50-ms")
				b.ReportMetric(d.quantile(0.99)*1000, "commit-p99-ms")
				mu.Lock()
				got := slices.Clone(toClient)
				mu.Unlock()
				require.NotEmpty(b, got, "the SignalR client received none of the messages")
				b.ReportMetric(percentile(got, 0.5), "client-p50-ms")
				b.ReportMetric(percentile(got, 0.99), "client-p99-ms")
				b.ReportMetric(float64(len(got)), "client-msgs")
				b.ReportMetric(0, "ns/op")
			}
		})
	}
}

// percentile returns the q-quantile of v (nearest rank).
func percentile(v []float64, q float64) float64 {
	slices.Sort(v)
	i := int(math.Ceil(q*float64(len(v)))) - 1
	return v[max(0, min(i, len(v)-1))]
}

// buckets is a Prometheus histogram read from /metrics: cumulative counts
// by upper bound, in bound order, +Inf last.
type buckets struct {
	le []float64
	n  []float64
}

// histogram reads the histogram name from the app's /metrics.
func histogram(t testing.TB, base, name string) buckets {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	var h buckets
	sc := bufio.NewScanner(resp.Body)
	prefix := name + `_bucket{le="`
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), prefix)
		if !ok {
			continue
		}
		bound, value, ok := strings.Cut(rest, `"} `)
		require.True(t, ok, sc.Text())
		le, err := strconv.ParseFloat(bound, 64) // "+Inf" parses as +Inf
		require.NoError(t, err, sc.Text())
		n, err := strconv.ParseFloat(value, 64)
		require.NoError(t, err, sc.Text())
		h.le, h.n = append(h.le, le), append(h.n, n)
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, h.le, "no %s histogram on /metrics", name)
	return h
}

// minus returns the observations made between before and h.
func (h buckets) minus(before buckets) buckets {
	out := buckets{le: h.le, n: slices.Clone(h.n)}
	for i := range out.n {
		if i < len(before.n) {
			out.n[i] -= before.n[i]
		}
	}
	return out
}

func (h buckets) count() float64 { return h.n[len(h.n)-1] }

// quantile interpolates linearly inside the bucket holding the q-quantile,
// as PromQL's histogram_quantile does.
func (h buckets) quantile(q float64) float64 {
	rank := q * h.count()
	lower, below := 0.0, 0.0
	for i, le := range h.le {
		if h.n[i] >= rank {
			if math.IsInf(le, 1) {
				return lower // beyond the largest bound: report the bound
			}
			in := h.n[i] - below
			if in == 0 {
				return le
			}
			return lower + (le-lower)*(rank-below)/in
		}
		lower, below = le, h.n[i]
	}
	return lower
}
