package dapr

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"time"

	diagutils "github.com/dapr/dapr/pkg/diagnostics/utils"
	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/enviromon/enviromon/app/binding"
	"github.com/enviromon/enviromon/app/pipeline"
)

// Callback is the app's end of daprd's gRPC app channel (app-protocol
// grpc): daprd asks it which input bindings the app reads, delivers each
// event to OnBindingEvent, and probes HealthCheck when app health checks
// are on.
//
// It is the channel to use beside daprd 1.16. Its HTTP app channel (http
// and h2c) builds one middleware pipeline for every call and hands each
// call's handler to it as the pipeline's root (pkg/middleware/http,
// pipeline.http), so concurrent calls can run each other's handler: the
// error of a failed delivery is then assigned to another call, and the
// failed one reads as 200 (its recorder's default status). mqtt3 then
// acknowledges a message the app never saw. The gRPC channel has no
// pipeline. README, Faults, has the evidence.
type Callback struct {
	runtimev1pb.UnimplementedAppCallbackServer
	runtimev1pb.UnimplementedAppCallbackHealthCheckServer

	binding string
	handle  func(ctx context.Context, m pipeline.Message) error
	token   []byte // SHA-256 of APP_API_TOKEN; nil for none
	tracer  trace.Tracer
}

// NewCallback returns the callback service delivering the input binding
// named binding to handle. handle's error fails the delivery, so daprd
// reports it and the binding does not acknowledge (mqtt3 and Event Hubs
// then deliver it again); nil acknowledges it. Options: WithAppToken
// (deliveries must carry APP_API_TOKEN) and WithTracer.
func NewCallback(binding string, handle func(ctx context.Context, m pipeline.Message) error, opts ...CallbackOption) *Callback {
	c := &Callback{binding: binding, handle: handle}
	for _, o := range opts {
		o(c)
	}
	return c
}

// CallbackOption configures a Callback.
type CallbackOption func(*Callback)

// WithCallbackToken makes deliveries carry token, the APP_API_TOKEN daprd
// sends in the dapr-api-token metadata: any other delivery is refused
// (Unauthenticated). An empty token leaves the service open, as daprd
// without APP_API_TOKEN sends none.
func WithCallbackToken(token string) CallbackOption {
	return func(c *Callback) {
		if token != "" {
			sum := sha256.Sum256([]byte(token))
			c.token = sum[:]
		}
	}
}

// WithCallbackTracing starts a server span for each delivery, continuing
// the W3C trace context daprd sends in the call's metadata.
func WithCallbackTracing(tp trace.TracerProvider) CallbackOption {
	return func(c *Callback) {
		if tp != nil {
			c.tracer = tp.Tracer("github.com/enviromon/enviromon/app/dapr")
		}
	}
}

// ListInputBindings names the binding the app reads.
func (c *Callback) ListInputBindings(ctx context.Context, _ *emptypb.Empty) (*runtimev1pb.ListInputBindingsResponse, error) {
	if err := c.authorize(ctx); err != nil {
		return nil, err
	}
	return &runtimev1pb.ListInputBindingsResponse{Bindings: []string{c.binding}}, nil
}

// ListTopicSubscriptions answers that the app subscribes to no topic.
func (c *Callback) ListTopicSubscriptions(ctx context.Context, _ *emptypb.Empty) (*runtimev1pb.ListTopicSubscriptionsResponse, error) {
	if err := c.authorize(ctx); err != nil {
		return nil, err
	}
	return &runtimev1pb.ListTopicSubscriptionsResponse{}, nil
}

