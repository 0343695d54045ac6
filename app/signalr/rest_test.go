package signalr

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSendBody(t *testing.T) {
	_, srv := startService(t, Config{})
	send := srv.URL + "/api/hubs/enviromon/:send?api-version=2022-11-01"
	tests := []struct {
		name string
		url  string
		body string
		want int
	}{
		{"camelCase", send, `{"target":"newMessage","arguments":[{"deviceId":"d1","count":1}]}`, http.StatusAccepted},
		{"PascalCase", send, `{"Target":"newMessage","Arguments":[{"deviceId":"d1","count":1}]}`, http.StatusAccepted},
		{"no arguments", send, `{"target":"newMessage"}`, http.StatusAccepted},
		{"group", srv.URL + "/api/hubs/enviromon/groups/ops/:send?api-version=2022-11-01", `{"target":"t"}`, http.StatusAccepted},
		{"user", srv.URL + "/api/hubs/enviromon/users/alice/:send?api-version=2022-11-01", `{"target":"t"}`, http.StatusAccepted},
		{"v1 broadcast", srv.URL + "/api/v1/hubs/enviromon", `{"target":"t"}`, http.StatusAccepted},
		{"missing target", send, `{"arguments":[1]}`, http.StatusBadRequest},
		{"arguments not an array", send, `{"target":"t","arguments":{"a":1}}`, http.StatusBadRequest},
		{"not JSON", send, `target=t`, http.StatusBadRequest},
		{"two messages", send, `{"target":"t"} {"target":"u"}`, http.StatusBadRequest},
		{"empty", send, ``, http.StatusBadRequest},
		{"too large", send, `{"target":"t","arguments":["` + strings.Repeat("x", maxMessage) + `"]}`, http.StatusRequestEntityTooLarge},
		{"invalid hub name", srv.URL + "/api/hubs/bad-hub/:send", `{"target":"t"}`, http.StatusBadRequest},
		{"unknown route", srv.URL + "/api/hubs/enviromon/:publish", `{"target":"t"}`, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, rest(t, http.MethodPost, tt.url, tt.body))
		})
	}
}

// restStatuses are the statuses the REST API answers with: its own (see
// statuses) and those of http.ServeMux for unknown routes, wrong methods
// and paths it cleans.
var restStatuses = map[int]bool{
	http.StatusOK: true, http.StatusAccepted: true,
	http.StatusMovedPermanently: true, http.StatusTemporaryRedirect: true, http.StatusPermanentRedirect: true,
	http.StatusBadRequest: true, http.StatusUnauthorized: true, http.StatusNotFound: true,
	http.StatusMethodNotAllowed: true, http.StatusRequestEntityTooLarge: true,
}

