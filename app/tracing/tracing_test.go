package tracing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/enviromon/enviromon/app/pipeline"
)

func memProvider(t *testing.T) (*sdktrace.TracerProvider, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, exp
}

// remote is a context carrying a span context from another process.
func remote(traceID string, sampled bool) context.Context {
	tid, _ := trace.TraceIDFromHex(traceID)
	sid, _ := trace.SpanIDFromHex(traceID[16:])
	flags := trace.TraceFlags(0)
	if sampled {
		flags = trace.FlagsSampled
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: flags, Remote: true})
	return trace.ContextWithRemoteSpanContext(context.Background(), sc)
}

func TestNewIsANoOpUnlessAnEndpointIsSet(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
	}{
		{"nothing set", nil},
		{"disabled", map[string]string{envEndpoint: "http://127.0.0.1:1", envDisabled: "true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(context.Background(), func(k string) string { return tt.env[k] })
			require.NoError(t, err)
			assert.False(t, p.Enabled())
			_, span := p.Tracer("x").Start(context.Background(), "s")
			assert.False(t, span.IsRecording(), "a no-op span records nothing")
			require.NoError(t, p.Close())
		})
	}
}

func TestNewExportsOverOTLPHTTP(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, fmt.Sprintf("%s %s %s %t", r.Method, r.URL.Path, r.Header.Get("Content-Type"), bytes.Contains(body, []byte("a commit"))))
		mu.Unlock()
	}))
	defer srv.Close()
	// The exporter reads the OTEL_EXPORTER_OTLP_* variables itself.
	t.Setenv(envEndpoint, srv.URL)
	t.Setenv(envServiceName, "enviromon-test")
	p, err := New(context.Background(), os.Getenv)
	require.NoError(t, err)
	require.True(t, p.Enabled())
	assert.Equal(t, srv.URL, p.Endpoint)
	_, span := p.Tracer("x").Start(context.Background(), "a commit")
	span.End()
	require.NoError(t, p.Close(), "Close flushes the batch")
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"POST /v1/traces application/x-protobuf true"}, got)
}

func TestSpansContinueTheCallersTraces(t *testing.T) {
	const a, b, c = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "cccccccccccccccccccccccccccccccc"
	tests := []struct {
		name       string
		callers    []context.Context
		wantTrace  string // "" for a new one
		wantLinks  []string
		wantTraces int
	}{
		{"one delivery: its child", []context.Context{remote(a, true)}, a, nil, 1},
		{"several: child of the first, linked to the others once each",
			[]context.Context{remote(a, true), remote(b, true), remote(a, true), remote(c, true)}, a, []string{b, c}, 3},
		{"a sampled caller is preferred as parent", []context.Context{remote(a, false), remote(b, true)}, b, []string{a}, 2},
		{"no trace: a root span", []context.Context{context.Background(), nil}, "", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp, exp := memProvider(t)
			ctx, end := NewSpans(tp).Start(context.Background(), "commit", tt.callers)
			assert.True(t, trace.SpanContextFromContext(ctx).IsValid(), "the work's calls run in the span")
			end(nil)
			spans := exp.GetSpans()
			require.Len(t, spans, 1)
			s := spans[0]
			if tt.wantTrace != "" {
				assert.Equal(t, tt.wantTrace, s.SpanContext.TraceID().String())
			} else {
				assert.False(t, s.Parent.IsValid())
			}
			var links []string
			for _, l := range s.Links {
				links = append(links, l.SpanContext.TraceID().String())
			}
			assert.Equal(t, tt.wantLinks, links)
			assert.Contains(t, s.Attributes, attributeInt("enviromon.traces", tt.wantTraces))
			assert.Equal(t, codes.Unset, s.Status.Code)
		})
	}
}

func TestSpansLinksAreBounded(t *testing.T) {
	tp, exp := memProvider(t)
	var callers []context.Context
	for i := range 500 {
		callers = append(callers, remote(fmt.Sprintf("%032x", i+1), true))
	}
	_, end := NewSpans(tp).Start(context.Background(), "commit", callers)
	end(errors.New("store down"))
	s := exp.GetSpans()[0]
	assert.Len(t, s.Links, maxLinks)
	assert.Equal(t, codes.Error, s.Status.Code)
}

