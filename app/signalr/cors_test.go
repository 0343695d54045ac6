package signalr

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOrigins(t *testing.T) {
	const dashboard = "http://dashboard.test:8080"
	svc, srv := startService(t, Config{AllowedOrigins: []string{dashboard}})
	n, err := svc.ClientNegotiation("enviromon", "", time.Hour)
	require.NoError(t, err)
	negotiate := srv.URL + "/client/negotiate?hub=enviromon&negotiateVersion=1"
	tests := []struct {
		name       string
		method     string
		origin     string
		websocket  bool
		want       int
		wantEchoed bool
	}{
		{"preflight from allowed origin", http.MethodOptions, dashboard, false, http.StatusNoContent, true},
		{"preflight from own origin", http.MethodOptions, srv.URL, false, http.StatusNoContent, true},
		{"preflight from other origin", http.MethodOptions, "http://evil.test", false, http.StatusForbidden, false},
		{"preflight from allowed host, other scheme", http.MethodOptions, "https://dashboard.test:8080", false, http.StatusForbidden, false},
		{"negotiate from allowed origin", http.MethodPost, dashboard, false, http.StatusOK, true},
		{"negotiate from other origin", http.MethodPost, "http://evil.test", false, http.StatusForbidden, false},
		{"negotiate without origin (not a browser)", http.MethodPost, "", false, http.StatusOK, false},
		{"websocket from other origin", http.MethodGet, "http://evil.test", true, http.StatusForbidden, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := negotiate
			if tt.websocket {
				url = srv.URL + "/client/?hub=enviromon&id=x"
			}
			req, err := http.NewRequestWithContext(t.Context(), tt.method, url, nil)
			require.NoError(t, err)
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			if tt.method == http.MethodOptions {
				req.Header.Set("Access-Control-Request-Method", "POST")
				req.Header.Set("Access-Control-Request-Headers", "authorization,x-signalr-user-agent")
			} else {
				req.Header.Set("Authorization", "Bearer "+n.AccessToken)
			}
			if tt.websocket {
				req.Header.Set("Connection", "Upgrade")
				req.Header.Set("Upgrade", "websocket")
				req.Header.Set("Sec-WebSocket-Version", "13")
				req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())

			assert.Equal(t, tt.want, resp.StatusCode)
			if tt.wantEchoed {
				assert.Equal(t, tt.origin, resp.Header.Get("Access-Control-Allow-Origin"))
				assert.Equal(t, "true", resp.Header.Get("Access-Control-Allow-Credentials"))
			} else {
				assert.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
			}
			if tt.method == http.MethodOptions && tt.wantEchoed {
				assert.Contains(t, resp.Header.Get("Access-Control-Allow-Headers"), "Authorization")
				assert.Contains(t, resp.Header.Get("Access-Control-Allow-Headers"), "X-SignalR-User-Agent")
			}
		})
	}
}

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // "" when New accepts cfg
	}{
		{"minimal", Config{Endpoint: "http://127.0.0.1:8088", AccessKey: "k"}, ""},
		{"trailing slash", Config{Endpoint: "https://signalr.example/", AccessKey: "k"}, ""},
		{"listed origins", Config{Endpoint: "http://127.0.0.1:8088", AccessKey: "k",
			AllowedOrigins: []string{"http://127.0.0.1:8080", "https://dashboard.test/"}}, ""},
		{"no scheme", Config{Endpoint: "127.0.0.1:8088", AccessKey: "k"}, "not an http(s) base URL"},
		{"with path", Config{Endpoint: "http://127.0.0.1:8088/signalr", AccessKey: "k"}, "not an http(s) base URL"},
		{"no key", Config{Endpoint: "http://127.0.0.1:8088"}, "access key is empty"},
		{"key with ;", Config{Endpoint: "http://127.0.0.1:8088", AccessKey: "a;b"}, "contains ';'"},
		{"wildcard origin", Config{Endpoint: "http://127.0.0.1:8088", AccessKey: "k", AllowedOrigins: []string{"*"}},
			`"*": a wildcard would let any web site connect`},
		{"wildcard subdomain", Config{Endpoint: "http://127.0.0.1:8088", AccessKey: "k", AllowedOrigins: []string{"https://*.example.com"}},
			"a wildcard"},
		{"origin without scheme", Config{Endpoint: "http://127.0.0.1:8088", AccessKey: "k", AllowedOrigins: []string{"dashboard.test"}},
			`"dashboard.test" is not http(s)://host[:port]`},
		{"origin with a path", Config{Endpoint: "http://127.0.0.1:8088", AccessKey: "k", AllowedOrigins: []string{"http://dashboard.test/app"}},
			"is not http(s)://host[:port]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, err := New(tt.cfg)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			t.Cleanup(func() { assert.NoError(t, svc.Close()) })
			assert.Regexp(t, `^Endpoint=https?://[^/;]+;AccessKey=k;Version=1\.0;$`, svc.ConnectionString())
		})
	}
}
