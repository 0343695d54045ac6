package api

import (
	"bufio"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/metrics"
	"github.com/enviromon/enviromon/app/pipeline"
)

// exposition is one metric family read back from the text format.
type exposition struct {
	help, typ string
	buckets   []promBucket // in the order written
	sum       float64
	count     uint64
	samples   map[string]string // other samples, by name and labels as written
}

type promBucket struct {
	le    float64
	count uint64
}

var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$`)

// parseExposition reads the Prometheus text format strictly enough to catch
// a malformed family: every sample belongs to the family announced by the
// # HELP and # TYPE before it, and each line is a comment or one sample.
func parseExposition(t *testing.T, body string) map[string]*exposition {
	t.Helper()
	families := make(map[string]*exposition)
	var cur string
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "# HELP "); ok {
			name, help, _ := strings.Cut(rest, " ")
			require.NotContains(t, families, name, "one HELP per family")
			cur = name
			families[name] = &exposition{help: help, samples: make(map[string]string)}
			continue
		}
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, _ := strings.Cut(rest, " ")
			require.Equal(t, cur, name, "TYPE follows its HELP")
			families[name].typ = typ
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		require.NotNil(t, m, "sample line %q", line)
		f := families[cur]
		require.NotNil(t, f, "sample %q before any HELP", line)
		name, labels, value := m[1], m[3], m[4]
		switch {
		case name == cur+"_bucket" && f.typ == "histogram":
			le, ok := strings.CutPrefix(labels, `le="`)
			require.True(t, ok, "a bucket has le: %q", line)
			bound, err := strconv.ParseFloat(strings.TrimSuffix(le, `"`), 64)
			require.NoError(t, err, "le of %q", line)
			n, err := strconv.ParseUint(value, 10, 64)
			require.NoError(t, err, "count of %q", line)
			f.buckets = append(f.buckets, promBucket{bound, n})
		case name == cur+"_sum" && f.typ == "histogram":
			v, err := strconv.ParseFloat(value, 64)
			require.NoError(t, err, line)
			f.sum = v
		case name == cur+"_count" && f.typ == "histogram":
			n, err := strconv.ParseUint(value, 10, 64)
			require.NoError(t, err, line)
			f.count = n
		default:
			require.True(t, name == cur || strings.HasPrefix(name, cur+"_"), "sample of another family: %q", line)
			_, err := strconv.ParseFloat(value, 64)
			require.NoError(t, err, "value of %q", line)
			f.samples[name+m[2]] = value
		}
	}
	require.NoError(t, sc.Err())
	return families
}

// scrape answers GET /metrics from a router serving reg.
func scrape(t *testing.T, reg *metrics.Registry) (*httptest.ResponseRecorder, map[string]*exposition) {
	t.Helper()
	r := NewRouter(Deps{Metrics: reg})
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, w.Code)
	return w, parseExposition(t, w.Body.String())
}

func TestMetricsExposesLatencyHistogram(t *testing.T) {
	tests := []struct {
		name       string
		observe    []time.Duration
		wantCounts []uint64
		wantSum    float64
	}{
		{"observed", []time.Duration{0, time.Millisecond, 40 * time.Millisecond, 40 * time.Millisecond, 3 * time.Second, 5 * time.Minute},
			[]uint64{2, 2, 2, 2, 2, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 6}, 303.081},
		{"nothing observed", nil, make([]uint64, 16), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := metrics.New(metrics.Sources{Pipeline: func() pipeline.Snapshot { return pipeline.Snapshot{Conflicts: 7} }})
			for _, d := range tt.observe {
				reg.IngestLatency(d)
			}
			w, families := scrape(t, reg)
			assert.Contains(t, w.Header().Get("Content-Type"), "text/plain; version=0.0.4")
			assert.Equal(t, "7", families["enviromon_store_conflicts_total"].samples["enviromon_store_conflicts_total"], "counters still there")
			assert.Equal(t, "counter", families["enviromon_store_conflicts_total"].typ)
			f := families["enviromon_ingest_latency_seconds"]
			require.NotNil(t, f, w.Body.String())
			assert.Equal(t, "histogram", f.typ)
			assert.Contains(t, f.help, "iothub-creation-time-utc")
			var les []float64
			var counts []uint64
			for _, b := range f.buckets {
				les = append(les, b.le)
				counts = append(counts, b.count)
			}
			assert.Equal(t, []float64{0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, math.Inf(1)}, les)
			assert.Equal(t, tt.wantCounts, counts)
			assert.InDelta(t, tt.wantSum, f.sum, 1e-9)
			assert.Equal(t, uint64(len(tt.observe)), f.count)
			assert.Equal(t, f.count, counts[len(counts)-1], "the +Inf bucket is the count")
		})
	}
}

// TestMetricsKeepTheirNames checks that every metric /metrics had before
// client_golang is still served, with its type, and the new ones beside.
func TestMetricsKeepTheirNames(t *testing.T) {
	_, families := scrape(t, metrics.New(metrics.Sources{}))
	want := map[string]string{
		"enviromon_messages_total": "counter", "enviromon_readings_accepted_total": "counter",
		"enviromon_readings_rejected_total": "counter", "enviromon_readings_duplicate_total": "counter",
		"enviromon_readings_failed_total": "counter", "enviromon_messages_failed_total": "counter",
		"enviromon_commits_total": "counter", "enviromon_commit_readings_total": "counter",
		"enviromon_store_writes_total": "counter", "enviromon_store_transactions_total": "counter",
		"enviromon_store_batch_conflicts_total": "counter", "enviromon_store_conflicts_total": "counter",
		"enviromon_store_retries_total": "counter", "enviromon_notified_devices_total": "counter",
		"enviromon_ingest_latency_seconds": "histogram",
		// New with client_golang.
		"enviromon_rejections_total": "counter", "enviromon_commit_batch_readings": "histogram",
		"enviromon_commit_duration_seconds": "histogram", "enviromon_enqueue_latency_seconds": "histogram",
		"enviromon_notifier_sends_total": "counter", "enviromon_notifier_failures_total": "counter",
		"enviromon_devices_online": "gauge", "go_goroutines": "gauge", "go_memstats_heap_alloc_bytes": "gauge",
		"process_resident_memory_bytes": "gauge", "process_cpu_seconds_total": "counter",
	}
	for name, typ := range want {
		require.Contains(t, families, name)
		assert.Equal(t, typ, families[name].typ, name)
	}
	for _, name := range []string{"enviromon_messages_total", "enviromon_store_conflicts_total"} {
		assert.Equal(t, map[string]string{name: "0"}, families[name].samples, "%s has no labels", name)
	}
}
