package tracing

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/enviromon/enviromon/app/pipeline"
)

// scope names the instrumentation in every span of this package.
const scope = "github.com/enviromon/enviromon/app/tracing"

// maxLinks bounds the links of one span: a group commit may serve
// thousands of deliveries. The SDK's own limit is 128.
const maxLinks = 128

// Spans is the pipeline.Tracer over a tracer provider. Work done for many
// callers at once (a group commit, a live update) gets one span: a child
// of the first caller's span, preferring a sampled one, so that the trace
// of a delivery shows its commit and the store calls under it; linked to
// every other caller's span, so that each of their traces can find it.
type Spans struct {
	tracer trace.Tracer
}

var _ pipeline.Tracer = Spans{}

// NewSpans returns the pipeline.Tracer over tp.
func NewSpans(tp trace.TracerProvider) Spans { return Spans{tracer: tp.Tracer(scope)} }

// Start starts the span name in ctx on behalf of callers.
func (s Spans) Start(ctx context.Context, name string, callers []context.Context) (context.Context, func(error)) {
	parent, links, traces := relate(callers)
	if parent.IsValid() {
		ctx = trace.ContextWithSpanContext(ctx, parent)
	}
	ctx, span := s.tracer.Start(ctx, name, trace.WithLinks(links...),
		trace.WithAttributes(attribute.Int("enviromon.callers", len(callers)), attribute.Int("enviromon.traces", traces)))
	return ctx, func(err error) {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}

// relate picks the parent among the callers' span contexts (the first
// sampled one, else the first valid one) and links to the others, each
// once and at most maxLinks; traces counts the distinct caller spans.
func relate(callers []context.Context) (parent trace.SpanContext, links []trace.Link, traces int) {
	seen := make(map[trace.SpanID]bool)
	var all []trace.SpanContext
	for _, c := range callers {
		if c == nil {
			continue
		}
		sc := trace.SpanContextFromContext(c)
		if !sc.IsValid() || seen[sc.SpanID()] {
			continue
		}
		seen[sc.SpanID()] = true
		all = append(all, sc)
		if !parent.IsValid() || (!parent.IsSampled() && sc.IsSampled()) {
			parent = sc
		}
	}
	for _, sc := range all {
		if sc.SpanID() != parent.SpanID() && len(links) < maxLinks {
			links = append(links, trace.Link{SpanContext: sc})
		}
	}
	return parent, links, len(all)
}
