package signalr

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	psignalr "github.com/philippseith/signalr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testKey = "test-access-key-0123456789abcdefghijklmnop"

// startService serves a Service on 127.0.0.1 with the endpoint it really
// listens on, as signalr-local does.
// Options change the test server before it starts.
func startService(t *testing.T, cfg Config, opts ...func(*httptest.Server)) (*Service, *httptest.Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	if cfg.Endpoint == "" {
		cfg.Endpoint = "http://" + ln.Addr().String()
	}
	if cfg.AccessKey == "" {
		cfg.AccessKey = testKey
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	svc, err := New(cfg)
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(svc)
	require.NoError(t, srv.Listener.Close())
	srv.Listener = ln
	for _, o := range opts {
		o(srv)
	}
	srv.Start()
	t.Cleanup(func() {
		require.NoError(t, svc.Close())
		srv.Close()
	})
	return svc, srv
}

// testLogger writes to the test log, only while the test runs.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(newTestWriter(t), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newTestWriter returns a writer to the test log that drops what comes
// after the test (goroutines of a failed test may still write).
func newTestWriter(t *testing.T) io.Writer {
	w := &testWriter{t: t}
	t.Cleanup(w.stop)
	return w
}

type testWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

func (w *testWriter) stop() { w.mu.Lock(); w.done = true; w.mu.Unlock() }

// rest sends a REST request signed for its URL, as components-contrib
// does, and returns the status.
func rest(t *testing.T, method, url string, body any) int {
	t.Helper()
	token, err := signToken([]byte(testKey), url, time.Now().Add(time.Minute), "")
	require.NoError(t, err)
	return restWithToken(t, method, url, token, body)
}

func restWithToken(t *testing.T, method, url, token string, body any) int {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		require.NoError(t, err)
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, r)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	return resp.StatusCode
}

// reading is the payload the dashboard receives on newMessage.
type reading struct {
	DeviceID string `json:"deviceId"`
	Count    int    `json:"count"`
}

// receiver is a philippseith client receiver for newMessage.
type receiver struct {
	got chan reading
}

// NewMessage is called by the library for the "newMessage" target.
func (r *receiver) NewMessage(v reading) { r.got <- v }

// goClient is a philippseith client connected to a Negotiation.
type goClient struct {
	id string
	rx *receiver
}

// connectGo connects a Go client over transport with n's URL and token:
// in the Authorization header for WebSockets, in access_token for SSE
// (the library's SSE sends carry no headers).
func connectGo(t *testing.T, n Negotiation, transport psignalr.TransportType) *goClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	conn, err := dial(ctx, n, transport)
	require.NoError(t, err)
	rx := &receiver{got: make(chan reading, 16)}
	client, err := psignalr.NewClient(ctx,
		psignalr.WithConnection(conn),
		psignalr.WithReceiver(rx),
		psignalr.Logger(kitLogger{log: testLogger(t)}, false))
	require.NoError(t, err)
	client.Start()
	t.Cleanup(client.Stop)
	waitCtx, waitCancel := context.WithTimeout(ctx, 5*time.Second)
	defer waitCancel()
	require.NoError(t, <-client.WaitForState(waitCtx, psignalr.ClientConnected))
	return &goClient{id: conn.ConnectionID(), rx: rx}
}

func dial(ctx context.Context, n Negotiation, transport psignalr.TransportType) (psignalr.Connection, error) {
	if transport == psignalr.TransportServerSentEvents {
		u, err := url.Parse(n.URL)
		if err != nil {
			return nil, err
		}
		q := u.Query()
		q.Set("access_token", n.AccessToken)
		u.RawQuery = q.Encode()
		return psignalr.NewHTTPConnection(ctx, u.String(), psignalr.WithTransports(transport))
	}
	return psignalr.NewHTTPConnection(ctx, n.URL, psignalr.WithTransports(transport),
		psignalr.WithHTTPHeaders(func() http.Header {
			return http.Header{"Authorization": {"Bearer " + n.AccessToken}}
		}))
}

// waitLive waits until hub has n connections that sends reach.
func waitLive(t *testing.T, svc *Service, hub string, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return svc.ConnectionCount(hub) == n },
		5*time.Second, 10*time.Millisecond, "want %d live connections", n)
}

// expect asserts that c receives want, and nothing else within a grace
// period when want is nil.
func (c *goClient) expect(t *testing.T, want *reading) {
	t.Helper()
	if want == nil {
		select {
		case got := <-c.rx.got:
			t.Errorf("connection %s received %+v, want nothing", c.id, got)
		case <-time.After(300 * time.Millisecond):
		}
		return
	}
	select {
	case got := <-c.rx.got:
		assert.Equal(t, *want, got, "connection %s", c.id)
	case <-time.After(5 * time.Second):
		t.Errorf("connection %s received nothing, want %+v", c.id, *want)
	}
}
