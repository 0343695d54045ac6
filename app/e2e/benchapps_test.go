//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/binding"
	"github.com/enviromon/enviromon/app/dapr"
	"github.com/enviromon/enviromon/app/pipeline"
	"github.com/enviromon/enviromon/app/telemetry"
)

// startEmbedded runs the app as `make run` does (components/embedded: the
// embedded broker, SQLite, the local SignalR service), on free ports and
// with its data under dir. args add flags after BENCH_APP_ARGS, so that a
// benchmark comparing two settings keeps its own.
func startEmbedded(t testing.TB, dir string, args ...string) appEndpoint {
	t.Helper()
	ports := freePorts(t, 4)
	addr, brokerAddr, signalrAddr, pprofAddr := "127.0.0.1:"+ports[0], "127.0.0.1:"+ports[1], "127.0.0.1:"+ports[2], "127.0.0.1:"+ports[3]
	comps, data := filepath.Join(dir, "embedded-components"), filepath.Join(dir, "embedded-data")
	copyComponents(t, filepath.Join(tools.root, "components", "embedded"), comps, map[string]string{
		`"data/enviromon.db"`:   fmt.Sprintf("%q", filepath.Join(data, "enviromon.db")),
		"tcp://127.0.0.1:1883":  "tcp://" + brokerAddr,
		"http://127.0.0.1:8088": "http://" + signalrAddr,
	}, map[string]int{})
	// BENCH_APP_ARGS adds flags, to try a setting: BENCH_APP_ARGS='-batch-max 512'.
	p := startProc(t, procSpec{name: "enviromon embedded", bin: tools.enviromon, dir: dir, env: childEnv(),
		args: append([]string{"-mode", "embedded", "-addr", addr, "-components", comps, "-data", data,
			"-broker", brokerAddr, "-signalr-local", signalrAddr, "-dashboard", "", "-log-level", "warn", "-pprof", pprofAddr},
			append(strings.Fields(os.Getenv("BENCH_APP_ARGS")), args...)...)})
	base := "http://" + addr
	require.NoError(t, p.waitFor("ready app", 30*time.Second, statusIs(base+"/readyz", http.StatusOK)))
	return appEndpoint{base: base, pid: p.cmd.Process.Pid, mqttURL: "tcp://" + brokerAddr, pprof: pprofAddr}
}

// sidecarApp is a stand-in app beside its own daprd, on its own stack:
// ceiling B's app that only answers 200, or the baseline.
type sidecarApp struct {
	stack   *stack
	handled atomic.Int64 // deliveries answered 200
	next    int          // the next message number to publish
}

// serveBeside serves h to a daprd of its own (app-protocol h2c, as an app
// with an HTTP route) on a new stack of backend be, and returns once
// daprd's MQTT subscription reached the broker, with daprd's HTTP API.
func serveBeside(t testing.TB, be backend, pod string, h http.Handler) (*stack, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	// HTTP/1.1 and h2c on one port, daprd speaking h2c.
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		Protocols: &protocols, HTTP2: &http.HTTP2Config{MaxConcurrentStreams: 10000}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return besideDaprd(t, be, pod, ln, "h2c")
}

// serveCallbackBeside serves cb to a daprd of its own over gRPC
// (app-protocol grpc), as the app is served, like serveBeside.
func serveCallbackBeside(t testing.TB, be backend, pod string, cb *dapr.Callback) (*stack, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := cb.Server()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return besideDaprd(t, be, pod, ln, "grpc")
}

// besideDaprd starts daprd for the app on ln, speaking protocol.
func besideDaprd(t testing.TB, be backend, pod string, ln net.Listener, protocol string) (*stack, string) {
	t.Helper()
	s := newStack(t, be)
	appPort := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ports := freePorts(t, 4)
	d := s.daprd(t, pod, appPort, protocol, ports)
	require.NoError(t, d.waitFor("healthy sidecar", 90*time.Second, daprdHealthy(ports[0])))
	require.NoError(t, s.broker.waitFor("subscription of "+pod, 60*time.Second, s.broker.logged(pod+"-consumer", shareTopic)))
	return s, "http://127.0.0.1:" + ports[0]
}

// newCeilingB is mosquitto → daprd's bindings.mqtt3 (components/local, as
// the app runs) → daprd's gRPC app channel, as the app is served → an app
// that acknowledges every delivery and does nothing else.
func newCeilingB(t testing.TB) *sidecarApp {
	t.Helper()
	a := &sidecarApp{}
	a.stack, _ = serveCallbackBeside(t, sqliteFile, "ceiling-0", dapr.NewCallback(inputBinding, func(context.Context, pipeline.Message) error {
		a.handled.Add(1)
		return nil
	}))
	return a
}

// measure publishes n messages for devices devices and returns the rate
// at which the stand-in answered them.
func (a *sidecarApp) measure(t testing.TB, n int) float64 {
	t.Helper()
	l := load{broker: a.stack.mqttURL, prefix: "ceil", devices: 1000}
	r := measure(t, l, a.next, n, func(testing.TB) int64 { return a.handled.Load() })
	a.next += n
	return r
}

