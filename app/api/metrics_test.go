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

	"github.com/enviromon/enviromon/app/pipeline"
)

// exposition is one metric family read back from the text format.
type exposition struct {
	help, typ string
	buckets   []bucket // in the order written
	sum       float64
	count     uint64
	samples   map[string]string // other samples by name
}

type bucket struct {
	le    float64
	count uint64
}

var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{le="([^"]*)"\})? (\S+)$`)

// parseExposition reads the Prometheus text format strictly enough to catch
// a malformed histogram: every sample belongs to a family announced by
// # HELP and # TYPE, and each line is a comment or one sample.
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
		name, le, value := m[1], m[3], m[4]
		switch {
		case name == cur+"_bucket" && f.typ == "histogram":
			require.NotEmpty(t, m[2], "a bucket has le: %q", line)
			bound, err := strconv.ParseFloat(le, 64)
			require.NoError(t, err, "le of %q", line)
			n, err := strconv.ParseUint(value, 10, 64)
			require.NoError(t, err, "count of %q", line)
			f.buckets = append(f.buckets, bucket{bound, n})
		case name == cur+"_sum" && f.typ == "histogram":
			v, err := strconv.ParseFloat(value, 64)
			require.NoError(t, err, line)
			f.sum = v
		case name == cur+"_count" && f.typ == "histogram":
			n, err := strconv.ParseUint(value, 10, 64)
			require.NoError(t, err, line)
			f.count = n
		default:
			require.Equal(t, cur, name, "sample of another family: %q", line)
			require.Empty(t, m[2], "a counter has no labels: %q", line)
			f.samples[name] = value
		}
	}
	require.NoError(t, sc.Err())
	return families
}

func TestMetricsExposesLatencyHistogram(t *testing.T) {
	var h pipeline.Histogram
	for _, d := range []time.Duration{-time.Second, time.Millisecond, 40 * time.Millisecond, 40 * time.Millisecond, 3 * time.Second, 5 * time.Minute} {
		h.Observe(d)
	}
	tests := []struct {
		name       string
		snap       pipeline.Snapshot
		wantLe     []float64
		wantCounts []uint64
		wantSum    float64
		wantCount  uint64
	}{
		{"observed", pipeline.Snapshot{Conflicts: 7, Latency: h.Snapshot()},
			[]float64{0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, math.Inf(1)},
			[]uint64{2, 2, 2, 2, 2, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 6}, 303.081, 6},
		{"nothing observed", pipeline.Snapshot{Conflicts: 7, Latency: (&pipeline.Histogram{}).Snapshot()},
			[]float64{0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, math.Inf(1)},
			make([]uint64, 16), 0, 0},
		{"no histogram at all", pipeline.Snapshot{Conflicts: 7}, []float64{math.Inf(1)}, []uint64{0}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRouter(Deps{Metrics: func() pipeline.Snapshot { return tt.snap }})
			w := httptest.NewRecorder()
			r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
			require.Equal(t, http.StatusOK, w.Code)
			assert.Contains(t, w.Header().Get("Content-Type"), "text/plain; version=0.0.4")

			families := parseExposition(t, w.Body.String())
			assert.Equal(t, "7", families["enviromon_store_conflicts_total"].samples["enviromon_store_conflicts_total"], "counters still there")
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
			assert.Equal(t, tt.wantLe, les)
			assert.Equal(t, tt.wantCounts, counts)
			assert.InDelta(t, tt.wantSum, f.sum, 1e-9)
			assert.Equal(t, tt.wantCount, f.count)
			assert.Equal(t, f.count, counts[len(counts)-1], "the +Inf bucket is the count")
		})
	}
}
