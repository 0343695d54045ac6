package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/iothub"
	"github.com/enviromon/enviromon/app/pipeline"
	"github.com/enviromon/enviromon/app/registry"
	"github.com/enviromon/enviromon/app/telemetry"
)

// registryAPI is the router with the real pipeline and the real registry,
// both on one in-memory store; deps adjusts the Deps first.
func registryAPI(t *testing.T, deps func(*Deps)) (*gin.Engine, *registry.Registry) {
	t.Helper()
	store := newMemStore()
	p, err := pipeline.New(store, pipeline.Config{})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	reg, err := registry.New(store, registry.Config{Host: "localhost"})
	require.NoError(t, err)
	d := Deps{Ingest: p, Devices: p, Calibrations: p, Registry: reg, DeviceAuth: reg}
	if deps != nil {
		deps(&d)
	}
	return NewRouter(d), reg
}

// do sends a request with the given headers (name, value, ...).
func do(r http.Handler, method, path, body string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	return w
}

func TestRegistryAPI(t *testing.T) {
	r, _ := registryAPI(t, nil)

	w := do(r, "POST", "/api/registry/devices", `{"deviceId":"sensor-01"}`)
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	assert.Equal(t, "no-store", w.Header().Get("Cache-Control"), "keys are not cached on the way")
	assert.Equal(t, "/api/registry/devices/sensor-01", w.Header().Get("Location"))
	var created identityBody
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &created))
	assert.Equal(t, "sensor-01", created.DeviceID)
	assert.Equal(t, "enabled", created.Status)
	for _, k := range []string{created.PrimaryKey, created.SecondaryKey} {
		b, err := base64.StdEncoding.DecodeString(k)
		require.NoError(t, err)
		assert.Len(t, b, 32)
	}
	c, err := iothub.ParseConnectionString(created.ConnectionString)
	require.NoError(t, err, "a connection string devices can use")
	assert.Equal(t, "localhost", c.HostName)
	assert.Equal(t, "sensor-01", c.DeviceID)
	assert.Equal(t, created.PrimaryKey, base64.StdEncoding.EncodeToString(c.Key))

	w = do(r, "GET", "/api/registry/devices/sensor-01", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var got identityBody
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
	assert.Equal(t, created.PrimaryKey, got.PrimaryKey)
	assert.Equal(t, created.ConnectionString, got.ConnectionString)

	tests := []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"registered twice", "POST", "/api/registry/devices", `{"deviceId":"sensor-01"}`, 409, "already registered"},
		{"bad id", "POST", "/api/registry/devices", `{"deviceId":"a/b"}`, 400, `character '/' at byte 1 is not allowed`},
		{"no id", "POST", "/api/registry/devices", `{}`, 400, "invalid device id: empty"},
		{"unknown field", "POST", "/api/registry/devices", `{"deviceId":"x","primaryKey":"mine"}`, 400, "unknown field"},
		{"not JSON", "POST", "/api/registry/devices", `sensor-01`, 400, "bad request: want {"},
		{"two objects", "POST", "/api/registry/devices", `{"deviceId":"x"}{}`, 400, "one JSON object"},
		{"unknown status", "POST", "/api/registry/devices", `{"deviceId":"x","status":"paused"}`, 400, `status \"paused\", want \"enabled\" or \"disabled\"`},
		{"unregistered", "GET", "/api/registry/devices/ghost", "", 404, "not registered"},
		{"delete unregistered", "DELETE", "/api/registry/devices/ghost", "", 404, "not registered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(r, tt.method, tt.path, tt.body)
			assert.Equal(t, tt.status, w.Code, w.Body.String())
			assert.Contains(t, w.Body.String(), tt.want)
		})
	}
	w = do(r, "GET", "/api/registry/devices/x", "")
	assert.Equal(t, http.StatusNotFound, w.Code, "nothing registered by a refused request")

	w = do(r, "DELETE", "/api/registry/devices/sensor-01", "")
	assert.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
	w = do(r, "GET", "/api/registry/devices/sensor-01", "")
	assert.Equal(t, http.StatusNotFound, w.Code)

	w = do(r, "POST", "/api/registry/devices", `{"deviceId":"sensor-02","status":"disabled"}`)
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	assert.Contains(t, w.Body.String(), `"status":"disabled"`)
}

// refuseAll is a bearer-token check that refuses every token.
type refuseAll struct{}

func (refuseAll) Authenticate(context.Context, string) (Principal, error) {
	return Principal{}, ErrUnauthenticated
}

// TestRegistryNeedsTheWriteGuard: with write auth on, the registry's
// routes, the GET too (it answers keys), need a bearer token.
func TestRegistryNeedsTheWriteGuard(t *testing.T) {
	r, reg := registryAPI(t, func(d *Deps) { d.Auth = refuseAll{} })
	_, err := reg.Register(t.Context(), "sensor-01", "")
	require.NoError(t, err)
	for _, req := range [][3]string{
		{"POST", "/api/registry/devices", `{"deviceId":"sensor-02"}`},
		{"GET", "/api/registry/devices/sensor-01", ""},
		{"DELETE", "/api/registry/devices/sensor-01", ""},
	} {
		w := do(r, req[0], req[1], req[2])
		assert.Equal(t, http.StatusUnauthorized, w.Code, "%s %s", req[0], req[1])
		assert.NotContains(t, w.Body.String(), "primaryKey")
	}
	_, err = reg.Device(t.Context(), "sensor-01")
	assert.NoError(t, err, "not deleted")
	_, err = reg.Device(t.Context(), "sensor-02")
	assert.ErrorIs(t, err, registry.ErrNotFound, "not registered")
}

