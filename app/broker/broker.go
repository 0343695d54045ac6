// Package broker is the embedded MQTT broker (mochi-mqtt) with durable
// acknowledged publishes: a QoS ≥ 1 message is on disk before the device gets
// its PUBACK, and stays there until a subscriber acknowledges it, across
// restarts.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// DefaultAddr is where the broker listens unless told otherwise: loopback
// only, because clients are not authenticated.
const DefaultAddr = "127.0.0.1:1883"

// ErrNoDataDir is returned by New when Config.DataDir is empty.
var ErrNoDataDir = errors.New("data dir required")

// Config configures a Broker.
type Config struct {
	Addr    string // host:port to listen on; DefaultAddr if empty, port 0 picks a free one
	DataDir string // folder for the durable queue file; created if missing
}

// Broker is an MQTT broker that allows anonymous clients and never loses a
// QoS ≥ 1 publish it has acknowledged. Delivery is at least once: a
// subscriber may see a message again after a restart or a dropped session.
type Broker struct {
	cfg      Config
	log      *slog.Logger
	server   *mqtt.Server
	tcp      *listeners.TCP
	queue    *queue
	ledger   *ledger
	replay   *replayer
	removals chan uint64

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	started bool

	closeOnce sync.Once
	closeErr  error
}

// New opens the queue in cfg.DataDir and prepares the broker; messages left
// there by a previous run are replayed once a matching subscriber appears.
// A nil log discards.
func New(cfg Config, log *slog.Logger) (*Broker, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.DataDir == "" {
		return nil, fmt.Errorf("new broker: %w", ErrNoDataDir)
	}
	q, err := openQueue(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("new broker: %w", err)
	}
	l := newLedger()
	err = q.each(func(key uint64, m message, err error) {
		if err != nil {
			// Kept on disk for inspection; it can be neither delivered nor
			// acknowledged.
			log.Warn("stored message unreadable, skipped", "key", key, "error", err)
			return
		}
		l.add(key, m.Topic, nil)
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("new broker: load queue: %w", err), q.close())
	}

	server := mqtt.New(&mqtt.Options{Logger: log})
	ctx, cancel := context.WithCancel(context.Background())
	b := &Broker{
		cfg:      cfg,
		log:      log,
		server:   server,
		tcp:      listeners.NewTCP(listeners.Config{ID: "tcp", Address: cfg.Addr}),
		queue:    q,
		ledger:   l,
		replay:   newReplayer(server, q, l, log),
		removals: make(chan uint64, removeBatch),
		ctx:      ctx,
		cancel:   cancel,
	}
	h := &hook{queue: q, ledger: l, wake: b.replay.wake, remove: b.scheduleRemoval}
	for _, hk := range []mqtt.Hook{new(auth.AllowHook), h} {
		if err := server.AddHook(hk, nil); err != nil {
			cancel()
			return nil, errors.Join(fmt.Errorf("new broker: %w", err), q.close())
		}
	}
	if n := l.len(); n > 0 {
		log.Info("stored messages waiting for a subscriber", "count", n)
	}
	return b, nil
}

// Start listens on the configured address and returns once clients can
// connect.
func (b *Broker) Start() error {
	if b.started {
		return errors.New("start broker: already started")
	}
	if err := b.server.AddListener(b.tcp); err != nil {
		return fmt.Errorf("start broker: %w", err)
	}
	b.started = true
	b.wg.Add(2)
	go func() {
		defer b.wg.Done()
		b.queue.collect(b.ctx, b.removals, b.log)
	}()
	go func() {
		defer b.wg.Done()
		b.replay.run(b.ctx)
	}()
	if err := b.server.Serve(); err != nil {
		return fmt.Errorf("start broker: %w", err)
	}
	return nil
}

// Addr returns the address the broker listens on, with the actual port once
// started.
func (b *Broker) Addr() string { return b.tcp.Address() }

// Pending returns how many stored messages no subscriber has acknowledged.
func (b *Broker) Pending() int { return b.ledger.len() }

// Close disconnects every client, stops the background work and closes the
// queue. Unacknowledged messages stay stored for the next run. It is safe to
// call more than once.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		// Clients first: once they are gone no acknowledgement can arrive, so
		// the remover below sees every deletion there is to make.
		err := b.server.Close()
		b.cancel()
		b.wg.Wait()
		b.closeErr = errors.Join(err, b.queue.close())
	})
	return b.closeErr
}

// scheduleRemoval hands an acknowledged key to the remover, waiting if it is
// behind. After Close has begun the key is dropped: the record stays and is
// replayed next time, a duplicate rather than a loss.
func (b *Broker) scheduleRemoval(key uint64) {
	select {
	case b.removals <- key:
	case <-b.ctx.Done():
	}
}
