package http_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/iothub"
	"github.com/enviromon/enviromon/app/sim"
	simhttp "github.com/enviromon/enviromon/app/sim/http"
)

func TestSendWithCredentials(t *testing.T) {
	var mu sync.Mutex
	var auth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	dev := iothub.Credentials{HostName: "localhost", DeviceID: "sensor-01", Key: []byte("sensor-01-key-0123456789abcdef-0")}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := simhttp.New(srv.URL, nil, simhttp.WithCredentials([]iothub.Credentials{dev}, 10*time.Minute, func() time.Time { return now }))

	require.NoError(t, s.Send(t.Context(), "sensor-01", []byte(`{}`)))
	err := s.Send(t.Context(), "sensor-02", []byte(`{}`))
	assert.ErrorIs(t, err, sim.ErrRejected, "no credentials for that device")

	require.Len(t, auth, 1, "the refused device sent nothing")
	tok, err := iothub.ParseSAS(auth[0])
	require.NoError(t, err)
	assert.NoError(t, tok.Check("localhost", "sensor-01", [][]byte{dev.Key}, now), "a token of the device, as IoT Hub's HTTPS endpoint takes it")
	assert.Equal(t, now.Add(10*time.Minute), tok.Expiry)
}
