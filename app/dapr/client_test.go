package dapr

import (
	"context"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// TestDialSendsTokenAndTrace: a call through Dial's client reaches daprd
// with both the API token and the caller's traceparent (the SDK's own
// dial sent the token alone).
func TestDialSendsTokenAndTrace(t *testing.T) {
	got := make(chan metadata.MD, 1)
	srv := grpc.NewServer(grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
		md, _ := metadata.FromIncomingContext(stream.Context())
		got <- md
		return status.Error(codes.Unimplemented, "test server")
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)

	c, err := Dial(t.Context(), ln.Addr().String(), "token-3f9a")
	require.NoError(t, err)
	t.Cleanup(c.Close)
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
	_, err = NewState(c, "statestore").BulkGet(ctx, []string{"a"})
	require.Error(t, err, "the test server answers nothing")

	md := <-got
	assert.Equal(t, []string{"token-3f9a"}, md.Get("dapr-api-token"))
	assert.Equal(t, []string{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}, md.Get("traceparent"))
}

func TestGRPCTarget(t *testing.T) {
	for _, tc := range []struct{ in, target, security string }{
		{"127.0.0.1:50001", "127.0.0.1:50001", "insecure"},
		{"http://localhost:50001", "localhost:50001", "insecure"},
		{"https://dapr.example.com:443/", "dapr.example.com:443", "tls"},
		{"dns:///localhost:50001", "dns:///localhost:50001", "insecure"},
	} {
		target, creds := grpcTarget(tc.in)
		assert.Equal(t, tc.target, target, tc.in)
		assert.Equal(t, tc.security, creds.Info().SecurityProtocol, tc.in)
	}
}