// OnBindingEvent delivers one event of the input binding. An event over
// maxEvent is passed on truncated, to be rejected (counted and
// dead-lettered) and acknowledged, as the HTTP route does.
func (c *Callback) OnBindingEvent(ctx context.Context, req *runtimev1pb.BindingEventRequest) (*runtimev1pb.BindingEventResponse, error) {
	if err := c.authorize(ctx); err != nil {
		return nil, err
	}
	if req.GetName() != c.binding {
		return nil, status.Errorf(codes.NotFound, "the app reads the input binding %q, not %q", c.binding, req.GetName())
	}
	if c.tracer != nil {
		var span trace.Span
		ctx, span = c.tracer.Start(remoteParent(ctx), "OnBindingEvent "+c.binding,
			trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attribute.String("rpc.method", "OnBindingEvent")))
		defer span.End()
	}
	data := req.GetData()
	truncated := len(data) > maxEvent
	if truncated {
		data = data[:maxEvent]
	}
	m := binding.Message(data, req.GetMetadata())
	m.Truncated = truncated
	if err := c.handle(ctx, m); err != nil {
		trace.SpanFromContext(ctx).SetStatus(otelcodes.Error, short(err))
		return nil, status.Error(codes.Unavailable, short(err))
	}
	return &runtimev1pb.BindingEventResponse{}, nil
}

// HealthCheck answers daprd's app health probe: the process serves.
// Readiness (the state store) is /readyz's, on the HTTP port.
func (c *Callback) HealthCheck(ctx context.Context, _ *emptypb.Empty) (*runtimev1pb.HealthCheckResponse, error) {
	if err := c.authorize(ctx); err != nil {
		return nil, err
	}
	return &runtimev1pb.HealthCheckResponse{}, nil
}

// authorize compares the call's dapr-api-token with APP_API_TOKEN in
// constant time, as digests.
func (c *Callback) authorize(ctx context.Context) error {
	if c.token == nil {
		return nil
	}
	var got string
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get(AppTokenHeader); len(v) > 0 {
			got = v[0]
		}
	}
	sum := sha256.Sum256([]byte(got))
	if subtle.ConstantTimeCompare(sum[:], c.token) != 1 {
		return status.Error(codes.Unauthenticated, "the "+AppTokenHeader+" metadata does not carry APP_API_TOKEN")
	}
	return nil
}

// remoteParent returns ctx with the span daprd's delivery continues: the
// W3C traceparent daprd forwards when the event carried one, else daprd's
// own span from grpc-trace-bin, which it always sends on this channel.
func remoteParent(ctx context.Context) context.Context {
	ctx = propagation.TraceContext{}.Extract(ctx, incoming(ctx))
	if trace.SpanContextFromContext(ctx).IsValid() {
		return ctx
	}
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get(traceBinKey); len(v) > 0 {
		if sc, ok := diagutils.SpanContextFromBinary([]byte(v[0])); ok && sc.IsValid() {
			return trace.ContextWithRemoteSpanContext(ctx, sc.WithRemote(true))
		}
	}
	return ctx
}

// traceBinKey is the metadata daprd sends its span in (binary format).
const traceBinKey = "grpc-trace-bin"

// incoming is the call's metadata as a propagation carrier (first values).
func incoming(ctx context.Context) propagation.MapCarrier {
	carrier := propagation.MapCarrier{}
	md, _ := metadata.FromIncomingContext(ctx)
	for k, v := range md {
		if len(v) > 0 {
			carrier[k] = v[0]
		}
	}
	return carrier
}

// maxCallbackMessage bounds what daprd may send in one call: far above
// maxEvent, so that a larger event arrives, truncated, as a rejection
// instead of failing at the transport and coming back for ever.
const maxCallbackMessage = 16 << 20

// callbackStreams is how many deliveries one connection from daprd
// carries at once: daprd holds each open until its group commit answers.
const callbackStreams = 10000

// Server returns a gRPC server carrying c: the AppCallback service and its
// health check.
func (c *Callback) Server() *grpc.Server {
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(maxCallbackMessage), grpc.MaxConcurrentStreams(callbackStreams))
	runtimev1pb.RegisterAppCallbackServer(srv, c)
	runtimev1pb.RegisterAppCallbackHealthCheckServer(srv, c)
	return srv
}

// StopServer stops srv gracefully, waiting for the deliveries in flight
// (their commits) up to grace, then cuts what is left.
func StopServer(srv *grpc.Server, grace time.Duration) error {
	graceful := make(chan struct{})
	go func() {
		srv.GracefulStop()
		close(graceful)
	}()
	select {
	case <-graceful:
		return nil
	case <-time.After(grace):
		srv.Stop()
		return fmt.Errorf("deliveries still in flight after %s were cut", grace)
	}
}
