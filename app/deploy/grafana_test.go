package deploy

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/api"
	"github.com/enviromon/enviromon/app/metrics"
)

// dashboard is the part of a Grafana dashboard the checks read.
type dashboard struct {
	UID    string `json:"uid"`
	Title  string `json:"title"`
	Panels []struct {
		ID         int    `json:"id"`
		Type       string `json:"type"`
		Title      string `json:"title"`
		Datasource *struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

// metricName finds the metric names in a PromQL expression: the app's own,
// and those of the Go and process collectors.
var metricName = regexp.MustCompile(`\b(?:enviromon|go|process)_[a-zA-Z0-9_]+`)

// exposedSamples scrapes GET /metrics from the API over a fresh registry,
// as the app serves it, and returns every sample name on it (a histogram's
// _bucket, _sum and _count included).
func exposedSamples(t *testing.T) map[string]bool {
	t.Helper()
	srv := httptest.NewServer(api.NewRouter(api.Deps{Metrics: metrics.New(metrics.Sources{})}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	names := make(map[string]bool)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, _, _ := strings.Cut(line, " ")
		name, _, _ = strings.Cut(name, "{")
		names[name] = true
	}
	require.NoError(t, sc.Err())
	return names
}

func TestGrafanaDashboardUsesOnlyExposedMetrics(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "grafana", "enviromon-dashboard.json"))
	require.NoError(t, err)
	var d dashboard
	require.NoError(t, json.Unmarshal(b, &d))
	assert.NotEmpty(t, d.UID)
	assert.NotEmpty(t, d.Title)

	exposed := exposedSamples(t)
	used := make(map[string]bool)
	ids := make(map[int]bool)
	for _, p := range d.Panels {
		assert.False(t, ids[p.ID], "panel id %d is unique", p.ID)
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		require.NotNil(t, p.Datasource, "panel %q names its data source", p.Title)
		assert.Equal(t, "${datasource}", p.Datasource.UID, "panel %q uses the dashboard's data source variable", p.Title)
		require.NotEmpty(t, p.Targets, "panel %q has a query", p.Title)
		for _, target := range p.Targets {
			names := metricName.FindAllString(target.Expr, -1)
			assert.NotEmpty(t, names, "panel %q: %s", p.Title, target.Expr)
			for _, name := range names {
				used[name] = true
				assert.True(t, exposed[name], "panel %q queries %s, which /metrics does not serve", p.Title, name)
			}
		}
	}
	for _, v := range d.Templating.List {
		for _, name := range metricName.FindAllString(v.Definition, -1) {
			assert.True(t, exposed[name], "variable %q queries %s, which /metrics does not serve", v.Name, name)
		}
	}

	// What the issue asks the dashboard to show.
	for _, name := range []string{
		"enviromon_readings_accepted_total", "enviromon_rejections_total", "enviromon_commit_batch_readings_bucket",
		"enviromon_commit_duration_seconds_bucket", "enviromon_ingest_latency_seconds_bucket", "enviromon_enqueue_latency_seconds_bucket",
		"enviromon_notifier_sends_total", "enviromon_notifier_failures_total", "enviromon_devices_online",
		"go_memstats_heap_alloc_bytes", "go_goroutines",
	} {
		assert.True(t, used[name], "a panel shows %s", name)
	}
}
