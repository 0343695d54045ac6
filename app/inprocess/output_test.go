package inprocess_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/component"
	"github.com/enviromon/enviromon/app/inprocess"
)

// TestOutputSignalR opens bindings.azure.signalr from a manifest whose
// connection string comes from the environment, and drives it against a
// stand-in service on 127.0.0.1.
func TestOutputSignalR(t *testing.T) {
	type request struct{ path, auth, body string }
	got := make(chan request, 1)
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- request{path: r.URL.Path, auth: r.Header.Get("Authorization"), body: string(body)}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(svc.Close)

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notify.yaml"), []byte(`apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: notify}
spec:
  type: bindings.azure.signalr
  version: v1
  metadata:
  - name: connectionString
    secretKeyRef: {name: SIGNALR_CONNECTION_STRING}
  - {name: hub, value: telemetry}
`), 0o600))
	cs, err := component.LoadDir(dir, component.Options{AppID: "enviromon", Getenv: func(k string) string {
		if k == "SIGNALR_CONNECTION_STRING" {
			return "Endpoint=" + svc.URL + ";AccessKey=c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0xMjM0NTY3ODkw;Version=1.0;"
		}
		return ""
	}})
	require.NoError(t, err)
	require.Len(t, cs, 1)

	out, err := inprocess.OpenOutput(t.Context(), cs[0], nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, out.Close()) })

	t.Run("clientNegotiate", func(t *testing.T) {
		data, _, err := out.Invoke(t.Context(), "clientNegotiate", nil, map[string]string{"user": "u1"})
		require.NoError(t, err)
		var neg struct{ URL, AccessToken string }
		require.NoError(t, json.Unmarshal(data, &neg))
		assert.Equal(t, svc.URL+"/client/?hub=telemetry", neg.URL)
		assert.Equal(t, 2, strings.Count(neg.AccessToken, "."), "a JWT")
	})

	t.Run("create sends to a group", func(t *testing.T) {
		msg := `{"target":"newMessage","arguments":[{"device":"dev1"}]}`
		_, _, err := out.Invoke(t.Context(), "create", []byte(msg), map[string]string{"group": "dev1"})
		require.NoError(t, err)
		r := <-got
		assert.Equal(t, "/api/hubs/telemetry/groups/dev1/:send", r.path)
		assert.True(t, strings.HasPrefix(r.auth, "Bearer "))
		assert.JSONEq(t, msg, r.body)
	})

	t.Run("unsupported operation", func(t *testing.T) {
		_, _, err := out.Invoke(t.Context(), "delete", nil, nil)
		require.ErrorContains(t, err, `operation "delete" not supported`)
	})
}

func TestOpenRefusals(t *testing.T) {
	ctx := t.Context()
	_, err := inprocess.OpenState(ctx, component.Component{Name: "x", Type: "state.postgresql"}, "app", nil)
	require.ErrorContains(t, err, `type "state.postgresql" cannot run in-process; supported: bindings.azure.eventhubs, bindings.azure.signalr, bindings.http, bindings.mqtt3, secretstores.local.env, state.azure.tablestorage, state.in-memory, state.redis, state.sqlite`)

	_, err = inprocess.OpenState(ctx, component.Component{Name: "x", Type: "state.sqlite", Version: "v2"}, "app", nil)
	require.ErrorContains(t, err, `version "v2" is not supported`)

	_, err = inprocess.OpenState(ctx, component.Component{Name: "x", Type: "bindings.mqtt3"}, "app", nil)
	require.ErrorContains(t, err, "not a state store")

	_, err = inprocess.OpenInput(ctx, component.Component{Name: "x", Type: "bindings.azure.signalr"}, nil)
	require.ErrorContains(t, err, "not an input binding")

	_, err = inprocess.OpenOutput(ctx, component.Component{Name: "x", Type: "State.SQLite"}, nil)
	require.ErrorContains(t, err, "not an output binding", "types match case-insensitively")

	require.NoError(t, inprocess.Check(component.Component{Name: "secrets", Type: "secretstores.local.env"}))
}
