// Package tracing is Enviromon's OpenTelemetry tracing: the tracer provider
// (OTLP over HTTP when configured, else a no-op one), the pipeline.Tracer
// that traces group commits and live updates, a pipeline.Store that traces
// each store call, a span per input binding delivery, and a slog handler
// that writes the trace and span ids of a record's context.
//
// Nothing here is global: the app makes one Provider and hands it to what
// traces; otel's global provider and propagator are left alone. The W3C
// trace context (traceparent) is the only propagation format: it is what
// daprd reads and writes.
package tracing

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Environment variables that turn exporting on; the exporter reads the
// rest of the OTEL_EXPORTER_OTLP_* settings (headers, timeout, TLS) itself.
const (
	envEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"        // base URL: /v1/traces is appended
	envTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" // full URL of the traces endpoint
	envDisabled       = "OTEL_SDK_DISABLED"
	envServiceName    = "OTEL_SERVICE_NAME"
)

// serviceName names the app's spans unless OTEL_SERVICE_NAME says otherwise.
const serviceName = "enviromon"

// Provider is the app's tracer provider.
type Provider struct {
	trace.TracerProvider
	// Endpoint is where spans are exported, "" when they are not: the
	// provider is then a no-op one, whose spans cost next to nothing and
	// are never recorded.
	Endpoint string
	shutdown func(context.Context) error
}

// New returns a provider exporting spans over OTLP/HTTP (protobuf) when
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT is set
// and OTEL_SDK_DISABLED is not true, else a no-op provider. The SDK's own
// variables apply: OTEL_TRACES_SAMPLER (default parentbased_always_on, so
// daprd's sampling decision carries over), OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES, OTEL_BSP_*.
func New(ctx context.Context, getenv func(string) string) (*Provider, error) {
	endpoint := getenv(envTracesEndpoint)
	if endpoint == "" {
		endpoint = getenv(envEndpoint)
	}
	if endpoint == "" || strings.EqualFold(getenv(envDisabled), "true") {
		return &Provider{TracerProvider: noop.NewTracerProvider(), shutdown: func(context.Context) error { return nil }}, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("tracing: otlp exporter: %w", err)
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", serviceName)}
	if name := getenv(envServiceName); name != "" {
		attrs[0] = attribute.String("service.name", name)
	}
	res, err := resource.New(ctx, resource.WithTelemetrySDK(), resource.WithFromEnv(), resource.WithAttributes(attrs...))
	if err != nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &Provider{TracerProvider: tp, Endpoint: endpoint, shutdown: tp.Shutdown}, nil
}

// Enabled says whether spans are recorded and exported.
func (p *Provider) Enabled() bool { return p.Endpoint != "" }

// Close exports the spans still buffered, for up to 5 seconds, and stops
// the provider.
func (p *Provider) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: %w", err)
	}
	return nil
}
