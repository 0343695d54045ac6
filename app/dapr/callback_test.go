package dapr

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/enviromon/enviromon/app/pipeline"
)

// callbackClient serves c on a loopback port, as daprd's gRPC app channel
// reaches the app, and returns clients of both of its services.
func callbackClient(t *testing.T, c *Callback) (runtimev1pb.AppCallbackClient, runtimev1pb.AppCallbackHealthCheckClient) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := c.Server()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return runtimev1pb.NewAppCallbackClient(conn), runtimev1pb.NewAppCallbackHealthCheckClient(conn)
}

func TestCallbackDelivers(t *testing.T) {
	h := &handled{}
	client, _ := callbackClient(t, NewCallback("telemetry", h.handle))
	ctx := context.Background()

	bindings, err := client.ListInputBindings(ctx, &emptypb.Empty{})
	require.NoError(t, err)
	assert.Equal(t, []string{"telemetry"}, bindings.GetBindings(), "daprd reads only the bindings the app names")
	topics, err := client.ListTopicSubscriptions(ctx, &emptypb.Empty{})
	require.NoError(t, err)
	assert.Empty(t, topics.GetSubscriptions())

	_, err = client.OnBindingEvent(ctx, &runtimev1pb.BindingEventRequest{Name: "telemetry",
		Data:     []byte(`{"messageId":"m-1","temperature":21.5}`),
		Metadata: map[string]string{"topic": "devices/sim-001/messages/events/%24.mid=m-1"}})
	require.NoError(t, err)
	require.Len(t, h.msgs, 1)
	m := h.msgs[0]
	assert.Equal(t, "sim-001", m.DeviceID, "the device comes from the topic, as over HTTP")
	assert.Equal(t, "m-1", m.MessageID)
	assert.JSONEq(t, `{"messageId":"m-1","temperature":21.5}`, string(m.Payload))
	assert.False(t, m.Truncated)
}

func TestCallbackRefuses(t *testing.T) {
	big := []byte(`{"pad":"` + strings.Repeat("x", maxEvent) + `"}`)
	for name, tt := range map[string]struct {
		opts      []CallbackOption
		md        []string // outgoing metadata, key and value pairs
		req       *runtimev1pb.BindingEventRequest
		handleErr error
		want      codes.Code
		handled   int
		truncated bool
	}{
		"a failed commit is an error daprd reports (the binding redelivers)": {
			req: &runtimev1pb.BindingEventRequest{Name: "telemetry", Data: []byte(`{}`)}, handleErr: errors.New("store down"),
			want: codes.Unavailable, handled: 1},
		"another binding": {
			req: &runtimev1pb.BindingEventRequest{Name: "other", Data: []byte(`{}`)}, want: codes.NotFound},
		"no token when APP_API_TOKEN is set": {
			opts: []CallbackOption{WithCallbackToken("s3cret")},
			req:  &runtimev1pb.BindingEventRequest{Name: "telemetry", Data: []byte(`{}`)}, want: codes.Unauthenticated},
		"a wrong token": {
			opts: []CallbackOption{WithCallbackToken("s3cret")}, md: []string{AppTokenHeader, "guess"},
			req: &runtimev1pb.BindingEventRequest{Name: "telemetry", Data: []byte(`{}`)}, want: codes.Unauthenticated},
		"the right token": {
			opts: []CallbackOption{WithCallbackToken("s3cret")}, md: []string{AppTokenHeader, "s3cret"},
			req: &runtimev1pb.BindingEventRequest{Name: "telemetry", Data: []byte(`{}`)}, want: codes.OK, handled: 1},
		"an event over the limit arrives truncated, to be rejected and acknowledged": {
			req: &runtimev1pb.BindingEventRequest{Name: "telemetry", Data: big}, want: codes.OK, handled: 1, truncated: true},
	} {
		t.Run(name, func(t *testing.T) {
			h := &handled{err: tt.handleErr}
			client, health := callbackClient(t, NewCallback("telemetry", h.handle, tt.opts...))
			ctx := context.Background()
			if tt.md != nil {
				ctx = metadata.AppendToOutgoingContext(ctx, tt.md...)
			}
			_, err := client.OnBindingEvent(ctx, tt.req)
			assert.Equal(t, tt.want, status.Code(err), "%v", err)
			require.Len(t, h.msgs, tt.handled)
			if tt.handled > 0 {
				assert.Equal(t, tt.truncated, h.msgs[0].Truncated)
				assert.LessOrEqual(t, len(h.msgs[0].Payload), maxEvent)
			}
			// The health check and the binding list are guarded alike.
			_, err = health.HealthCheck(ctx, &emptypb.Empty{})
			_, listErr := client.ListInputBindings(ctx, &emptypb.Empty{})
			if tt.want == codes.Unauthenticated {
				assert.Equal(t, codes.Unauthenticated, status.Code(err))
				assert.Equal(t, codes.Unauthenticated, status.Code(listErr))
			} else {
				assert.NoError(t, err)
				assert.NoError(t, listErr)
			}
		})
	}
}

