package pipeline

import "context"

// Tracer traces work done at once on behalf of several callers: a group
// commit serves the deliveries of many messages, and a live update the
// commits of many. An adapter implements it over a tracing library; the
// pipeline itself imports none.
type Tracer interface {
	// Start begins the span name for work serving the callers whose
	// contexts are given (the span continues their traces). The work runs
	// in ctx, which keeps its own deadline and cancellation; the context
	// returned is ctx carrying the span, for the calls the work makes. end
	// is called once, with the work's error or nil.
	Start(ctx context.Context, name string, callers []context.Context) (context.Context, func(err error))
}

// WithTracer sets the tracer of group commits; none by default.
func WithTracer(t Tracer) Option { return func(p *Processor) { p.tracer = t } }

// NopTracer traces nothing.
type NopTracer struct{}

// Start returns ctx unchanged.
func (NopTracer) Start(ctx context.Context, _ string, _ []context.Context) (context.Context, func(error)) {
	return ctx, func(error) {}
}

var _ Tracer = NopTracer{}
