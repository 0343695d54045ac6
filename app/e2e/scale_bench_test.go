//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkScale grows the embedded app's fleet to 1,000, 10,000 and
// 100,000 devices: the rate of first messages (each creates a record and an
// index entry), resident memory above idle per device once they exist
// (both after a garbage collection), the rate of later messages of known
// devices, and resident memory after a client has paged through every
// device with GET /api/devices.
func BenchmarkScale(b *testing.B) {
	for _, devices := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("devices=%d", devices), func(b *testing.B) {
			for b.Loop() {
				app := startEmbedded(b, b.TempDir())
				time.Sleep(2 * time.Second) // settle after start
				idle, idleHeap := memory(b, app)
				l := load{broker: app.mqttURL, prefix: "scale", devices: devices}
				fresh := measure(b, l, 0, devices, app.accepted)
				grown, grownHeap := memory(b, app)
				known := measure(b, l, devices, max(devices, burst), app.accepted)
				pages := pageAll(b, app.base, devices)
				served := rss(b, app.pid)
				b.ReportMetric(float64(devices), "devices")
				b.ReportMetric(fresh, "new-devices/s")
				b.ReportMetric(known, "msgs/s")
				b.ReportMetric(float64(grown-idle)/float64(devices), "rss-bytes/device")
				b.ReportMetric(float64(grownHeap-idleHeap)/float64(devices), "heap-bytes/device")
				b.ReportMetric(float64(served)/(1<<20), "page-rss-mb")
				b.ReportMetric(float64(pages), "pages")
				b.ReportMetric(0, "ns/op")
			}
		})
	}
}

// memory is the app's resident set size and live heap after a garbage
// collection, asked for through the profiling endpoint (heap?gc=1), and a
// moment for the runtime to return freed pages: what the devices keep, not
// the garbage of the messages that created them. The Go runtime returns
// freed pages gradually, so resident memory still carries some of a burst's
// peak; the live heap does not.
func memory(t testing.TB, a appEndpoint) (rssBytes, heapBytes int64) {
	t.Helper()
	resp, err := http.Get("http://" + a.pprof + "/debug/pprof/heap?gc=1&debug=1")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	for line := range strings.Lines(string(body)) {
		if v, ok := strings.CutPrefix(line, "# HeapAlloc = "); ok {
			heapBytes, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			require.NoError(t, err, line)
		}
	}
	require.NotZero(t, heapBytes, "no HeapAlloc in the heap profile")
	time.Sleep(2 * time.Second)
	return rss(t, a.pid), heapBytes
}

// rss returns the resident set size of process pid, in bytes.
func rss(t testing.TB, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			require.NoError(t, err, line)
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS for %d", pid)
	return 0
}

// pageAll follows GET /api/devices's Link rel="next" at the largest page
// and checks that every device was listed once; it returns the pages read.
func pageAll(t testing.TB, base string, devices int) int {
	t.Helper()
	url := base + "/api/devices?limit=10000"
	seen := map[string]bool{}
	pages := 0
	for url != "" {
		var page []struct {
			ID string `json:"deviceId"`
		}
		resp, err := http.Get(url)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		next := nextLink(resp.Header.Get("Link"))
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		require.NoError(t, err)
		for _, d := range page {
			require.False(t, seen[d.ID], "device %s listed twice", d.ID)
			seen[d.ID] = true
		}
		pages++
		if next != "" && strings.HasPrefix(next, "/") {
			next = base + next
		}
		url = next
	}
	require.Len(t, seen, devices, "devices listed")
	return pages
}

// nextLink returns the target of rel="next" in an RFC 8288 Link header.
func nextLink(h string) string {
	for part := range strings.SplitSeq(h, ",") {
		target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
		if ok && strings.Contains(params, `rel="next"`) {
			return strings.Trim(strings.TrimSpace(target), "<>")
		}
	}
	return ""
}
