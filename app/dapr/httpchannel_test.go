//go:build !race

// The race detector flags daprd's own data race this test shows (two
// calls writing one closure's variables, http_channel.go:381), so it runs
// without it: `make test-unit` runs it separately.

package dapr

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	channelhttp "github.com/dapr/dapr/pkg/channel/http"
	invokev1 "github.com/dapr/dapr/pkg/messaging/v1"
	httpmiddleware "github.com/dapr/dapr/pkg/middleware/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// roundTripFunc is an http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestDaprdHTTPChannelReportsFailuresAsDelivered shows why the app serves
// daprd's gRPC app channel (Callback) and not the HTTP route: daprd 1.16's
// HTTP app channel, built as daprd builds it (its "app" middleware pipeline
// with no handlers), run with deliveries the app answers and deliveries
// that fail to connect, at once. It installs each call's handler as the
// shared pipeline's root, so a call can run another's handler; the failed
// call's error then lands on the other call, and the failed call reads as
// 200. The input binding acknowledges such a message, and it is lost.
//
// If this test fails after a daprd upgrade, the channel no longer mixes
// calls up and the HTTP route is safe again (README, Faults).
func TestDaprdHTTPChannelReportsFailuresAsDelivered(t *testing.T) {
	transport := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		time.Sleep(time.Millisecond) // calls overlap, as deliveries do
		if strings.HasSuffix(r.URL.Path, "/refused") {
			return nil, errors.New("dial tcp 127.0.0.1:8081: connect: connection refused")
		}
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Header: http.Header{}}, nil
	})
	ch, err := channelhttp.CreateHTTPChannel(channelhttp.ChannelConfiguration{
		Client:     &http.Client{Transport: transport},
		Endpoint:   "http://127.0.0.1:8081",
		Middleware: httpmiddleware.New().BuildPipelineFromSpec("app", nil),
	})
	require.NoError(t, err)

	// The calls must interleave in a window of a few instructions: batches
	// of concurrent calls until one failed call comes back as delivered
	// (here about one in 10,000), for at most a minute.
	var refusedAsDelivered, refused atomic.Int64
	for deadline := time.Now().Add(time.Minute); refusedAsDelivered.Load() == 0 && time.Now().Before(deadline); {
		var wg sync.WaitGroup
		for i := range 10000 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				path := "telemetry/ok"
				if i%2 == 0 {
					path = "telemetry/refused"
				}
				req := invokev1.NewInvokeMethodRequest(path).WithHTTPExtension(http.MethodPost, "").
					WithRawDataBytes([]byte(`{}`)).WithContentType(invokev1.JSONContentType)
				defer req.Close()
				resp, err := ch.InvokeMethod(context.Background(), req, "")
				if resp != nil {
					defer resp.Close()
				}
				if path != "telemetry/refused" {
					return
				}
				refused.Add(1)
				if err == nil && resp != nil && resp.Status().GetCode() == http.StatusOK {
					refusedAsDelivered.Add(1)
				}
			}()
		}
		wg.Wait()
	}
	t.Logf("%d of %d refused deliveries came back from daprd's HTTP channel as 200", refusedAsDelivered.Load(), refused.Load())
	assert.Positive(t, refusedAsDelivered.Load(), "daprd's HTTP app channel no longer reports failed calls as delivered: the HTTP route is safe again")
}
