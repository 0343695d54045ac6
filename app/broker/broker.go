// Package broker is the embedded MQTT broker (mochi-mqtt) with durable
// acknowledged publishes: a QoS ≥ 1 message is committed to disk (see Sync)
// before the device gets its PUBACK, and stays there until a subscriber
// acknowledges it, across restarts. Publishes are stored in group commits,
// so a device with many publishes in flight is not held to one per fsync.
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
	Sync    Sync   // when a PUBACK may be sent; SyncFsync if empty
}

// Broker is an MQTT broker that allows anonymous clients and never loses a
// QoS ≥ 1 publish it has acknowledged, within the guarantee of its Sync
// policy. Delivery is at least once: a subscriber may see a message again
// after a restart or a dropped session.
type Broker struct {
	cfg     Config
	log     *slog.Logger
	server  *mqtt.Server
	tcp     *listeners.TCP
	queue   *queue
	ledger  *ledger
	commits *committer
	replay  *replayer

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
	if cfg.Sync == "" {
		cfg.Sync = SyncFsync
	}
	if _, err := ParseSync(string(cfg.Sync)); err != nil {
		return nil, fmt.Errorf("new broker: %w", err)
	}
	q, err := openQueue(cfg.DataDir, cfg.Sync)
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
		cfg:     cfg,
		log:     log,
		server:  server,
		tcp:     listeners.NewTCP(listeners.Config{ID: "tcp", Address: cfg.Addr}),
		queue:   q,
		ledger:  l,
		commits: newCommitter(q, l, log),
		replay:  newReplayer(server, q, l, log),
		ctx:     ctx,
		cancel:  cancel,
	}
	h := &hook{
		ctx:     ctx,
		commits: b.commits,
		boxes:   newOutboxes(server),
		ledger:  l,
		wake:    b.replay.wake,
	}
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
	b.wg.Go(func() { b.commits.run(b.ctx) })
	b.wg.Go(func() { b.replay.run(b.ctx) })
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
		// Clients first: once they are gone no publish or acknowledgement
		// can arrive, so the committer sees all the work there is.
		// Meanwhile it keeps running: a connection may be waiting for it
		// to make room.
		err := b.server.Close()
		b.cancel()
		b.wg.Wait()
		b.closeErr = errors.Join(err, b.queue.close())
	})
	return b.closeErr
}
