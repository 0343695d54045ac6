// Package notify pushes committed device changes to live clients: it
// coalesces them so that at most a configured number of sends per second
// leave, whatever the ingest rate, and the latest state of each device wins.
package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/enviromon/enviromon/app/pipeline"
	"github.com/enviromon/enviromon/app/telemetry"
)

// Target is the client method the dashboard listens on, as in the original.
const Target = "newMessage"

// maxDevicesPerSend keeps one send well under a SignalR message size limit.
const maxDevicesPerSend = 256

// maxLinks bounds the commits a send's span links to: one send may carry
// the changes of thousands of commits.
const maxLinks = 32

// Sender delivers one serialized SignalR invocation to every client.
type Sender interface {
	Send(ctx context.Context, invocation []byte) error
}

// Notifier coalesces device changes and sends them at most PerSecond times a
// second. Notify never blocks the commit path.
type Notifier struct {
	sender   Sender
	interval time.Duration
	log      *slog.Logger
	tracer   pipeline.Tracer

	mu      sync.Mutex
	pending map[string]telemetry.Summary
	commits []context.Context // of the commits pending changes came from, up to maxLinks
	wake    chan struct{}

	sends, failures atomic.Int64
}

var _ pipeline.Notifier = (*Notifier)(nil)

// Option changes a Notifier built by New.
type Option func(*Notifier)

// WithTracer traces each send in a span linked to the commits whose
// changes it carries; none by default.
func WithTracer(t pipeline.Tracer) Option { return func(n *Notifier) { n.tracer = t } }

// New returns a notifier sending at most perSecond invocations a second.
func New(s Sender, perSecond int, log *slog.Logger, opts ...Option) (*Notifier, error) {
	if perSecond <= 0 {
		return nil, fmt.Errorf("notify: sends per second must be positive, got %d", perSecond)
	}
	n := &Notifier{sender: s, interval: time.Second / time.Duration(perSecond), log: log, tracer: pipeline.NopTracer{},
		pending: make(map[string]telemetry.Summary), wake: make(chan struct{}, 1)}
	for _, o := range opts {
		o(n)
	}
	return n, nil
}

// Notify queues the devices; a later state of a device replaces an earlier
// one not yet sent. ctx is the commit's, whose trace the send links to.
func (n *Notifier) Notify(ctx context.Context, devices []telemetry.Summary) {
	n.mu.Lock()
	for _, d := range devices {
		n.pending[d.DeviceID] = d
	}
	if len(n.commits) < maxLinks {
		n.commits = append(n.commits, ctx)
	}
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// Sends counts the invocations sent since start.
func (n *Notifier) Sends() int64 { return n.sends.Load() }

// Failures counts the invocations that failed since start; their devices
// went out with a later send.
func (n *Notifier) Failures() int64 { return n.failures.Load() }

// Run sends queued changes until ctx ends: at once when idle, then no
// sooner than one interval after the previous send.
func (n *Notifier) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-n.wake:
		}
		n.flush(ctx)
		t := time.NewTimer(n.interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

func (n *Notifier) flush(ctx context.Context) {
	n.mu.Lock()
	batch, commits := n.pending, n.commits
	n.pending = make(map[string]telemetry.Summary, len(batch))
	n.commits = nil
	n.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	devices := make([]telemetry.Summary, 0, len(batch))
	for _, d := range batch {
		devices = append(devices, d)
	}
	slices.SortFunc(devices, func(a, b telemetry.Summary) int { return strings.Compare(a.DeviceID, b.DeviceID) })
	for chunk := range slices.Chunk(devices, maxDevicesPerSend) {
		if err := n.send(ctx, chunk, commits); err != nil {
			n.failures.Add(1)
			n.requeue(chunk)
			continue
		}
		n.sends.Add(1)
	}
}

// send sends one chunk of devices in a span linked to commits.
func (n *Notifier) send(ctx context.Context, devices []telemetry.Summary, commits []context.Context) error {
	ctx, end := n.tracer.Start(ctx, "live update", commits)
	body, err := Invocation(devices)
	if err == nil {
		err = n.sender.Send(ctx, body)
	}
	end(err)
	if err != nil {
		n.log.WarnContext(ctx, "live update failed; will retry with the next send", "devices", len(devices), "err", err)
	}
	return err
}

// requeue puts failed devices back unless a newer state arrived meanwhile.
func (n *Notifier) requeue(devices []telemetry.Summary) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, d := range devices {
		if _, newer := n.pending[d.DeviceID]; !newer {
			n.pending[d.DeviceID] = d
		}
	}
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// Invocation is the SignalR REST body: the target newMessage with one
// argument, the array of devices in the API's shape.
func Invocation(devices []telemetry.Summary) ([]byte, error) {
	body, err := json.Marshal(struct {
		Target    string                 `json:"target"`
		Arguments [1][]telemetry.Summary `json:"arguments"`
	}{Target: Target, Arguments: [1][]telemetry.Summary{devices}})
	if err != nil {
		return nil, fmt.Errorf("encode live update: %w", err)
	}
	return body, nil
}
