package signalr

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dapr/components-contrib/bindings"
	daprsignalr "github.com/dapr/components-contrib/bindings/azure/signalr"
	"github.com/dapr/components-contrib/metadata"
	"github.com/dapr/kit/logger"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The official @microsoft/signalr client, as the dashboard uses it: it asks
// the app's negotiate endpoint (answered by the Dapr binding's
// clientNegotiate), follows it to the service, and receives what the binding
// sends.
func TestOfficialClient(t *testing.T) {
	node := nodeClient(t)
	tests := []struct {
		name      string
		transport string
		blockWS   bool
		want      string
	}{
		{"WebSockets", "WebSockets", false, "WebSocketTransport"},
		{"ServerSentEvents", "ServerSentEvents", false, "ServerSentEventsTransport"},
		{"falls back to SSE when WebSockets are blocked", "", true, "ServerSentEventsTransport"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, _ := startService(t, Config{}, func(s *httptest.Server) {
				if tt.blockWS {
					s.Config.Handler = blockWebSockets(s.Config.Handler)
				}
			})
			b := daprsignalr.NewSignalR(logger.NewLogger("signalr-test"))
			require.NoError(t, b.Init(t.Context(), bindings.Metadata{Base: metadata.Base{
				Name:       "dashboard",
				Properties: map[string]string{"connectionString": svc.ConnectionString(), "hub": "enviromon"},
			}}))
			app := httptest.NewServer(appNegotiate(t, b, "alice"))
			t.Cleanup(app.Close)

			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, filepath.Join("testdata", "client.mjs"))
			cmd.Env = append(os.Environ(), "SIGNALR_URL="+app.URL+"/app", "TRANSPORT="+tt.transport, "EXPECT=2")
			cmd.Stderr = newTestWriter(t)
			stdout, err := cmd.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			lines := make(chan map[string]json.RawMessage)
			go func() {
				defer close(lines)
				sc := bufio.NewScanner(stdout)
				for sc.Scan() {
					var ev map[string]json.RawMessage
					if json.Unmarshal(sc.Bytes(), &ev) != nil {
						continue
					}
					select {
					case lines <- ev:
					case <-ctx.Done():
						return
					}
				}
			}()

			connected := <-lines
			require.NotNil(t, connected, "client exited before connecting")
			assert.JSONEq(t, `"connected"`, string(connected["event"]))
			assert.JSONEq(t, `"`+tt.want+`"`, string(connected["transport"]))
			waitLive(t, svc, "enviromon", 1)

			for _, send := range []struct {
				user string
				data string
			}{
				{"bob", `{"target":"newMessage","arguments":[{"deviceId":"not-for-alice","count":0}]}`},
				{"alice", `{"target":"newMessage","arguments":[{"deviceId":"d1","count":1}]}`},
				{"", `{"target":"newMessage","arguments":[{"deviceId":"d2","count":2}]}`},
			} {
				md := map[string]string{}
				if send.user != "" {
					md["user"] = send.user
				}
				_, err := b.Invoke(ctx, &bindings.InvokeRequest{Operation: bindings.CreateOperation, Data: []byte(send.data), Metadata: md})
				require.NoError(t, err)
			}
			var got [][]reading
			for ev := range lines {
				assert.JSONEq(t, `"newMessage"`, string(ev["event"]))
				var args []reading
				require.NoError(t, json.Unmarshal(ev["args"], &args))
				got = append(got, args)
			}
			require.NoError(t, cmd.Wait())
			assert.ElementsMatch(t, [][]reading{{{"d1", 1}}, {{"d2", 2}}}, got)
			waitLive(t, svc, "enviromon", 0) // the client's stop() is seen
		})
	}
}

// appNegotiate is the app's negotiate endpoint, as the dashboard's backend
// serves it: the binding's clientNegotiate answer for user.
func appNegotiate(t *testing.T, b bindings.OutputBinding, user string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /app/negotiate", func(w http.ResponseWriter, r *http.Request) {
		resp, err := b.Invoke(r.Context(), &bindings.InvokeRequest{
			Operation: daprsignalr.ClientNegotiateOperation,
			Metadata:  map[string]string{"user": user},
		})
		if err != nil {
			t.Errorf("clientNegotiate: %v", err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(resp.Data)
	})
	return mux
}

// blockWebSockets refuses WebSocket upgrades, as some proxies do.
func blockWebSockets(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "websockets blocked", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// nodeClient returns the node binary, with @microsoft/signalr installed
// under testdata/node_modules (git-ignored) from testdata/package-lock.json.
// Without node the test is skipped, except in CI (CI set), where it fails.
func nodeClient(t *testing.T) string {
	t.Helper()
	missing := func(what string, err error) {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI: %v", what, err)
		}
		t.Skipf("%s not found: %v", what, err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node", err)
	}
	if _, err := os.Stat(filepath.Join("testdata", "node_modules", "@microsoft", "signalr", "package.json")); err == nil {
		return node
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		missing("npm", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, npm, "ci", "--prefix", "testdata", "--no-audit", "--no-fund").CombinedOutput()
	require.NoError(t, err, "npm ci: %s", out)
	return node
}
