package dapr

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/api"
	"github.com/enviromon/enviromon/app/pipeline"
)

// handled records the messages a route delivered.
type handled struct {
	mu   sync.Mutex
	msgs []pipeline.Message
	err  error
}

func (h *handled) handle(_ context.Context, m pipeline.Message) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, m)
	return h.err
}

func router(h *handled, binding string) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	InputRoute(r, binding, h.handle)
	return r
}

// deliver sends an event the way daprd does with app-protocol http: the
// metadata as headers, whose names net/http canonicalises.
func deliver(r http.Handler, method, path, body string, meta map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range meta {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	return w
}

func TestInputRouteMessage(t *testing.T) {
	enqueued := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for name, tt := range map[string]struct {
		meta map[string]string
		want pipeline.Message
	}{
		"event hubs (IoT Hub)": {
			meta: map[string]string{
				"iothub-connection-device-id": "dev1",
				"message-id":                  "m-1",
				"iothub-enqueuedtime":         enqueued.Format(time.RFC3339Nano),
				"x-opt-sequence-number":       "17",
			},
			want: pipeline.Message{DeviceID: "dev1", MessageID: "m-1", EnqueuedAt: enqueued},
		},
		"event hubs without message id": {
			meta: map[string]string{"iothub-connection-device-id": "dev1", "x-opt-sequence-number": "17"},
			want: pipeline.Message{DeviceID: "dev1", MessageID: "seq:17"},
		},
		"mqtt3 with IoT Hub's topic": {
			meta: map[string]string{"topic": "devices/dev42/messages/events/"},
			want: pipeline.Message{DeviceID: "dev42"},
		},
		"mqtt3 with another topic": {
			meta: map[string]string{"topic": "sensors/dev42"},
			want: pipeline.Message{},
		},
	} {
		t.Run(name, func(t *testing.T) {
			h := &handled{}
			w := deliver(router(h, "telemetry"), http.MethodPost, "/telemetry", `{"temperature":21.5}`, tt.meta)
			assert.Equal(t, http.StatusOK, w.Code)
			assert.Empty(t, w.Body.String())
			require.Len(t, h.msgs, 1)
			tt.want.Payload = []byte(`{"temperature":21.5}`)
			assert.Equal(t, tt.want, h.msgs[0])
		})
	}
}

func TestInputRouteProbe(t *testing.T) {
	h := &handled{}
	w := deliver(router(h, "/telemetry"), http.MethodOptions, "/telemetry", "", nil)
	assert.True(t, w.Code == http.StatusOK || w.Code == http.StatusNoContent, "daprd needs 2xx, got %d", w.Code)
	assert.Empty(t, h.msgs)
}

func TestInputRouteBodyLimit(t *testing.T) {
	for name, tt := range map[string]struct {
		size      int
		truncated bool
	}{
		"at IoT Hub's limit":                       {maxEvent, false},
		"over it: handed on as a rejection, acked": {maxEvent + 1, true},
	} {
		t.Run(name, func(t *testing.T) {
			h := &handled{}
			w := deliver(router(h, "telemetry"), http.MethodPost, "/telemetry", strings.Repeat("x", tt.size), nil)
			assert.Equal(t, http.StatusOK, w.Code)
			require.Len(t, h.msgs, 1)
			assert.Equal(t, tt.truncated, h.msgs[0].Truncated)
			assert.LessOrEqual(t, len(h.msgs[0].Payload), maxEvent)
		})
	}
}

func TestInputRouteFailure(t *testing.T) {
	h := &handled{err: errors.New("commit: state store unavailable")}
	w := deliver(router(h, "telemetry"), http.MethodPost, "/telemetry", `{}`, nil)
	assert.Equal(t, http.StatusInternalServerError, w.Code, "non-2xx, so the binding does not acknowledge")
	var body errorBody
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
	assert.Equal(t, "commit: state store unavailable", body.Error)
}

func TestInputRouteFailureTextIsShort(t *testing.T) {
	h := &handled{err: errors.New(strings.Repeat("e", 5000))}
	w := deliver(router(h, "telemetry"), http.MethodPost, "/telemetry", `{}`, nil)
	assert.Equal(t, http.StatusInternalServerError, w.Code)
	assert.Less(t, w.Body.Len(), 300)
}

// TestInputRouteOnAPIRouter mounts the route the way the app does, through
// api.Deps.Extra, behind the API's middleware.
func TestInputRouteOnAPIRouter(t *testing.T) {
	h := &handled{}
	r := api.NewRouter(api.Deps{Extra: func(r *gin.Engine) { InputRoute(r, "telemetry", h.handle) }})

	assert.Equal(t, http.StatusNoContent, deliver(r, http.MethodOptions, "/telemetry", "", nil).Code)
	w := deliver(r, http.MethodPost, "/telemetry", `{"t":1}`, map[string]string{"topic": "devices/d1/messages/events/"})
	assert.Equal(t, http.StatusOK, w.Code)
	require.Len(t, h.msgs, 1)
	assert.Equal(t, "d1", h.msgs[0].DeviceID)
	assert.Equal(t, http.StatusOK,
		deliver(r, http.MethodPost, "/telemetry", strings.Repeat("x", maxEvent+1), nil).Code,
		"behind the API's body limit too, an oversized event is handed on as truncated")
	require.Len(t, h.msgs, 2)
	assert.True(t, h.msgs[1].Truncated)
}

func TestInputRouteAppToken(t *testing.T) {
	const token = "app-token-3f9a"
	for name, tt := range map[string]struct {
		configured string
		sent       map[string]string
		want       int
	}{
		"right token":               {token, map[string]string{AppTokenHeader: token}, http.StatusOK},
		"header name in other case": {token, map[string]string{"Dapr-Api-Token": token}, http.StatusOK},
		"wrong token":               {token, map[string]string{AppTokenHeader: "app-token-3f9b"}, http.StatusUnauthorized},
		"token with a suffix":       {token, map[string]string{AppTokenHeader: token + "x"}, http.StatusUnauthorized},
		"missing":                   {token, nil, http.StatusUnauthorized},
		"empty":                     {token, map[string]string{AppTokenHeader: ""}, http.StatusUnauthorized},
		"none configured: open":     {"", nil, http.StatusOK},
		"none configured, one sent": {"", map[string]string{AppTokenHeader: "anything"}, http.StatusOK},
	} {
		t.Run(name, func(t *testing.T) {
			h := &handled{}
			gin.SetMode(gin.ReleaseMode)
			r := gin.New()
			InputRoute(r, "telemetry", h.handle, WithAppToken(tt.configured))
			meta := map[string]string{"topic": "devices/d1/messages/events/"}
			for k, v := range tt.sent {
				meta[k] = v
			}
			w := deliver(r, http.MethodPost, "/telemetry", `{"temperature":1}`, meta)
			assert.Equal(t, tt.want, w.Code)
			if tt.want != http.StatusOK {
				assert.Empty(t, h.msgs, "a refused delivery must not reach the pipeline")
				assert.NotContains(t, w.Body.String(), token, "the answer must not echo the token")
				return
			}
			require.Len(t, h.msgs, 1)
			assert.Equal(t, "d1", h.msgs[0].DeviceID)
		})
	}
}

// TestInputRouteAppTokenProbe: daprd's start-up OPTIONS stays open, since
// daprd takes a refused probe for "not subscribed" and reads nothing.
func TestInputRouteAppTokenProbe(t *testing.T) {
	h := &handled{}
	r := api.NewRouter(api.Deps{Extra: func(r *gin.Engine) { InputRoute(r, "telemetry", h.handle, WithAppToken("secret")) }})
	assert.Equal(t, http.StatusNoContent, deliver(r, http.MethodOptions, "/telemetry", "", nil).Code)
	assert.Equal(t, http.StatusUnauthorized, deliver(r, http.MethodPost, "/telemetry", `{}`, nil).Code,
		"behind the API's middleware too")
	assert.Empty(t, h.msgs)
}
