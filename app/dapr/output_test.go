package dapr

import (
	"fmt"
	"testing"

	"github.com/dapr/go-sdk/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/enviromon/enviromon/app/notify"
)

func TestOutputInvoke(t *testing.T) {
	f := &fakeClient{invokeResp: &client.BindingEvent{Data: []byte(`{"url":"u","accessToken":"a"}`)}}
	out, err := NewOutput(f, "signalr").Invoke(t.Context(), "create", []byte(`{"target":"t"}`), map[string]string{"group": "g"})
	require.NoError(t, err)
	assert.Equal(t, []byte(`{"url":"u","accessToken":"a"}`), out)
	assert.Equal(t, []*client.InvokeBindingRequest{{
		Name: "signalr", Operation: "create", Data: []byte(`{"target":"t"}`), Metadata: map[string]string{"group": "g"},
	}}, f.invoked)
}

func TestOutputNegotiateThroughNotify(t *testing.T) {
	f := &fakeClient{invokeResp: &client.BindingEvent{Data: []byte(`{"url":"http://x/client/?hub=h","accessToken":"tok"}`)}}
	n, err := notify.Binding{Invoker: NewOutput(f, "signalr")}.Negotiate(t.Context(), "alice")
	require.NoError(t, err)
	assert.Equal(t, notify.Negotiation{URL: "http://x/client/?hub=h", AccessToken: "tok"}, n)
	require.Len(t, f.invoked, 1)
	assert.Equal(t, "clientNegotiate", f.invoked[0].Operation)
	assert.Equal(t, map[string]string{"user": "alice"}, f.invoked[0].Metadata, "the user the access token must name")
}

func TestOutputEmptyAnswer(t *testing.T) {
	out, err := NewOutput(&fakeClient{}, "signalr").Invoke(t.Context(), "create", nil, nil)
	require.NoError(t, err)
	assert.Nil(t, out)
}

func TestOutputError(t *testing.T) {
	cause := fmt.Errorf("error invoking binding signalr/create: %w",
		status.Error(codes.Internal, "error invoking output binding signalr: 503 Service Unavailable"))
	out, err := NewOutput(&fakeClient{invokeErr: cause}, "signalr").Invoke(t.Context(), "create", nil, nil)
	require.Error(t, err)
	assert.Nil(t, out)
	assert.ErrorIs(t, err, cause)
	assert.Equal(t, codes.Internal, status.Code(err))
}
