package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dapr/components-contrib/bindings"
	daprsignalr "github.com/dapr/components-contrib/bindings/azure/signalr"
	"github.com/dapr/components-contrib/metadata"
	"github.com/dapr/kit/logger"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/internal/testenv"
)

// The command serves what its printed connection string says, to the Dapr
// binding, and shuts down promptly with a client's event stream open.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := &testenv.SyncBuffer{}
	env := map[string]string{"SIGNALR_ACCESS_KEY": "from-env-0123456789"}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, out)
	}()

	var connStr string
	require.Eventually(t, func() bool {
		first, _, ok := strings.Cut(out.String(), "\n")
		connStr = first
		return ok
	}, 5*time.Second, 10*time.Millisecond)
	require.Regexp(t, `^Endpoint=http://127\.0\.0\.1:\d+;AccessKey=from-env-0123456789;Version=1\.0;$`, connStr)
	assert.NotContains(t, strings.SplitN(out.String(), "\n", 2)[1], "from-env-0123456789", "the key is logged unmasked")

	b := daprsignalr.NewSignalR(logger.NewLogger("signalr-local-test"))
	require.NoError(t, b.Init(ctx, bindings.Metadata{Base: metadata.Base{
		Name:       "dashboard",
		Properties: map[string]string{"connectionString": connStr, "hub": "enviromon"},
	}}))
	resp, err := b.Invoke(ctx, &bindings.InvokeRequest{Operation: daprsignalr.ClientNegotiateOperation})
	require.NoError(t, err)
	var n struct{ URL, AccessToken string }
	require.NoError(t, json.Unmarshal(resp.Data, &n))

	// A client's event stream, open during shutdown: its own context, so
	// that only the server can end it.
	stream := openEventStream(t, t.Context(), n.URL, n.AccessToken)
	defer stream.Body.Close()
	_, err = b.Invoke(ctx, &bindings.InvokeRequest{
		Operation: bindings.CreateOperation,
		Data:      []byte(`{"target":"newMessage","arguments":[{"deviceId":"d1","count":1}]}`),
	})
	require.NoError(t, err)

	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    config
		wantErr bool
	}{
		{"defaults", nil, nil, config{Addr: "127.0.0.1:8088"}, false},
		{"environment", nil, map[string]string{"SIGNALR_ADDR": ":9000", "SIGNALR_ACCESS_KEY": "k", "SIGNALR_ALLOWED_ORIGINS": "http://a:1, http://b:2", "SIGNALR_LOG_LEVEL": "debug"},
			config{Addr: ":9000", AccessKey: "k", AllowedOrigins: []string{"http://a:1", "http://b:2"}, LogLevel: slog.LevelDebug}, false},
		{"flags win", []string{"-addr", ":7000", "-access-key", "f", "-allow-origins", "http://c:3"}, map[string]string{"SIGNALR_ADDR": ":9000", "SIGNALR_ACCESS_KEY": "k"},
			config{Addr: ":7000", AccessKey: "f", AllowedOrigins: []string{"http://c:3"}}, false},
		{"bad log level", []string{"-log-level", "loud"}, nil, config{}, true},
		{"unknown flag", []string{"-port", "1"}, nil, config{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := loadConfig(tt.args, func(k string) string { return tt.env[k] }, &bytes.Buffer{})
			if tt.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			if tt.want.AccessKey == "" {
				assert.Len(t, got.AccessKey, 43, "a random 32-byte key")
				got.AccessKey = ""
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

// openEventStream negotiates and opens a Server-Sent Events connection.
func openEventStream(t *testing.T, ctx context.Context, url, token string) *http.Response {
	t.Helper()
	negotiate := strings.Replace(url, "/client/?", "/client/negotiate?", 1)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, negotiate, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var neg struct{ ConnectionID string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&neg))
	require.NoError(t, resp.Body.Close())

	req, err = http.NewRequestWithContext(ctx, http.MethodGet, url+"&id="+neg.ConnectionID, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return resp
}

func TestReachable(t *testing.T) {
	tests := []struct {
		ip   net.IP
		want string
	}{
		{net.IPv4zero, "127.0.0.1:8088"},
		{net.IPv6unspecified, "127.0.0.1:8088"},
		{net.IPv4(127, 0, 0, 1), "127.0.0.1:8088"},
		{net.IPv6loopback, "[::1]:8088"},
	}
	for _, tt := range tests {
		t.Run(tt.ip.String(), func(t *testing.T) {
			assert.Equal(t, tt.want, reachable(&net.TCPAddr{IP: tt.ip, Port: 8088}))
		})
	}
}
