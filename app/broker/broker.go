// Package broker is the embedded MQTT broker (mochi-mqtt) with durable
// acknowledged publishes: a QoS ≥ 1 message is committed to disk (see Sync)
// before the device gets its PUBACK, and stays there until a subscriber
// acknowledges it, across restarts. Publishes are stored in group commits,
// so a device with many publishes in flight is not held to one per fsync.
//
// Devices connect with IoT Hub's MQTT credentials, checked against the
// device registry, and each may publish only to its own topic (see access);
// anonymous clients are let in only while the broker listens on loopback
// alone.
package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// DefaultAddr is where the broker listens unless told otherwise: loopback
// only, where anonymous clients are let in.
const DefaultAddr = "127.0.0.1:1883"

var (
	// ErrNoDataDir is returned by New when Config.DataDir is empty.
	ErrNoDataDir = errors.New("data dir required")
	// ErrPlaintext is returned by New for a plain MQTT address beyond
	// loopback: devices send their SAS tokens as passwords, so beyond this
	// machine the broker speaks only TLS (Config.TLSAddr).
	ErrPlaintext = errors.New("plain MQTT is served on loopback only: beyond it, use TLS")
)

// Config configures a Broker.
type Config struct {
	// Addr is the host:port of plain MQTT, a loopback one (see Loopback):
	// the app's own input binding and the local simulator connect there.
	// DefaultAddr if empty; port 0 picks a free one.
	Addr    string
	DataDir string // folder for the durable queue file; created if missing
	Sync    Sync   // when a PUBACK may be sent; SyncFsync if empty
	// TLSAddr, with TLS, is a second listener, MQTT over TLS only, which
	// may listen beyond loopback: IoT Hub's port is 8883, e.g. ":8883".
	TLSAddr string
	TLS     *tls.Config
	// HubHost is the host name devices give in their user names, compared
	// without regard to case, e.g. "localhost".
	HubHost string
	// Devices checks devices' SAS tokens; nil lets no device authenticate.
	Devices Authenticator
	// Service, when set, is the app's own client (the input binding): it
	// may subscribe to every device's telemetry.
	Service *Credential
	// RequireAuth refuses anonymous clients even on loopback; beyond
	// loopback they are always refused.
	RequireAuth bool
}

// Broker is an MQTT broker that lets devices in as IoT Hub does and never
// loses a QoS ≥ 1 publish it has acknowledged, within the guarantee of its
// Sync policy. Delivery is at least once: a subscriber may see a message
// again after a restart or a dropped session.
type Broker struct {
	cfg     Config
	log     *slog.Logger
	server  *mqtt.Server
	access  *access
	tcp     *listeners.TCP
	tls     *listeners.TCP // nil without TLS
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
	if !Loopback(cfg.Addr) {
		return nil, fmt.Errorf("new broker: %q: %w", cfg.Addr, ErrPlaintext)
	}
	if (cfg.TLSAddr == "") != (cfg.TLS == nil) {
		return nil, errors.New("new broker: TLS needs both an address and a certificate")
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
	b.access = &access{
		ctx:     ctx,
		log:     log,
		host:    cfg.HubHost,
		devices: cfg.Devices,
		service: cfg.Service,
		clients: server.Clients,
		end:     b.end,
		now:     time.Now,
	}
	for _, hk := range []mqtt.Hook{b.access, h} {
		if err := server.AddHook(hk, nil); err != nil {
			cancel()
			return nil, errors.Join(fmt.Errorf("new broker: %w", err), q.close())
		}
	}
	if cfg.TLS != nil {
		b.tls = listeners.NewTCP(listeners.Config{ID: "tls", Address: cfg.TLSAddr, TLSConfig: cfg.TLS})
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
	loopback := Loopback(b.tcp.Address())
	if b.tls != nil {
		if err := b.server.AddListener(b.tls); err != nil {
			return fmt.Errorf("start broker: %w", err)
		}
		loopback = loopback && Loopback(b.tls.Address())
	}
	// Decided on the addresses bound ("localhost" resolved), before any
	// client is accepted.
	if !b.cfg.RequireAuth && loopback {
		b.access.anonymous.Store(true)
		b.log.Warn("broker accepts anonymous devices: it listens on loopback only", "addr", b.tcp.Address())
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

// TLSAddr returns the address of the TLS listener, with the actual port
// once started; "" without TLS.
func (b *Broker) TLSAddr() string {
	if b.tls == nil {
		return ""
	}
	return b.tls.Address()
}

// end closes a client's connection: an MQTT 5 client is told why first; an
// MQTT 3 one cannot be, and sees the connection close.
func (b *Broker) end(cl *mqtt.Client) {
	if cl.Properties.ProtocolVersion == 5 {
		_ = b.server.DisconnectClient(cl, packets.ErrNotAuthorized) // the connection closes either way
		return
	}
	cl.Stop(errTokenExpired)
}

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
		b.access.stop()
		b.cancel()
		b.wg.Wait()
		b.closeErr = errors.Join(err, b.queue.close())
	})
	return b.closeErr
}
