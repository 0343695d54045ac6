package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestComponentIgnoreErrors starts the app in embedded mode with one
// component that fails to start. spec.ignoreErrors skips it as daprd would
// only where the app can run on without it: without the output binding the
// app runs, without live updates, and says so; without the state store or
// the input binding it cannot, and the start fails naming the component.
func TestComponentIgnoreErrors(t *testing.T) {
	closedPort := func(t *testing.T) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		require.NoError(t, ln.Close())
		return ln.Addr().String()
	}
	tests := []struct {
		name     string
		file     string // the manifest replaced, in components/embedded
		manifest func(t *testing.T) string
		wantErr  []string // what the start's error says; none when the app starts
		wantLog  string
	}{
		{
			name: "a skipped output binding: no live updates",
			file: "signalr.yaml",
			manifest: func(*testing.T) string {
				return manifestYAML("signalr", "bindings.azure.signalr", "ignoreErrors: true", "{name: hub, value: enviromon}")
			},
			wantLog: `msg="output binding skipped: no live updates" err="component \"signalr\": init bindings.azure.signalr: missing endpoint in the metadata or connection string; skipped, as its spec.ignoreErrors is set"`,
		},
		{
			name: "a failing output binding without ignoreErrors",
			file: "signalr.yaml",
			manifest: func(*testing.T) string {
				return manifestYAML("signalr", "bindings.azure.signalr", "", "{name: hub, value: enviromon}")
			},
			wantErr: []string{`component "signalr": init bindings.azure.signalr: missing endpoint in the metadata or connection string`},
		},
		{
			name: "the state store cannot be skipped",
			file: "statestore.yaml",
			manifest: func(t *testing.T) string {
				return manifestYAML("statestore", "state.redis", "ignoreErrors: true\n  initTimeout: 300ms", "{name: redisHost, value: "+closedPort(t)+"}")
			},
			wantErr: []string{`component "statestore": init state.redis: timed out after 300ms (spec.initTimeout)`,
				"(spec.ignoreErrors is set, but the app cannot run without its state store)"},
		},
		{
			name: "the input binding cannot be skipped",
			file: "telemetry.yaml",
			manifest: func(*testing.T) string {
				return manifestYAML("telemetry", "bindings.mqtt3", "ignoreErrors: true", "{name: topic, value: devices/#}")
			},
			wantErr: []string{`component "telemetry": init bindings.mqtt3: missing url (spec.ignoreErrors is set, but the app cannot run without its input binding)`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := newPorts(t)
			comps := embeddedSetup(t, dir, p)
			require.NoError(t, os.WriteFile(filepath.Join(comps, tt.file), []byte(tt.manifest(t)), 0o600))
			cfg, err := parseConfig(appArgs(dir, comps, p), func(string) string { return "" }, io.Discard)
			require.NoError(t, err)
			var logs lockedBuffer
			a, err := start(t.Context(), cfg, func(string) string { return "" }, slog.New(slog.NewTextHandler(&logs, nil)))
			if tt.wantErr != nil {
				require.Error(t, err)
				for _, want := range tt.wantErr {
					assert.Contains(t, err.Error(), want)
				}
				return
			}
			require.NoError(t, err)
			t.Cleanup(func() { assert.NoError(t, a.close()) })
			assert.Contains(t, logs.String(), tt.wantLog)

			base := "http://" + a.httpAddr
			assert.Equal(t, http.StatusNotFound, postStatus(t, base+"/api/negotiate?negotiateVersion=1", ""),
				"no negotiate without live updates")
			assert.Equal(t, http.StatusOK, postStatus(t, base+"/api/telemetry", `{"deviceId":"d1","messageId":"1","temperature":21.5}`),
				"ingest goes on")
		})
	}
}

// manifestYAML is a Component manifest with more spec lines and metadata
// entries in YAML flow style.
func manifestYAML(name, typ, spec string, metadata ...string) string {
	s := "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: " + name + "}\nspec:\n  type: " + typ + "\n"
	if spec != "" {
		s += "  " + spec + "\n"
	}
	return s + "  metadata: [" + strings.Join(metadata, ", ") + "]\n"
}

// postStatus posts body to url and returns the answer's status.
func postStatus(t *testing.T, url, body string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(context.WithoutCancel(t.Context()), http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return resp.StatusCode
}

// lockedBuffer is a log destination the app writes while the test reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
