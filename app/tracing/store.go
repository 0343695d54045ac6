package tracing

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/enviromon/enviromon/app/pipeline"
)

// Store returns s with a client span around each call, in the trace of the
// call's context (a group commit's span). The sidecar adapter then hands
// the span's trace context on to daprd, whose own spans join it. A
// pipeline.BatchStore stays one.
func Store(s pipeline.Store, tp trace.TracerProvider) pipeline.Store {
	t := store{s: s, tracer: tp.Tracer(scope)}
	if b, ok := s.(pipeline.BatchStore); ok {
		return batchStore{store: t, b: b}
	}
	return t
}

type store struct {
	s      pipeline.Store
	tracer trace.Tracer
}

type batchStore struct {
	store
	b pipeline.BatchStore
}

var (
	_ pipeline.Store      = store{}
	_ pipeline.BatchStore = batchStore{}
)

// BulkGet reads keys in a span "state BulkGet".
func (t store) BulkGet(ctx context.Context, keys []string) (map[string]pipeline.Entry, error) {
	ctx, span := t.start(ctx, "state BulkGet", len(keys))
	got, err := t.s.BulkGet(ctx, keys)
	end(span, err)
	return got, err
}

// Set writes one key in a span "state Set".
func (t store) Set(ctx context.Context, key string, value []byte, etag string) error {
	ctx, span := t.start(ctx, "state Set", 1)
	err := t.s.Set(ctx, key, value, etag)
	end(span, err)
	return err
}

// Delete removes one key in a span "state Delete".
func (t store) Delete(ctx context.Context, key string, etag string) error {
	ctx, span := t.start(ctx, "state Delete", 1)
	err := t.s.Delete(ctx, key, etag)
	end(span, err)
	return err
}

// SetBatch writes items in one transaction, in a span "state SetBatch".
func (t batchStore) SetBatch(ctx context.Context, items []pipeline.Write) error {
	ctx, span := t.start(ctx, "state SetBatch", len(items))
	err := t.b.SetBatch(ctx, items)
	end(span, err)
	return err
}

func (t store) start(ctx context.Context, name string, keys int) (context.Context, trace.Span) {
	return t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.Int("enviromon.keys", keys)))
}

// end ends span with err. An ETag conflict or a store without batches is
// an answer the pipeline acts on, not a failure: it is marked, not an error.
func end(span trace.Span, err error) {
	switch {
	case err == nil:
	case errors.Is(err, pipeline.ErrConflict):
		span.SetAttributes(attribute.Bool("enviromon.conflict", true))
	case errors.Is(err, errors.ErrUnsupported):
		span.SetAttributes(attribute.Bool("enviromon.unsupported", true))
	default:
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
