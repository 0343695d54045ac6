package dapr

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"time"

	"github.com/dapr/go-sdk/client"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// dialTimeout bounds one attempt to reach daprd, as the SDK's default.
const dialTimeout = 5 * time.Second

// apiTokenHeader is the gRPC metadata key daprd reads DAPR_API_TOKEN from.
const apiTokenHeader = "dapr-api-token"

// Dial connects to daprd's gRPC API at addr (host:port, or an
// http://, https:// or dns: target as in DAPR_GRPC_ENDPOINT) and waits until
// it answers. A non-empty apiToken (the DAPR_API_TOKEN that daprd then
// demands) goes with every call.
//
// The connection is the app's own, not the SDK's: the SDK's token
// interceptor replaces a call's outgoing metadata, which dropped the
// traceparent that traced(ctx) adds, so daprd started a trace of its own.
// This one appends the token to what the call carries.
func Dial(ctx context.Context, addr, apiToken string) (client.Client, error) {
	target, creds := grpcTarget(addr)
	opts := []grpc.DialOption{grpc.WithTransportCredentials(creds), grpc.WithBlock()} //nolint:staticcheck // wait for daprd, as the SDK does
	if apiToken != "" {
		opts = append(opts,
			grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, o ...grpc.CallOption) error {
				return invoker(metadata.AppendToOutgoingContext(ctx, apiTokenHeader, apiToken), method, req, reply, cc, o...)
			}),
			grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, o ...grpc.CallOption) (grpc.ClientStream, error) {
				return streamer(metadata.AppendToOutgoingContext(ctx, apiTokenHeader, apiToken), desc, cc, method, o...)
			}))
	}
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	conn, err := grpc.DialContext(ctx, target, opts...) //nolint:staticcheck // blocking dial, see above
	if err != nil {
		return nil, fmt.Errorf("dial dapr sidecar at %s: %w", addr, err)
	}
	return client.NewClientWithConnection(conn), nil
}

// grpcTarget turns daprd's address into a gRPC target and its transport
// security: TLS for https://, plain text otherwise (daprd beside the app).
func grpcTarget(addr string) (string, credentials.TransportCredentials) {
	switch {
	case strings.HasPrefix(addr, "https://"):
		return strings.TrimSuffix(strings.TrimPrefix(addr, "https://"), "/"), credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})
	case strings.HasPrefix(addr, "http://"):
		return strings.TrimSuffix(strings.TrimPrefix(addr, "http://"), "/"), insecure.NewCredentials()
	default:
		return addr, insecure.NewCredentials()
	}
}
