package dapr

import (
	"context"
	"testing"

	"github.com/dapr/go-sdk/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"
)

// mdClient is a fakeClient that keeps the outgoing gRPC metadata of each
// call, as daprd would receive it.
type mdClient struct {
	*fakeClient
	got []metadata.MD
}

func (m *mdClient) keep(ctx context.Context) {
	md, _ := metadata.FromOutgoingContext(ctx)
	m.got = append(m.got, md)
}

func (m *mdClient) GetBulkState(ctx context.Context, store string, keys []string, meta map[string]string, p int32) ([]*client.BulkStateItem, error) {
	m.keep(ctx)
	return m.fakeClient.GetBulkState(ctx, store, keys, meta, p)
}

func (m *mdClient) SaveBulkState(ctx context.Context, store string, items ...*client.SetStateItem) error {
	m.keep(ctx)
	return m.fakeClient.SaveBulkState(ctx, store, items...)
}

func (m *mdClient) InvokeBinding(ctx context.Context, in *client.InvokeBindingRequest) (*client.BindingEvent, error) {
	m.keep(ctx)
	return m.fakeClient.InvokeBinding(ctx, in)
}

func TestCallsCarryTheTraceToDaprd(t *testing.T) {
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	span := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
	const want = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

	c := &mdClient{fakeClient: &fakeClient{}}
	s := NewState(c, "statestore")
	_, err := s.BulkGet(span, []string{"a"})
	require.NoError(t, err)
	require.NoError(t, s.Set(span, "a", []byte("1"), ""))
	_, err = NewOutput(c, "signalr").Invoke(span, "create", nil, nil)
	require.NoError(t, err)
	_, err = s.BulkGet(context.Background(), []string{"a"})
	require.NoError(t, err)

	require.Len(t, c.got, 4)
	for i, md := range c.got[:3] {
		assert.Equal(t, []string{want}, md.Get("traceparent"), "call %d", i)
	}
	assert.Empty(t, c.got[3].Get("traceparent"), "no span, no traceparent")
}