// fakeStore answers every call with err; batch says whether it is a
// pipeline.BatchStore.
type fakeStore struct{ err error }

func (f fakeStore) BulkGet(context.Context, []string) (map[string]pipeline.Entry, error) {
	return nil, f.err
}
func (f fakeStore) Set(context.Context, string, []byte, string) error { return f.err }
func (f fakeStore) Delete(context.Context, string, string) error      { return f.err }

type fakeBatchStore struct{ fakeStore }

func (f fakeBatchStore) SetBatch(context.Context, []pipeline.Write) error { return f.err }

func TestStoreTracesEachCall(t *testing.T) {
	tp, exp := memProvider(t)
	_, isBatch := Store(fakeStore{}, tp).(pipeline.BatchStore)
	assert.False(t, isBatch, "a store without batches does not gain SetBatch")

	s := Store(fakeBatchStore{fakeStore{err: fmt.Errorf("set: %w", pipeline.ErrConflict)}}, tp)
	b, isBatch := s.(pipeline.BatchStore)
	require.True(t, isBatch, "a batch store stays one")
	ctx := remote("dddddddddddddddddddddddddddddddd", true)
	assert.ErrorIs(t, b.SetBatch(ctx, make([]pipeline.Write, 3)), pipeline.ErrConflict, "errors pass unchanged")
	spans := exp.GetSpans()
	require.Len(t, spans, 1)
	assert.Equal(t, "state SetBatch", spans[0].Name)
	assert.Equal(t, "dddddddddddddddddddddddddddddddd", spans[0].SpanContext.TraceID().String())
	assert.Equal(t, codes.Unset, spans[0].Status.Code, "a conflict is an answer, not a failure")
	assert.Contains(t, spans[0].Attributes, attributeInt("enviromon.keys", 3))

	exp.Reset()
	_, err := Store(fakeStore{err: errors.New("disk full")}, tp).BulkGet(ctx, []string{"a"})
	require.Error(t, err)
	assert.Equal(t, codes.Error, exp.GetSpans()[0].Status.Code)
}

func TestDeliveriesGetASpanEach(t *testing.T) {
	tp, exp := memProvider(t)
	var inner trace.SpanContext
	h := Deliveries(tp, "telemetry", func(ctx context.Context, _ pipeline.Message) error {
		inner = trace.SpanContextFromContext(ctx)
		return errors.New("stopping")
	})
	require.Error(t, h(context.Background(), pipeline.Message{DeviceID: "d1"}))
	spans := exp.GetSpans()
	require.Len(t, spans, 1)
	assert.Equal(t, "deliver telemetry", spans[0].Name)
	assert.Equal(t, trace.SpanKindConsumer, spans[0].SpanKind)
	assert.Equal(t, spans[0].SpanContext.SpanID(), inner.SpanID(), "the handler runs in it")
	assert.Equal(t, codes.Error, spans[0].Status.Code)
}

func TestLogHandlerAddsTheSpansIDs(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(LogHandler(slog.NewJSONHandler(&buf, nil))).With("part", "test")
	tp, _ := memProvider(t)
	ctx, span := tp.Tracer("x").Start(context.Background(), "s")
	defer span.End()

	log.InfoContext(ctx, "in a span", "n", 1)
	log.Info("outside")
	log.WarnContext(remote("eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", true), "in daprd's span")

	var lines []map[string]any
	for line := range bytes.Lines(buf.Bytes()) {
		var m map[string]any
		require.NoError(t, json.Unmarshal(line, &m), "JSON lines: %s", line)
		lines = append(lines, m)
	}
	require.Len(t, lines, 3)
	sc := span.SpanContext()
	assert.Equal(t, sc.TraceID().String(), lines[0]["trace_id"])
	assert.Equal(t, sc.SpanID().String(), lines[0]["span_id"])
	assert.Equal(t, "test", lines[0]["part"], "WithAttrs keeps the wrapper")
	assert.NotContains(t, lines[1], "trace_id", "no span, no ids")
	assert.Equal(t, "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", lines[2]["trace_id"])
}

func attributeInt(key string, v int) attribute.KeyValue { return attribute.Int(key, v) }