// baseline is the original system's per-message algorithm (ORIGINAL-SYSTEM.md,
// Data flow) beside daprd on the store under test: for every message, read
// the device's record and its ETag, calibrate (the calibration looked up
// once per device and cached, as the original did), validate, write with
// If-Match (first write wins; re-read and re-apply on a conflict), then one
// SignalR call. The original's function ran one invocation per Event Hubs
// partition at a time, each going through its messages in order, so the
// baseline handles at most baselinePartitions deliveries at once.
type baseline struct {
	*sidecarApp
	dapr  string // daprd's HTTP API
	slots chan struct{}
	mu    sync.Mutex
	calib map[string]telemetry.Calibration
}

// baselinePartitions is IoT Hub's default partition count.
const baselinePartitions = 4

func newBaseline(t testing.TB, be backend) *baseline {
	t.Helper()
	b := &baseline{sidecarApp: &sidecarApp{}, calib: map[string]telemetry.Calibration{},
		slots: make(chan struct{}, baselinePartitions)}
	b.stack, b.dapr = serveBeside(t, be, "baseline-0", http.HandlerFunc(b.serve))
	return b
}

// measure publishes baselineBurst messages and returns the baseline's rate.
func (b *baseline) measure(t testing.TB) float64 {
	t.Helper()
	l := load{broker: b.stack.mqttURL, prefix: "base", devices: 1000}
	r := measure(t, l, b.next, baselineBurst, func(testing.TB) int64 { return b.handled.Load() })
	b.next += baselineBurst
	return r
}

func (b *baseline) serve(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/dapr/") || r.Method != http.MethodPost {
		if r.Method == http.MethodOptions {
			return
		}
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	b.slots <- struct{}{}
	defer func() { <-b.slots }()
	meta := map[string]string{}
	for k := range r.Header {
		meta[k] = r.Header.Get(k)
	}
	m := binding.Message(body, meta)
	readings, err := telemetry.Decode(m.Payload)
	if err == nil {
		for _, rd := range readings {
			if err = b.apply(r.Context(), m.DeviceID, rd); err != nil {
				break
			}
		}
	}
	if err != nil && !errors.Is(err, telemetry.ErrPayload) {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	b.handled.Add(1)
}

// row is the original's device row.
type row struct {
	DeviceID    string   `json:"deviceId"`
	Temperature *float64 `json:"temperature,omitempty"`
	Humidity    *float64 `json:"humidity,omitempty"`
	Pressure    *float64 `json:"pressure,omitempty"`
	MessageID   string   `json:"messageId,omitempty"`
	Count       int64    `json:"count"`
}

// apply is one message of the original algorithm.
func (b *baseline) apply(ctx context.Context, device string, rd telemetry.Reading) error {
	c, err := b.calibration(ctx, device)
	if err != nil {
		return err
	}
	rd = c.Apply(rd)
	if telemetry.DefaultLimits().Validate(rd) != nil {
		return nil // the original dropped an invalid message
	}
	key := "baseline-device-" + device
	for try := 0; ; try++ {
		var rec row
		etag, err := b.get(ctx, key, &rec)
		if err != nil {
			return err
		}
		rec.DeviceID, rec.MessageID = device, rd.MessageID
		rec.Temperature, rec.Humidity, rec.Pressure = rd.Temperature, rd.Humidity, rd.Pressure
		rec.Count++
		code, err := b.save(ctx, key, etag, rec)
		if err != nil {
			return err
		}
		if code/100 == 2 {
			break
		}
		if code != http.StatusConflict || try == 9 {
			return fmt.Errorf("save %s: status %d", key, code)
		}
	}
	data, _ := json.Marshal(map[string]any{"operation": "create", "data": map[string]any{
		"Target": "newMessage", "Arguments": []any{map[string]any{"deviceId": device, "count": 1}}}})
	resp, err := b.call(ctx, http.MethodPost, "/v1.0/bindings/signalr", data)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// calibration reads a device's calibration once and caches it.
func (b *baseline) calibration(ctx context.Context, device string) (telemetry.Calibration, error) {
	b.mu.Lock()
	c, ok := b.calib[device]
	b.mu.Unlock()
	if ok {
		return c, nil
	}
	if _, err := b.get(ctx, "baseline-calibration-"+device, &c); err != nil {
		return c, err
	}
	b.mu.Lock()
	b.calib[device] = c
	b.mu.Unlock()
	return c, nil
}

// get reads key into v and returns its ETag; a missing key leaves v as it is.
func (b *baseline) get(ctx context.Context, key string, v any) (string, error) {
	resp, err := b.call(ctx, http.MethodGet, "/v1.0/state/statestore/"+key, nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode == http.StatusNoContent || len(body) == 0 {
		return "", nil
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("get %s: status %d", key, resp.StatusCode)
	}
	return resp.Header.Get("ETag"), json.Unmarshal(body, v)
}

// save writes rec under key with first-write-wins and returns the status.
func (b *baseline) save(ctx context.Context, key, etag string, rec row) (int, error) {
	item := map[string]any{"key": key, "value": rec, "options": map[string]string{"concurrency": "first-write"}}
	if etag != "" {
		item["etag"] = etag
	}
	data, _ := json.Marshal([]any{item})
	resp, err := b.call(ctx, http.MethodPost, "/v1.0/state/statestore", data)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (b *baseline) call(ctx context.Context, method, path string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, b.dapr+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return http.DefaultClient.Do(req)
}
