package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// scrapeApp reads the app's /metrics into sample → value, as Prometheus
// would see the unlabelled samples.
func scrapeApp(t *testing.T, base string) map[string]string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	out := map[string]string{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if name, value, ok := strings.Cut(sc.Text(), " "); ok && !strings.HasPrefix(name, "#") {
			out[name] = value
		}
	}
	require.NoError(t, sc.Err())
	return out
}

// otlpCollector is an OTLP/HTTP endpoint that keeps the bodies it is sent.
type otlpCollector struct {
	mu     sync.Mutex
	bodies [][]byte
}

func (c *otlpCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.bodies = append(c.bodies, body)
	c.mu.Unlock()
}

func (c *otlpCollector) received(b []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, body := range c.bodies {
		if bytes.Contains(body, b) {
			return true
		}
	}
	return false
}

// TestAppIsObservable runs the embedded app with tracing on, sends it one
// reading with a traceparent, and finds the reading in /metrics and the
// trace at the OTLP collector.
func TestAppIsObservable(t *testing.T) {
	collector := &otlpCollector{}
	srv := httptest.NewServer(collector)
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL) // the exporter reads it itself
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")

	dir := t.TempDir()
	p := newPorts(t)
	cfg, err := parseConfig(appArgs(dir, embeddedSetup(t, dir, p), p), os.Getenv, io.Discard)
	require.NoError(t, err)
	a, err := start(t.Context(), cfg, os.Getenv, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.close() })
	base := "http://" + a.httpAddr

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, err := http.NewRequest(http.MethodPost, base+"/api/telemetry", strings.NewReader(`{"deviceId":"d1","messageId":"1","temperature":21.5}`))
	require.NoError(t, err)
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	m := scrapeApp(t, base)
	assert.Equal(t, "1", m["enviromon_readings_accepted_total"])
	assert.Equal(t, "1", m["enviromon_devices_online"])
	assert.Equal(t, "1", m["enviromon_commit_batch_readings_count"])
	assert.Equal(t, "1", m["enviromon_commit_duration_seconds_count"])
	assert.Equal(t, "0", m["enviromon_ingest_latency_seconds_count"], "HTTP ingest carries no creation time")
	assert.Contains(t, m, "enviromon_notifier_sends_total")
	assert.Contains(t, m, "go_goroutines")
	assert.Contains(t, m, "process_resident_memory_bytes")

	id, err := hex.DecodeString(traceID)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return collector.received(id) }, 10*time.Second, 20*time.Millisecond,
		"the app exports the spans of the incoming trace over OTLP/HTTP")
}

func TestLogsAreJSONWithTraceIDs(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(&buf, slog.LevelInfo)
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(t.Context()) }()
	ctx, span := tp.Tracer("test").Start(t.Context(), "delivery")
	log.WarnContext(ctx, "live update failed", "devices", 3)
	span.End()
	log.Debug("not at info")

	var rec map[string]any
	require.NoError(t, json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &rec), "one JSON object per line: %s", buf.String())
	assert.Equal(t, "WARN", rec["level"])
	assert.Equal(t, "live update failed", rec["msg"])
	assert.Equal(t, span.SpanContext().TraceID().String(), rec["trace_id"])
	assert.Equal(t, span.SpanContext().SpanID().String(), rec["span_id"])
}