// FuzzREST: whatever the method, request target, Authorization header and
// body of a REST request, the service answers within the budget with one
// of restStatuses, an error as an ErrorDetail body, and 202 only for one
// JSON message with a target. "{token}" in the Authorization header stands
// for a valid token for the request's path; with "Bearer {token}" the
// request is never refused as unauthorized.
func FuzzREST(f *testing.F) {
	const send = "/api/hubs/enviromon/:send?api-version=2022-11-01"
	reading := `{"target":"newMessage","arguments":[{"deviceId":"d1","count":1}]}`
	for _, seed := range []struct{ method, target, auth, body string }{
		{"POST", send, "Bearer {token}", reading},
		{"POST", send, "Bearer {token}", `{"Target":"newMessage","Arguments":[{"deviceId":"d1","temperature":21.5}]}`},
		{"POST", send, "Bearer {token}", `{"target":"newMessage","arguments":[]}`},
		{"POST", "/api/hubs/enviromon/groups/ops/:send?api-version=2022-11-01", "Bearer {token}", reading},
		{"POST", "/api/hubs/enviromon/users/alice/:send?api-version=2022-11-01", "Bearer {token}", reading},
		{"POST", "/api/hubs/enviromon/connections/c1/:send?api-version=2022-11-01", "Bearer {token}", reading},
		{"POST", "/api/hubs/Enviromon/:send?api-version=2022-11-01&excluded=c1&excluded=c2", "bearer {token}", reading},
		{"POST", "/api/v1/hubs/enviromon", "Bearer {token}", reading},
		{"POST", "/api/v1/hubs/enviromon/groups/ops", "Bearer {token}", reading},
		{"POST", "/api/v1/hubs/enviromon/users/alice", "Bearer {token}", reading},
		{"PUT", "/api/hubs/enviromon/groups/ops/connections/c1?api-version=2022-11-01", "Bearer {token}", ""},
		{"DELETE", "/api/hubs/enviromon/groups/ops/connections/c1?api-version=2022-11-01", "Bearer {token}", ""},
		{"PUT", "/api/hubs/enviromon/users/alice/groups/ops?api-version=2022-11-01", "Bearer {token}", ""},
		{"PUT", "/api/hubs/newhub/users/bob/groups/ops?api-version=2022-11-01", "Bearer {token}", ""},
		{"DELETE", "/api/hubs/enviromon/users/alice/groups?api-version=2022-11-01", "Bearer {token}", ""},
		{"HEAD", "/api/hubs/enviromon/connections/c1?api-version=2022-11-01", "Bearer {token}", ""},
		{"HEAD", "/api/hubs/enviromon/groups/ops", "Bearer {token}", ""},
		{"HEAD", "/api/hubs/enviromon/users/alice", "Bearer {token}", ""},
		{"HEAD", "/api/health", "", ""},
		// Hostile: bodies, names, paths, methods and tokens.
		{"POST", send, "Bearer {token}", `{"target":"t"} {"target":"u"}`},
		{"POST", send, "Bearer {token}", `{"target":"t","arguments":[1e400]}`},
		{"POST", send, "Bearer {token}", `{"target":"","arguments":[NaN]}`},
		{"POST", send, "Bearer {token}", `{"target":"t","target":5}`},
		{"POST", send, "Bearer {token}", `{"target":"t","arguments":` + strings.Repeat("[", 10001) + `]}`},
		{"POST", send, "Bearer {token}", "\xef\xbb\xbf{\"target\":\"\xff\"}"},
		{"POST", send, "Bearer {token}", `{"target":"t","arguments":["` + strings.Repeat("x", 1<<15) + `"]}`},
		{"POST", send, "Bearer {token}", "null"},
		{"POST", "/api/hubs/bad-hub/:send", "Bearer {token}", reading},
		{"POST", "/api/hubs/" + strings.Repeat("h", 200) + "/:send", "Bearer {token}", reading},
		{"POST", "/api/hubs/%65nviromon/users/%2F..%2F/:send", "Bearer {token}", reading},
		{"POST", "/api/hubs/enviromon/users/%zz/:send", "Bearer {token}", reading},
		{"POST", "/api/hubs/enviromon/../../client/:send", "Bearer {token}", reading},
		{"POST", "//api/hubs/enviromon/:send", "Bearer {token}", reading},
		{"POST", "http://127.0.0.1:8088/api/hubs/enviromon/:send", "Bearer {token}", reading},
		{"GET", send, "Bearer {token}", ""},
		{"PATCH", send, "Bearer {token}", reading},
		{"POST", send, "Basic {token}", reading},
		{"POST", send, "Bearer  {token}x", reading},
		{"POST", send + "&access_token={token}", "", reading},
		{"POST", send, "Bearer eyJhbGciOiJub25lIn0.e30.", reading},
	} {
		f.Add(seed.method, seed.target, seed.auth, []byte(seed.body))
	}
	now := time.Unix(1_700_000_000, 0)
	f.Fuzz(func(t *testing.T, method, target, auth string, body []byte) {
		svc := newFuzzService(t, now)
		defer svc.Close()
		raw := method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:8088\r\nContent-Length: " +
			strconv.Itoa(len(body)) + "\r\n\r\n" + string(body)
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil || !strings.HasPrefix(r.URL.Path, "/api/") {
			return // http.Server answers 400 itself; not a REST request
		}
		r.RemoteAddr = "127.0.0.1:50000"
		token, err := signToken([]byte(testKey), "http://127.0.0.1:8088"+r.URL.EscapedPath(), now.Add(time.Minute), "")
		require.NoError(t, err)
		if auth != "" {
			r.Header.Set("Authorization", strings.ReplaceAll(auth, "{token}", token))
		}
		r.URL.RawQuery = strings.ReplaceAll(r.URL.RawQuery, "{token}", token)

		w := httptest.NewRecorder()
		done := make(chan struct{})
		go func() { defer close(done); svc.ServeHTTP(w, r) }()
		select {
		case <-done:
		case <-time.After(budget):
			t.Fatalf("%s %s: no answer within %s", r.Method, r.URL, budget)
		}

		status := w.Code
		require.True(t, restStatuses[status], "%s %s: status %d", r.Method, r.URL, status)
		if auth == "Bearer {token}" {
			require.NotEqual(t, http.StatusUnauthorized, status, "%s %s: a valid token refused: %s", r.Method, r.URL, w.Body)
		}
		if status == http.StatusAccepted {
			var m message
			require.NoError(t, json.Unmarshal(body, &m), "%s %s: accepted a body that is not one JSON message", r.Method, r.URL)
			require.NotEmpty(t, m.Target, "%s %s: accepted a message without target", r.Method, r.URL)
		}
		switch status {
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge:
			var e errorBody
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &e), "%d without an ErrorDetail: %q", status, w.Body)
			require.NotEmpty(t, e.Code)
			require.NotEmpty(t, e.Message)
		}
		if status == http.StatusUnauthorized {
			require.NotEmpty(t, w.Header().Get("WWW-Authenticate"))
		}
	})
}

// newFuzzService returns a service whose hub enviromon has one live
// connection, c1 of alice, in group ops, as if a client had connected.
func newFuzzService(t *testing.T, now time.Time) *Service {
	t.Helper()
	svc, err := New(Config{Endpoint: "http://127.0.0.1:8088", AccessKey: testKey, Now: func() time.Time { return now }})
	require.NoError(t, err)
	h, err := svc.hub("enviromon")
	require.NoError(t, err)
	require.True(t, h.reg.open("c1", "alice"))
	h.reg.setLive("c1", true)
	require.NoError(t, h.reg.addToGroup("ops", "c1"))
	return svc
}
