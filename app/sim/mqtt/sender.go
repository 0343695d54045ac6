// Package mqtt sends simulated telemetry over MQTT the way IoT Hub devices
// do: each device on its own connection, its client id the device id,
// publishing at QoS 1 to devices/{deviceId}/messages/events/.
//
// One connection per device, not a shared pool: the broker then knows each
// message's sender from the connection, as IoT Hub does, so a receiver can
// take the device id from the connection rather than trust the payload; and
// a load test opens as many connections as the real fleet would.
//
// With Config.Credentials the devices are IoT Hub identities: each connects
// with the hub's user name and a SAS token as password, over TLS to the hub
// on port 8883, or to a broker that stands in for it (the app's embedded
// one, in clear only on this machine).
package mqtt

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/enviromon/enviromon/app/iothub"
	"github.com/enviromon/enviromon/app/sim"
)

// DefaultBroker is the broker on this machine.
const DefaultBroker = "tcp://127.0.0.1:1883"

var (
	// ErrClosed is returned by Send after Close.
	ErrClosed = errors.New("sender closed")
	// ErrTimeout is returned when the broker did not answer in time.
	ErrTimeout = errors.New("no answer in time")
)

// Topic is the topic a device publishes its telemetry to.
func Topic(deviceID string) string { return "devices/" + deviceID + "/messages/events/" }

// Config configures a Sender; zero fields take the defaults named.
type Config struct {
	Broker         string        // broker URL; "" means DefaultBroker, or the hub's with Credentials
	ConnectTimeout time.Duration // 0 means 5 s
	AckTimeout     time.Duration // wait for a PUBACK; 0 means 10 s

	// Credentials, when set, make the Sender these IoT Hub devices, all of
	// one hub, from their connection strings: MQTT 3.1.1, each device's
	// Username as user name and, at every connect, a fresh SAS token valid
	// for SASTTL as password. The broker is ssl://{HostName}:8883 unless
	// Broker names another: a TLS one, checked against RootCAs for
	// HostName; or a plain one on this machine (the app's embedded broker),
	// since a token must not travel in clear. Send refuses other devices.
	Credentials []iothub.Credentials
	SASTTL      time.Duration    // 0 means 1 h
	Now         func() time.Time // dates the tokens; nil means time.Now
	RootCAs     *x509.CertPool   // trusted for TLS; nil means the system's
}

// Sender publishes each device's messages on that device's own connection,
// opened at its first send and reopened by itself when it drops.
type Sender struct {
	cfg    Config
	mu     sync.Mutex
	conns  map[string]*conn
	creds  map[string]iothub.Credentials // by device id; nil without Credentials
	closed bool
}

// conn is one device's connection; its mutex makes the device's first sends
// wait for one connect rather than race to open several.
type conn struct {
	mu     sync.Mutex
	client paho.Client
	expiry atomic.Int64 // Unix seconds when the last token given expires; with Credentials only
}

var _ sim.Sender = (*Sender)(nil)

// New returns a Sender for cfg, or an error if the broker URL is unusable.
func New(cfg Config) (*Sender, error) {
	var creds map[string]iothub.Credentials
	if len(cfg.Credentials) > 0 {
		var err error
		if creds, err = withHub(&cfg); err != nil {
			return nil, fmt.Errorf("new mqtt sender: %w", err)
		}
	}
	if cfg.Broker == "" {
		cfg.Broker = DefaultBroker
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	if cfg.AckTimeout == 0 {
		cfg.AckTimeout = 10 * time.Second
	}
	u, err := url.Parse(cfg.Broker)
	if err != nil {
		return nil, fmt.Errorf("new mqtt sender: %w", err)
	}
	switch {
	case !tlsSchemes[u.Scheme] && !plainSchemes[u.Scheme]:
		return nil, fmt.Errorf("new mqtt sender: broker %q: scheme %q not supported", u.Redacted(), u.Scheme)
	case creds != nil && !tlsSchemes[u.Scheme] && !loopback(u.Hostname()):
		// The password is a bearer token: it must not travel in clear.
		return nil, fmt.Errorf("new mqtt sender: broker %q: an IoT Hub device needs a TLS scheme (ssl://) beyond this machine", u.Redacted())
	}
	return &Sender{cfg: cfg, conns: map[string]*conn{}, creds: creds}, nil
}

// Send publishes payload to Topic(deviceID) at QoS 1 and waits for the
// broker's PUBACK, connecting the device first if needed. It returns
// ErrTimeout if the broker does not answer in time and ErrClosed after Close;
// with Config.Credentials, an error wrapping sim.ErrRejected for a device
// not among them.
// A message published while the connection is being restored is sent once
// it is back, within the same wait.
func (s *Sender) Send(ctx context.Context, deviceID string, payload []byte) error {
	if _, ok := s.creds[deviceID]; s.creds != nil && !ok {
		return fmt.Errorf("send %s: %w: no connection string for this device", deviceID, sim.ErrRejected)
	}
	c, err := s.client(ctx, deviceID)
	if err != nil {
		return fmt.Errorf("send %s: %w", deviceID, err)
	}
	if err := wait(ctx, c.Publish(Topic(deviceID), 1, false, payload), s.cfg.AckTimeout); err != nil {
		return fmt.Errorf("send %s: publish: %w", deviceID, err)
	}
	return nil
}

// Close disconnects every device. In-flight sends fail.
func (s *Sender) Close() error {
	s.mu.Lock()
	s.closed = true
	conns := s.conns
	s.conns = map[string]*conn{}
	s.mu.Unlock()

	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.client != nil {
				c.client.Disconnect(250)
				c.client = nil
			}
		})
	}
	wg.Wait()
	return nil
}

// client returns the device's connected client, connecting it on first use.
func (s *Sender) client(ctx context.Context, deviceID string) (paho.Client, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	c := s.conns[deviceID]
	if c == nil {
		c = &conn{}
		s.conns[deviceID] = c
	}
	s.mu.Unlock()

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client != nil {
		if !s.renewDue(c) {
			return c.client, nil
		}
		// The hub closes a connection whose token expires, failing what is
		// in flight: reconnect before, with a fresh token.
		c.client.Disconnect(250)
		c.client = nil
	}
	opts := paho.NewClientOptions().
		AddBroker(s.cfg.Broker).
		SetClientID(deviceID).
		SetCleanSession(true).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(5 * time.Second).
		SetConnectTimeout(s.cfg.ConnectTimeout).
		SetWriteTimeout(s.cfg.AckTimeout).
		SetKeepAlive(30 * time.Second)
	if cred, ok := s.creds[deviceID]; ok {
		s.hubOptions(opts, c, cred)
	}
	cl := paho.NewClient(opts)
	if err := wait(ctx, cl.Connect(), s.cfg.ConnectTimeout); err != nil {
		// Disconnect also ends a connect still under way, once it returns,
		// so an abandoned attempt leaves no connection behind.
		cl.Disconnect(0)
		return nil, fmt.Errorf("connect %s: %w", s.cfg.Broker, err)
	}
	c.client = cl
	return cl, nil
}

// wait waits for tok, ctx or the timeout, whichever comes first.
func wait(ctx context.Context, tok paho.Token, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return ErrTimeout
	}
}
