// Package pipeline turns transport messages into committed device state:
// it decodes, calibrates and validates each reading, then group-commits the
// readings of many concurrent callers with one ETag write per device.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/enviromon/enviromon/app/telemetry"
)

// ErrStopped is returned by Process once the processor has stopped.
var ErrStopped = errors.New("processor stopped")

// ErrNotFound is returned when a device or calibration record does not exist.
var ErrNotFound = errors.New("not found")

// Notifier receives the devices changed by each group commit. Notify must
// not block: it is called on the commit path. ctx carries the commit's
// trace, for the notifier's own to link to; it is not for cancellation.
type Notifier interface {
	Notify(ctx context.Context, devices []telemetry.Summary)
}

// Config tunes the processor. Zero fields take the defaults of
// DefaultConfig, except Window, where 0 means no linger, and the History
// fields, where 0 keeps none.
type Config struct {
	Window         time.Duration    // how long a lane lingers for more readings before it commits; 0: no linger
	MaxBatch       int              // readings that make a lane commit at once
	Lanes          int              // independent committers; a device always uses the same one
	Retry          Retry            // conflict retry policy
	DedupWindow    int              // message ids remembered per device
	Limits         telemetry.Limits // accepted ranges
	CalibrationTTL time.Duration    // how long a cached calibration is trusted
	RejectedKeep   int              // rejections kept in the dead-letter list
	Parallelism    int              // concurrent store writes per commit
	// DrainTimeout bounds the commit of what the lanes hold once Run's
	// context ends; what is left after it is answered with an error.
	DrainTimeout time.Duration
	OnlineAfter  time.Duration // how recently a device was seen to count in Online
	// HistoryMinutes is how long minute buckets of history are kept; 0
	// keeps hour buckets only.
	HistoryMinutes time.Duration
	// HistoryHours is how long hour buckets (and history records) are
	// kept; 0 keeps no history.
	HistoryHours time.Duration
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Window:         2 * time.Millisecond,
		MaxBatch:       4096,
		Lanes:          4,
		Retry:          DefaultRetry(),
		DedupWindow:    256,
		Limits:         telemetry.DefaultLimits(),
		CalibrationTTL: 30 * time.Second,
		RejectedKeep:   200,
		Parallelism:    16,
		DrainTimeout:   10 * time.Second,
		OnlineAfter:    60 * time.Second, // the dashboard's offline threshold
		HistoryMinutes: 48 * time.Hour,
		HistoryHours:   30 * 24 * time.Hour,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	c.Window = max(c.Window, 0)
	if c.MaxBatch <= 0 {
		c.MaxBatch = d.MaxBatch
	}
	if c.Lanes <= 0 {
		c.Lanes = d.Lanes
	}
	if c.Retry.Attempts <= 0 {
		c.Retry = d.Retry
	}
	if c.DedupWindow <= 0 {
		c.DedupWindow = d.DedupWindow
	}
	if c.Limits == (telemetry.Limits{}) {
		c.Limits = d.Limits
	}
	if c.CalibrationTTL <= 0 {
		c.CalibrationTTL = d.CalibrationTTL
	}
	if c.RejectedKeep <= 0 {
		c.RejectedKeep = d.RejectedKeep
	}
	if c.Parallelism <= 0 {
		c.Parallelism = d.Parallelism
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = d.DrainTimeout
	}
	if c.OnlineAfter <= 0 {
		c.OnlineAfter = d.OnlineAfter
	}
	c.HistoryHours = max(c.HistoryHours, 0)
	c.HistoryMinutes = min(max(c.HistoryMinutes, 0), c.HistoryHours)
	return c
}

// Message is one transport message: a payload and what the transport says
// about it. Transport fields are empty or zero when it gives none.
type Message struct {
	Payload    []byte
	DeviceID   string    // device identity authenticated by the transport
	MessageID  string    // transport message id or sequence number
	EnqueuedAt time.Time // when the transport accepted the message
	// CreatedAt is when the device says it created the message (IoT Hub's
	// iothub-creation-time-utc). It is read from the device's clock, which
	// may be skewed against ours, so it only ever feeds the latency metric.
	CreatedAt time.Time
	// Truncated says the transport cut Payload at its size limit: the
	// message is rejected (counted and dead-lettered), not redelivered.
	Truncated bool
}

// Processor is the group-commit pipeline. Create it with New, start Run,
// then call Process from any number of goroutines.
type Processor struct {
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	notifier Notifier
	observer Observer
	tracer   Tracer
	metrics  *Metrics
	online   *recent
	commit   *committer
	cals     *calibrations
	index    *index
	dead     *deadLetters
	lanes    []chan *job
	hints    pendingHints
	stopped  chan struct{}
	// sending is held shared while a caller queues jobs, and exclusively by
	// Run once stopped is closed, so no job is queued after the final drain.
	sending sync.RWMutex
}

// Option changes a Processor built by New.
type Option func(*Processor)

// WithNotifier sets where committed device changes go.
func WithNotifier(n Notifier) Option { return func(p *Processor) { p.notifier = n } }

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(p *Processor) { p.now = now } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(p *Processor) { p.log = l } }

// New returns a processor over store. It does nothing until Run.
func New(store Store, cfg Config, opts ...Option) (*Processor, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Limits.Check(); err != nil {
		return nil, fmt.Errorf("pipeline config: %w", err)
	}
	p := &Processor{
		cfg:      cfg,
		log:      slog.New(slog.DiscardHandler),
		now:      time.Now,
		observer: nopObserver{},
		tracer:   NopTracer{},
		metrics:  &Metrics{},
		online:   newRecent(cfg.OnlineAfter),
		stopped:  make(chan struct{}),
	}
	for _, o := range opts {
		o(p)
	}
	p.commit = &committer{store: store, retry: cfg.Retry, parallelism: cfg.Parallelism, metrics: p.metrics}
	p.cals = newCalibrations(store, p.commit, cfg.CalibrationTTL, p.now)
	p.index = newIndex(p.commit)
	p.dead = &deadLetters{commit: p.commit, keep: max(1, cfg.RejectedKeep/rejectedShards)}
	p.lanes = make([]chan *job, cfg.Lanes)
	for i := range p.lanes {
		p.lanes[i] = make(chan *job, cfg.MaxBatch)
	}
	return p, nil
}

// Metrics returns the live counters.
func (p *Processor) Metrics() *Metrics { return p.metrics }

// Config returns the effective configuration.
func (p *Processor) Config() Config { return p.cfg }

func (p *Processor) laneOf(deviceID string) chan *job {
	return p.lanes[telemetry.Shard(deviceID, len(p.lanes))]
}
