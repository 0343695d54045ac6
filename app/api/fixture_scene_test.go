package api

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/alert"
	"github.com/enviromon/enviromon/app/notify"
	"github.com/enviromon/enviromon/app/pipeline"
	"github.com/enviromon/enviromon/app/telemetry"
)

// scene runs the fixtures' scenario through the app's own code: the HTTP
// handlers over a running pipeline (in-memory store, history kept), the
// alert service and evaluator, and the live notifier, all on one clock
// that the scenario sets before each step. See fixtures_test.go.
type scene struct {
	t         *testing.T
	ctx       context.Context
	router    http.Handler
	eval      *alert.Evaluator
	notes     *commits
	live      *notify.Notifier
	recording bool      // commits go to the live notifier
	swept     time.Time // the last alert sweep

	mu   sync.Mutex
	now  time.Time
	sent []json.RawMessage // invocations sent to the SignalR binding
}

// sweepEvery is how often the scenario runs the alert sweep, which the app
// runs every alert.SweepEvery: often enough for the offline rule.
const sweepEvery = 5 * time.Minute

func newScene(t *testing.T, start time.Time) *scene {
	t.Helper()
	s := &scene{t: t, now: start, swept: start, notes: &commits{}}
	ctx, cancel := context.WithCancel(context.Background())
	s.ctx = ctx
	// One lane: one commit at a time, in the order sent.
	p, err := pipeline.New(newMemStore(), pipeline.Config{Lanes: 1, HistoryMinutes: 48 * time.Hour, HistoryHours: 30 * 24 * time.Hour},
		pipeline.WithClock(s.clock), pipeline.WithNotifier(s.notes))
	require.NoError(t, err)
	// The SignalR binding, without a network: every invocation is kept.
	binding := notify.Binding{Invoker: notify.InvokerFunc(s.invoke)}
	s.live, err = notify.New(binding, 1000, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	svc := alert.NewService(alert.NewMemStore(), s.clock)
	// As app/cmd/enviromon/alerts.go wires it: raises and clears go to the
	// dashboard through the binding.
	toDashboard := alert.SenderFunc(func(ctx context.Context, a alert.Alert) error {
		return binding.Broadcast(ctx, notify.AlertTarget, a)
	})
	s.eval = alert.NewEvaluator(svc, lister{p}, slog.New(slog.DiscardHandler), toDashboard)
	s.router = NewRouter(Deps{Ingest: p, Devices: p, Calibrations: p, Alerts: svc})

	var wg sync.WaitGroup
	wg.Go(func() { _ = p.Run(ctx) })
	wg.Go(func() { _ = s.live.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	return s
}

func (s *scene) clock() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

// at moves the clock to t, running the alert sweeps due on the way.
func (s *scene) at(t time.Time) {
	s.t.Helper()
	for next := s.swept.Add(sweepEvery); !next.After(t); next = next.Add(sweepEvery) {
		s.set(next)
		require.NoError(s.t, s.eval.Sweep(s.ctx))
		s.swept = next
	}
	s.set(t)
}

func (s *scene) set(t time.Time) {
	s.mu.Lock()
	s.now = t
	s.mu.Unlock()
}

func (s *scene) invoke(_ context.Context, op string, data []byte, _ map[string]string) ([]byte, error) {
	if op != "create" {
		return nil, fmt.Errorf("unexpected SignalR binding operation %q", op)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, slices.Clone(data))
	return nil, nil
}

// invocations returns what was sent to the SignalR binding and forgets it.
func (s *scene) invocations() []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.sent
	s.sent = nil
	return out
}

// do sends one request at the clock's time and requires status want.
func (s *scene) do(method, path, body string, want int, headers ...string) []byte {
	s.t.Helper()
	w := do(s.router, method, path, body, headers...)
	require.Equal(s.t, want, w.Code, "%s %s: %s", method, path, w.Body.String())
	return w.Body.Bytes()
}

// send is HTTPS ingest of one payload at time t (its arrival time), then
// what the app does with the commit: the live update and the alert
// evaluation of the devices it changed.
func (s *scene) send(t time.Time, payload string, want int, headers ...string) {
	s.t.Helper()
	s.at(t)
	s.do(http.MethodPost, "/api/telemetry", payload, want, headers...)
	changed := s.notes.take()
	if s.recording {
		for _, batch := range changed {
			s.liveUpdate(batch)
		}
	}
	latest := map[string]telemetry.Summary{}
	for _, batch := range changed {
		for _, d := range batch {
			latest[d.DeviceID] = d
		}
	}
	devices := make([]alert.Device, 0, len(latest))
	for _, d := range latest {
		devices = append(devices, alert.DeviceOf(d))
	}
	slices.SortFunc(devices, func(a, b alert.Device) int { return strings.Compare(a.ID, b.ID) })
	require.NoError(s.t, s.eval.Evaluate(s.ctx, devices))
}

// liveUpdate hands one commit's devices to the live notifier and waits
// for the invocation it sends, so that each commit makes one frame.
func (s *scene) liveUpdate(batch []telemetry.Summary) {
	s.t.Helper()
	s.mu.Lock()
	want := len(s.sent) + 1
	s.mu.Unlock()
	s.live.Notify(s.ctx, batch)
	require.Eventually(s.t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.sent) >= want
	}, 10*time.Second, time.Millisecond, "the live notifier sent nothing")
}

