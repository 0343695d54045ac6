package tracing

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/enviromon/enviromon/app/pipeline"
)

// Handler handles one input binding delivery.
type Handler func(ctx context.Context, m pipeline.Message) error

// Deliveries returns h with a consumer span "deliver <binding>" around each
// delivery, for bindings read in-process: MQTT 3 carries no trace context,
// so each delivery starts a trace. (Through the sidecar, the HTTP route's
// span, continuing daprd's traceparent, plays this part.)
func Deliveries(tp trace.TracerProvider, binding string, h Handler) Handler {
	tracer := tp.Tracer(scope)
	return func(ctx context.Context, m pipeline.Message) error {
		ctx, span := tracer.Start(ctx, "deliver "+binding, trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(attribute.String("enviromon.device_id", m.DeviceID), attribute.String("enviromon.message_id", m.MessageID)))
		defer span.End()
		err := h(ctx, m)
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		return err
	}
}
