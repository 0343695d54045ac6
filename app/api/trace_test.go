package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/enviromon/enviromon/app/pipeline"
	"github.com/enviromon/enviromon/app/tracing"
)

// tracedApp is the API over a real pipeline, traced into an in-memory
// exporter as the app wires it.
func tracedApp(t *testing.T, cfg pipeline.Config) (http.Handler, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	p, err := pipeline.New(tracing.Store(newMemStore(), tp), cfg, pipeline.WithTracer(tracing.NewSpans(tp)))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return NewRouter(Deps{Ingest: p, Tracing: tp}), exp
}

func postTraced(t *testing.T, h http.Handler, body, traceparent string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/api/telemetry", strings.NewReader(body))
	req.Header.Set("traceparent", traceparent)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
}

func spansNamed(exp *tracetest.InMemoryExporter, prefix string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if strings.HasPrefix(s.Name, prefix) {
			out = append(out, s)
		}
	}
	return out
}

func TestTraceparentReachesTheStateCalls(t *testing.T) {
	h, exp := tracedApp(t, pipeline.Config{})
	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	postTraced(t, h, `{"deviceId":"d1","messageId":"m1","temperature":20}`, "00-"+traceID+"-"+parentID+"-01")

	requests := spansNamed(exp, "POST /api/telemetry")
	require.Len(t, requests, 1)
	assert.Equal(t, traceID, requests[0].SpanContext.TraceID().String(), "the request continues daprd's trace")
	assert.Equal(t, parentID, requests[0].Parent.SpanID().String())
	assert.Equal(t, trace.SpanKindServer, requests[0].SpanKind)

	commits := spansNamed(exp, "commit")
	require.Len(t, commits, 1)
	assert.Equal(t, requests[0].SpanContext.SpanID(), commits[0].Parent.SpanID(), "the commit is a child of its delivery")

	state := spansNamed(exp, "state ")
	require.NotEmpty(t, state)
	var writes int
	for _, s := range state {
		assert.Equal(t, traceID, s.SpanContext.TraceID().String(), "%s is in the incoming trace", s.Name)
		assert.Equal(t, trace.SpanKindClient, s.SpanKind)
		switch s.Parent.SpanID() {
		case commits[0].SpanContext.SpanID(): // the index and the device record
			if s.Name == "state Set" {
				writes++
			}
		case requests[0].SpanContext.SpanID(): // the calibration, read before the commit
			assert.Equal(t, "state BulkGet", s.Name)
		default:
			assert.Fail(t, "a state call outside the delivery", s.Name)
		}
	}
	assert.Equal(t, 2, writes, "the commit wrote the index and the device")
}

func TestACommitForSeveralDeliveriesLinksToEachTrace(t *testing.T) {
	// One lane lingering 200 ms: both deliveries land in one commit.
	h, exp := tracedApp(t, pipeline.Config{Lanes: 1, Window: 200 * time.Millisecond})
	traceIDs := []string{"11111111111111111111111111111111", "22222222222222222222222222222222"}
	var wg sync.WaitGroup
	for i, id := range traceIDs {
		wg.Go(func() {
			postTraced(t, h, `{"deviceId":"d`+string(rune('1'+i))+`","temperature":20}`, "00-"+id+"-00f067aa0ba902b7-01")
		})
	}
	wg.Wait()

	commits := spansNamed(exp, "commit")
	require.Len(t, commits, 1, "one group commit served both")
	c := commits[0]
	traces := []string{c.SpanContext.TraceID().String()}
	for _, l := range c.Links {
		traces = append(traces, l.SpanContext.TraceID().String())
	}
	assert.ElementsMatch(t, traceIDs, traces, "in one trace as a child, linked from the other")
}

func TestProbesAreNotTraced(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	h := NewRouter(Deps{Tracing: tp, Ready: map[string]Check{}})
	for _, path := range []string{"/healthz", "/readyz", "/nothing-here"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
	}
	assert.Empty(t, exp.GetSpans())
}

// TestRequestLogCarriesTheTraceID: a failed request's log record names the
// trace its caller sent, so an operator goes from the log to the trace.
func TestRequestLogCarriesTheTraceID(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	var buf lockedLog
	log := slog.New(tracing.LogHandler(slog.NewJSONHandler(&buf, nil)))
	h := NewRouter(Deps{Devices: &fakePipeline{err: errors.New("store down")}, Tracing: tp, Log: log})

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	req := httptest.NewRequest(http.MethodGet, "/api/devices", nil)
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	require.Equal(t, http.StatusInternalServerError, w.Code)

	var found bool
	for line := range strings.Lines(buf.String()) {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec))
		if rec["msg"] == "request" {
			found = true
			assert.Equal(t, traceID, rec["trace_id"], line)
		}
	}
	assert.True(t, found, "no request record: %s", buf.String())
}

// lockedLog is a log destination safe for the handlers' goroutines.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