// commits keeps the devices of each group commit the pipeline notifies.
type commits struct {
	mu      sync.Mutex
	batches [][]telemetry.Summary
}

var _ pipeline.Notifier = (*commits)(nil)

func (c *commits) Notify(_ context.Context, devices []telemetry.Summary) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batches = append(c.batches, slices.Clone(devices))
}

func (c *commits) take() [][]telemetry.Summary {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.batches
	c.batches = nil
	return out
}

// lister pages through the pipeline's devices for the alert sweep, as
// app/cmd/enviromon's deviceLister does.
type lister struct{ p *pipeline.Processor }

func (l lister) DevicePage(ctx context.Context, after string, limit int) ([]alert.Device, string, error) {
	page, next, err := l.p.DevicePage(ctx, after, limit)
	out := make([]alert.Device, len(page))
	for i, d := range page {
		out[i] = alert.DeviceOf(d)
	}
	return out, next, err
}

// reading is one simulated message's payload. Values are in tenths (of a
// degree, a percent, a hectopascal), so every number is decimal text and
// the answers are the same bytes on every architecture; nil leaves a
// value out.
type reading struct {
	device, messageID, geo string
	temperature, humidity  *int
	pressure, light        *int // light in whole lux
}

func (r reading) payload() string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"deviceId":%q`, r.device)
	if r.messageID != "" {
		fmt.Fprintf(&b, `,"messageId":%q`, r.messageID)
	}
	if r.geo != "" {
		fmt.Fprintf(&b, `,"geo":%q`, r.geo)
	}
	for _, f := range []struct {
		name string
		v    *int
	}{{"temperature", r.temperature}, {"humidity", r.humidity}, {"pressure", r.pressure}} {
		if f.v != nil {
			fmt.Fprintf(&b, `,%q:%s`, f.name, tenths(*f.v))
		}
	}
	if r.light != nil {
		fmt.Fprintf(&b, `,"light":%d`, *r.light)
	}
	b.WriteString("}")
	return b.String()
}

// tenths writes n/10 as a decimal number.
func tenths(n int) string {
	return strconv.FormatFloat(float64(n)/10, 'f', -1, 64)
}

// daily is a day's shape in hourly steps (0 at dawn, 100 mid-afternoon, UTC).
var daily = [24]int{20, 14, 9, 5, 2, 0, 2, 8, 18, 31, 46, 61, 75, 87, 96, 100, 98, 92, 82, 70, 57, 45, 35, 27}

// curve is daily at t, from 0 to 1000, linear between the hours, in
// integer arithmetic.
func curve(t time.Time) int {
	t = t.UTC()
	into := t.Minute()*60 + t.Second()
	a, b := daily[t.Hour()], daily[(t.Hour()+1)%24]
	return (a*10*(3600-into) + b*10*into) / 3600
}
