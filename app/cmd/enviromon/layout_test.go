package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestKeyLayoutRefusal starts the app on a Table Storage component whose
// keyPrefix would put every device in one partition, in both modes: it must
// stop before opening anything, saying what to change. Nothing listens on
// the component's service URL: the check runs before any connection.
func TestKeyLayoutRefusal(t *testing.T) {
	tableStorage := func(keyPrefix string) string {
		return `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.azure.tablestorage
  version: v1
  metadata:
    - name: accountName
      value: devstoreaccount1
    - name: accountKey
      secretKeyRef: {name: TABLE_KEY, key: TABLE_KEY}
    - name: tableName
      value: enviromon
    - name: serviceURL
      value: http://127.0.0.1:1/devstoreaccount1
    - name: keyPrefix
      value: ` + keyPrefix + `
`
	}
	tests := []struct {
		name, keyPrefix string
		sidecar         bool
		wantErr         string // "" when the check passes
	}{
		{name: "embedded, name", keyPrefix: "name", wantErr: `would keep every device in partition "statestore"`},
		{name: "embedded, appid", keyPrefix: "appid", wantErr: `would keep every device in partition "enviromon"`},
		{name: "sidecar, name", keyPrefix: "name", sidecar: true, wantErr: `would keep every device in partition "statestore"`},
		{name: "sidecar, separator", keyPrefix: `"a||b"`, sidecar: true, wantErr: "must not contain ||"},
		{name: "sidecar, none passes the check", keyPrefix: "none", sidecar: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "statestore.yaml"), []byte(tableStorage(tt.keyPrefix)), 0o600))
			env := map[string]string{"TABLE_KEY": "a2V5"}
			args := []string{"-addr", "127.0.0.1:0", "-components", dir, "-broker", "", "-signalr-local", "", "-output", "",
				"-dashboard", "", "-data", t.TempDir()}
			if tt.sidecar {
				// No sidecar listens there: past the check, the app fails
				// to reach it (after sidecarConnectTimeout), so the context
				// is cut short.
				args = append(args, "-mode", "sidecar")
				env["DAPR_GRPC_ENDPOINT"] = "127.0.0.1:1"
			} else {
				args = append(args, "-mode", "embedded")
			}
			ctx := t.Context()
			if tt.wantErr == "" {
				c, cancel := context.WithTimeout(ctx, 2*time.Second)
				defer cancel()
				ctx = c
			}
			var stderr bytes.Buffer
			err := run(ctx, args, func(k string) string { return env[k] }, &bytes.Buffer{}, &stderr)
			require.Error(t, err)
			if tt.wantErr == "" {
				assert.NotContains(t, err.Error(), "refusing to start")
				return
			}
			assert.Contains(t, err.Error(), "refusing to start")
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}
