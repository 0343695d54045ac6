package dapr

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/grpc/metadata"
)

// traced returns ctx with the W3C trace context of its span (traceparent,
// tracestate) added to the outgoing gRPC metadata, where daprd reads it
// (diagnostics.SpanContextFromIncomingGRPCMetadata): daprd's spans for the
// call then join the app's trace. It is the go-sdk's WithTraceID, taken
// from the context. Without a valid span, ctx is returned unchanged.
//
// Dial's token interceptor appends to this metadata; the go-sdk's own
// (v1.13) would replace it.
func traced(ctx context.Context) context.Context {
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	if len(carrier) == 0 {
		return ctx
	}
	kv := make([]string, 0, 2*len(carrier))
	for k, v := range carrier {
		kv = append(kv, k, v)
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}