// TestIngestSAS: HTTP ingest with IoT Hub's Authorization header.
func TestIngestSAS(t *testing.T) {
	hour := time.Now().Add(time.Hour)
	tests := []struct {
		name     string
		require  bool                                  // RequireDeviceAuth: the app listens beyond loopback
		auth     func(dev, other iothub.Device) string // the Authorization header; "" for none
		body     string
		status   int
		want     string
		recorded string // the device the reading is counted on; "" for none
	}{
		{"valid token: the device comes from it", true, func(dev, _ iothub.Device) string { return dev.Credentials("localhost").Token(hour) },
			`{"messageId":"1","temperature":21}`, 200, `"accepted":1`, "sensor-01"},
		{"secondary key", true, func(dev, _ iothub.Device) string {
			return iothub.Credentials{HostName: "localhost", DeviceID: dev.ID, Key: dev.SecondaryKey}.Token(hour)
		}, `{"messageId":"1","temperature":21}`, 200, `"accepted":1`, "sensor-01"},
		{"the payload names another device: a counted rejection", true, func(dev, _ iothub.Device) string { return dev.Credentials("localhost").Token(hour) },
			`{"deviceId":"sensor-02","messageId":"1","temperature":21}`, 200, `payload names device \"sensor-02\" but the transport authenticated \"sensor-01\"`, "sensor-01"},
		{"another device's key", true, func(dev, other iothub.Device) string {
			return iothub.Credentials{HostName: "localhost", DeviceID: dev.ID, Key: other.PrimaryKey}.Token(hour)
		}, `{"messageId":"1","temperature":21}`, 401, "matches no key", ""},
		{"expired", true, func(dev, _ iothub.Device) string {
			return dev.Credentials("localhost").Token(time.Now().Add(-time.Minute))
		},
			`{"messageId":"1","temperature":21}`, 401, "expired", ""},
		{"another hub", true, func(dev, _ iothub.Device) string {
			return iothub.Credentials{HostName: "hub.azure-devices.net", DeviceID: dev.ID, Key: dev.PrimaryKey}.Token(hour)
		}, `{"messageId":"1","temperature":21}`, 401, "another resource", ""},
		{"a bearer token", true, func(iothub.Device, iothub.Device) string { return "Bearer eyJhbGciOi" },
			`{"deviceId":"sensor-01","messageId":"1","temperature":21}`, 401, "SharedAccessSignature", ""},
		{"malformed", true, func(iothub.Device, iothub.Device) string { return "SharedAccessSignature sr=x" },
			`{"deviceId":"sensor-01","messageId":"1","temperature":21}`, 401, "malformed", ""},
		{"no token beyond loopback", true, func(iothub.Device, iothub.Device) string { return "" },
			`{"deviceId":"sensor-01","messageId":"1","temperature":21}`, 401, "anonymous ingest is allowed only", ""},
		{"no token on loopback: the payload's device", false, func(iothub.Device, iothub.Device) string { return "" },
			`{"deviceId":"sensor-02","messageId":"1","temperature":21}`, 200, `"accepted":1`, "sensor-02"},
		{"a token is checked on loopback too", false, func(dev, other iothub.Device) string {
			return iothub.Credentials{HostName: "localhost", DeviceID: dev.ID, Key: other.PrimaryKey}.Token(hour)
		}, `{"messageId":"1","temperature":21}`, 401, "matches no key", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, reg := registryAPI(t, func(d *Deps) { d.RequireDeviceAuth = tt.require })
			dev, err := reg.Register(t.Context(), "sensor-01", "")
			require.NoError(t, err)
			other, err := reg.Register(t.Context(), "sensor-02", "")
			require.NoError(t, err)
			var headers []string
			if a := tt.auth(dev, other); a != "" {
				headers = []string{"Authorization", a}
			}
			w := do(r, "POST", "/api/telemetry", tt.body, headers...)
			assert.Equal(t, tt.status, w.Code, w.Body.String())
			assert.Contains(t, w.Body.String(), tt.want)
			if tt.status == http.StatusUnauthorized {
				assert.Equal(t, "SharedAccessSignature", w.Header().Get("WWW-Authenticate"))
				if a := tt.auth(dev, other); strings.Contains(a, "sig=") {
					sig := a[strings.Index(a, "sig=")+4:][:10]
					assert.NotContains(t, w.Body.String(), sig, "the signature is never echoed")
				}
			}
			var devices []telemetry.Summary
			require.Equal(t, http.StatusOK, get(t, r, "/api/devices", &devices))
			if tt.recorded == "" {
				assert.Empty(t, devices, "nothing counted")
				return
			}
			require.Len(t, devices, 1)
			assert.Equal(t, tt.recorded, devices[0].DeviceID)
		})
	}
}

// TestIngestSASDeletedDevice: a device deleted through the API is refused
// at once.
func TestIngestSASDeletedDevice(t *testing.T) {
	r, reg := registryAPI(t, func(d *Deps) { d.RequireDeviceAuth = true })
	dev, err := reg.Register(t.Context(), "sensor-01", "")
	require.NoError(t, err)
	token := dev.Credentials("localhost").Token(time.Now().Add(time.Hour))
	w := do(r, "POST", "/api/telemetry", `{"messageId":"1","temperature":21}`, "Authorization", token)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, http.StatusNoContent, do(r, "DELETE", "/api/registry/devices/sensor-01", "").Code)
	w = do(r, "POST", "/api/telemetry", `{"messageId":"2","temperature":21}`, "Authorization", token)
	assert.Equal(t, http.StatusUnauthorized, w.Code, w.Body.String())
}
