package signalr

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	psignalr "github.com/philippseith/signalr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	websockets = psignalr.TransportWebSockets
	sse        = psignalr.TransportServerSentEvents
)

func TestBroadcastReachesWebSocketAndSSEClients(t *testing.T) {
	svc, srv := startService(t, Config{})
	clients := map[string]*goClient{}
	for _, tr := range []psignalr.TransportType{websockets, sse} {
		n, err := svc.ClientNegotiation("enviromon", "", time.Hour)
		require.NoError(t, err)
		clients[string(tr)] = connectGo(t, n, tr)
	}
	waitLive(t, svc, "enviromon", 2)

	body := `{"Target":"newMessage","Arguments":[{"deviceId":"d1","count":1}]}`
	require.Equal(t, http.StatusAccepted, rest(t, http.MethodPost, srv.URL+"/api/hubs/enviromon/:send?api-version=2022-11-01", body))
	for name, c := range clients {
		t.Run(name, func(t *testing.T) { c.expect(t, &reading{DeviceID: "d1", Count: 1}) })
	}
}

func TestTargetedSends(t *testing.T) {
	svc, srv := startService(t, Config{})
	connect := func(user string, tr psignalr.TransportType) *goClient {
		n, err := svc.ClientNegotiation("enviromon", user, time.Hour)
		require.NoError(t, err)
		return connectGo(t, n, tr)
	}
	alice, bob1, bob2 := connect("alice", websockets), connect("bob", sse), connect("bob", websockets)
	waitLive(t, svc, "enviromon", 3)
	api := srv.URL + "/api/hubs/enviromon"
	const v = "?api-version=2022-11-01"

	steps := []struct {
		name    string
		setup   [][2]string // method, path: membership changes, each answered 200
		send    string
		reached []*goClient
	}{
		{"group of one connection", [][2]string{{http.MethodPut, "/groups/ops/connections/" + alice.id}}, "/groups/ops/:send", []*goClient{alice}},
		{"user with two connections", nil, "/users/bob/:send", []*goClient{bob1, bob2}},
		{"one connection", nil, "/connections/" + bob2.id + "/:send", []*goClient{bob2}},
		{"user added to a group", [][2]string{{http.MethodPut, "/users/bob/groups/night"}}, "/groups/night/:send", []*goClient{bob1, bob2}},
		{"broadcast with exclusion", nil, "/:send?excluded=" + alice.id, []*goClient{bob1, bob2}},
		{"connection removed from group", [][2]string{{http.MethodDelete, "/groups/ops/connections/" + alice.id}}, "/groups/ops/:send", nil},
		{"user removed from groups", [][2]string{{http.MethodDelete, "/users/bob/groups"}}, "/groups/night/:send", nil},
		{"unknown user", nil, "/users/carol/:send", nil},
	}
	for i, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			for _, s := range st.setup {
				require.Equal(t, http.StatusOK, rest(t, s[0], api+s[1]+v, nil), s[1])
			}
			url := api + st.send + v
			if strings.Contains(st.send, "?") {
				url = api + st.send + "&api-version=2022-11-01"
			}
			want := reading{DeviceID: st.name, Count: i}
			body := message{Target: "newMessage", Arguments: []any{want}}
			require.Equal(t, http.StatusAccepted, rest(t, http.MethodPost, url, body))
			for _, c := range []*goClient{alice, bob1, bob2} {
				if slices.Contains(st.reached, c) {
					c.expect(t, &want)
				} else {
					c.expect(t, nil)
				}
			}
		})
	}
}

func TestExistenceChecks(t *testing.T) {
	svc, srv := startService(t, Config{})
	n, err := svc.ClientNegotiation("enviromon", "alice", time.Hour)
	require.NoError(t, err)
	c := connectGo(t, n, websockets)
	waitLive(t, svc, "enviromon", 1)
	api := srv.URL + "/api/hubs/enviromon"
	require.Equal(t, http.StatusOK, rest(t, http.MethodPut, api+"/groups/ops/connections/"+c.id, nil))
	tests := []struct {
		method, path string
		want         int
	}{
		{http.MethodHead, "/connections/" + c.id, http.StatusOK},
		{http.MethodHead, "/connections/nope", http.StatusNotFound},
		{http.MethodHead, "/users/alice", http.StatusOK},
		{http.MethodHead, "/users/bob", http.StatusNotFound},
		{http.MethodHead, "/groups/ops", http.StatusOK},
		{http.MethodHead, "/groups/empty", http.StatusNotFound},
		{http.MethodPut, "/groups/ops/connections/nope", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			assert.Equal(t, tt.want, rest(t, tt.method, api+tt.path, nil))
		})
	}
}

// A WebSocket or event stream outlives the server's read and write
// timeouts, which hold for ordinary requests.
func TestConnectionsOutliveServerTimeouts(t *testing.T) {
	svc, srv := startService(t, Config{}, func(s *httptest.Server) {
		s.Config.ReadTimeout = 300 * time.Millisecond
		s.Config.WriteTimeout = 300 * time.Millisecond
	})
	var clients []*goClient
	for _, tr := range []psignalr.TransportType{websockets, sse} {
		n, err := svc.ClientNegotiation("enviromon", "", time.Hour)
		require.NoError(t, err)
		clients = append(clients, connectGo(t, n, tr))
	}
	waitLive(t, svc, "enviromon", 2)
	time.Sleep(time.Second)

	require.Equal(t, 2, svc.ConnectionCount("enviromon"))
	require.Equal(t, http.StatusAccepted, rest(t, http.MethodPost, srv.URL+"/api/hubs/enviromon/:send",
		message{Target: "newMessage", Arguments: []any{reading{DeviceID: "late", Count: 2}}}))
	for _, c := range clients {
		c.expect(t, &reading{DeviceID: "late", Count: 2})
	}
}