func TestStopServerWaitsForDeliveries(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	c := NewCallback("telemetry", func(context.Context, pipeline.Message) error {
		close(started)
		<-release
		return nil
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := c.Server()
	go func() { _ = srv.Serve(ln) }()
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	delivered := make(chan error, 1)
	go func() {
		_, err := runtimev1pb.NewAppCallbackClient(conn).OnBindingEvent(context.Background(),
			&runtimev1pb.BindingEventRequest{Name: "telemetry", Data: []byte(`{}`)})
		delivered <- err
	}()
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- StopServer(srv, 5*time.Second) }()
	select {
	case <-stopped:
		t.Fatal("the server stopped with a delivery in flight")
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	require.NoError(t, <-delivered, "the delivery in flight is answered")
	require.NoError(t, <-stopped)

	// A delivery that never ends is cut after the grace period.
	reached := make(chan struct{})
	hung := NewCallback("telemetry", func(ctx context.Context, _ pipeline.Message) error {
		close(reached)
		<-ctx.Done()
		return ctx.Err()
	})
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv2 := hung.Server()
	go func() { _ = srv2.Serve(ln2) }()
	conn2, err := grpc.NewClient(ln2.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn2.Close()
	go func() {
		_, _ = runtimev1pb.NewAppCallbackClient(conn2).OnBindingEvent(context.Background(),
			&runtimev1pb.BindingEventRequest{Name: "telemetry", Data: []byte(`{}`)})
	}()
	<-reached
	assert.ErrorContains(t, StopServer(srv2, 100*time.Millisecond), "still in flight")
}

func TestCallbackContinuesDaprdTrace(t *testing.T) {
	traceID, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	spanID, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	// daprd's grpc-trace-bin (diagnostics/utils.SpanContextToBinary):
	// version 0, then trace id (field 0), span id (field 1), flags (field 2).
	bin := append(append(append([]byte{0, 0}, traceID[:]...), 1), spanID[:]...)
	bin = append(bin, 2, 1)
	for name, md := range map[string][]string{
		"grpc-trace-bin, always sent":         {"grpc-trace-bin", string(bin)},
		"traceparent, when the event had one": {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
	} {
		t.Run(name, func(t *testing.T) {
			var parent trace.SpanContext
			tp := sdktrace.NewTracerProvider()
			c := NewCallback("telemetry", func(ctx context.Context, _ pipeline.Message) error {
				parent = trace.SpanFromContext(ctx).(sdktrace.ReadOnlySpan).Parent()
				return nil
			}, WithCallbackTracing(tp))
			client, _ := callbackClient(t, c)
			ctx := metadata.AppendToOutgoingContext(context.Background(), md...)
			_, err := client.OnBindingEvent(ctx, &runtimev1pb.BindingEventRequest{Name: "telemetry", Data: []byte(`{}`)})
			require.NoError(t, err)
			assert.Equal(t, traceID, parent.TraceID(), "the delivery's span is in daprd's trace")
			assert.Equal(t, spanID, parent.SpanID(), "and its parent is daprd's span")
			assert.True(t, parent.IsRemote())
		})
	}
}
