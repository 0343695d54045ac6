package signalr

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/dapr/components-contrib/bindings"
	daprsignalr "github.com/dapr/components-contrib/bindings/azure/signalr"
	"github.com/dapr/components-contrib/metadata"
	"github.com/dapr/kit/logger"
	psignalr "github.com/philippseith/signalr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The real bindings.azure.signalr, in-process, against the service: its
// clientNegotiate answer connects clients, its sends reach them.
func TestDaprBinding(t *testing.T) {
	svc, srv := startService(t, Config{})
	b := daprsignalr.NewSignalR(logger.NewLogger("signalr-test"))
	require.NoError(t, b.Init(t.Context(), bindings.Metadata{Base: metadata.Base{
		Name:       "dashboard",
		Properties: map[string]string{"connectionString": svc.ConnectionString(), "hub": "enviromon"},
	}}))
	t.Cleanup(func() { require.NoError(t, b.Close()) })

	negotiate := func(user string) Negotiation {
		resp, err := b.Invoke(t.Context(), &bindings.InvokeRequest{
			Operation: daprsignalr.ClientNegotiateOperation,
			Metadata:  map[string]string{"user": user},
		})
		require.NoError(t, err)
		var n Negotiation
		require.NoError(t, json.Unmarshal(resp.Data, &n))
		assert.Equal(t, srv.URL+"/client/?hub=enviromon", n.URL)
		return n
	}
	alice := connectGo(t, negotiate("alice"), psignalr.TransportWebSockets)
	bob := connectGo(t, negotiate("bob"), psignalr.TransportServerSentEvents)
	waitLive(t, svc, "enviromon", 2)
	require.Equal(t, http.StatusOK, rest(t, http.MethodPut, srv.URL+"/api/hubs/enviromon/groups/ops/connections/"+bob.id, nil))

	tests := []struct {
		name     string
		metadata map[string]string
		reached  []*goClient
	}{
		{"broadcast", nil, []*goClient{alice, bob}},
		{"user", map[string]string{"user": "alice"}, []*goClient{alice}},
		{"group", map[string]string{"group": "ops"}, []*goClient{bob}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := `{"target":"newMessage","arguments":[{"deviceId":"d1","count":` + itoa(int64(i+1)) + `}]}`
			_, err := b.Invoke(t.Context(), &bindings.InvokeRequest{
				Operation: bindings.CreateOperation,
				Data:      []byte(data),
				Metadata:  tt.metadata,
			})
			require.NoError(t, err)
			for _, c := range []*goClient{alice, bob} {
				if slices.Contains(tt.reached, c) {
					c.expect(t, &reading{DeviceID: "d1", Count: i + 1})
				} else {
					c.expect(t, nil)
				}
			}
		})
	}

	t.Run("wrong key is refused", func(t *testing.T) {
		wrong := daprsignalr.NewSignalR(logger.NewLogger("signalr-test"))
		require.NoError(t, wrong.Init(t.Context(), bindings.Metadata{Base: metadata.Base{
			Name: "dashboard",
			Properties: map[string]string{
				"connectionString": "Endpoint=" + srv.URL + ";AccessKey=not-the-key;Version=1.0;",
				"hub":              "enviromon",
			},
		}}))
		_, err := wrong.Invoke(t.Context(), &bindings.InvokeRequest{
			Operation: bindings.CreateOperation,
			Data:      []byte(`{"target":"newMessage","arguments":[]}`),
		})
		assert.ErrorContains(t, err, "401")
	})
}
