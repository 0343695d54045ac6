package http_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/sim"
	simhttp "github.com/enviromon/enviromon/app/sim/http"
)

// request is what the test server saw of one request.
type request struct {
	method, path, contentType, messageID string
	body                                 []byte
}

// server answers every request with status and body and records it.
func server(t *testing.T, status int, body string) (*httptest.Server, func() []request) {
	t.Helper()
	var mu sync.Mutex
	var got []request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		assert.NoError(t, err)
		mu.Lock()
		got = append(got, request{r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Message-Id"), b})
		mu.Unlock()
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []request {
		mu.Lock()
		defer mu.Unlock()
		return append([]request(nil), got...)
	}
}

func TestSenderSend(t *testing.T) {
	bme := `{"deviceId":"sim-001","messageId":"sim-001-42","temperature":21.37,"humidity":55.2,"pressure":1012.8}`
	pi := `{"messageId":42,"deviceId":"Raspberry Pi Web Client","temperature":25,"humidity":70}`
	tests := []struct {
		name     string
		payload  string
		status   int
		answer   string
		wantID   string
		wantErr  string
		rejected bool
	}{
		{"ok", bme, http.StatusOK, "", "sim-001-42", "", false},
		{"accepted", bme, http.StatusAccepted, "", "sim-001-42", "", false},
		{"numeric message id", pi, http.StatusNoContent, "", "42", "", false},
		{"server error is retryable", bme, http.StatusInternalServerError, "store down\n", "sim-001-42", "status 500: store down", false},
		{"too many requests is retryable", bme, http.StatusTooManyRequests, "slow down", "sim-001-42", "status 429: slow down", false},
		{"bad request is rejected", bme, http.StatusBadRequest, `{"error":"bad json"}`, "sim-001-42", `status 400: {"error":"bad json"}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, got := server(t, tt.status, tt.answer)
			s := simhttp.New(srv.URL+"/api/telemetry", nil)

			err := s.Send(t.Context(), "sim-001", []byte(tt.payload))
			if tt.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				var se *simhttp.StatusError
				require.True(t, errors.As(err, &se))
				assert.Equal(t, tt.status, se.StatusCode)
				assert.Equal(t, tt.rejected, errors.Is(err, sim.ErrRejected))
			}
			reqs := got()
			require.Len(t, reqs, 1)
			assert.Equal(t, request{http.MethodPost, "/api/telemetry", "application/json", tt.wantID, []byte(tt.payload)}, reqs[0])
		})
	}
}

func TestSenderUnreachable(t *testing.T) {
	srv, _ := server(t, http.StatusOK, "")
	url := srv.URL
	srv.Close()
	err := simhttp.New(url, nil).Send(t.Context(), "sim-001", []byte(`{}`))
	require.Error(t, err)
	assert.NotErrorIs(t, err, sim.ErrRejected)
}

func TestRunOverHTTP(t *testing.T) {
	srv, got := server(t, http.StatusAccepted, "")
	cfg := sim.Config{Devices: 2, Rate: 200, Count: 25, Invalid: 0.2, Repeat: 0.2, Seed: 4}
	stats, err := sim.Run(t.Context(), cfg, simhttp.New(srv.URL, nil))
	require.NoError(t, err)

	ids := map[string]map[string]int{} // device → message id → times seen
	for _, r := range got() {
		var m struct{ DeviceID, MessageID string }
		require.NoError(t, json.Unmarshal(r.body, &m))
		assert.Equal(t, m.MessageID, r.messageID)
		if ids[m.DeviceID] == nil {
			ids[m.DeviceID] = map[string]int{}
		}
		ids[m.DeviceID][m.MessageID]++
	}
	require.Len(t, ids, 2)
	for dev, seen := range ids {
		c := stats.Devices[dev]
		assert.Equal(t, 25, c.Acked(), dev)
		assert.Len(t, seen, c.Valid+c.Invalid, dev)
	}
}
