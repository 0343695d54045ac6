package broker

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/enviromon/enviromon/app/iothub"
)

// Authenticator checks a device's SAS token against the identity registry
// (registry.Registry): the token must be for deviceID. Refusals wrap
// iothub.ErrUnauthorized; other errors mean the registry could not be read.
type Authenticator interface {
	Authenticate(ctx context.Context, deviceID, token string) (iothub.Grant, error)
}

// Credential is a user name and password.
type Credential struct {
	Username string
	Password string
}

// String masks the password, so that a Credential can be logged.
func (c Credential) String() string { return c.Username + ":***" }

// Loopback reports whether addr ("host:port") names only this machine: a
// loopback IP or "localhost". An empty host, 0.0.0.0 or any other name
// listens beyond it.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// authTimeout bounds a registry lookup on a CONNECT: mochi gives the hook no
// context, and a client must not hang on a stalled store.
const authTimeout = 5 * time.Second

// errTokenExpired ends a device's connection when its SAS token expires.
var errTokenExpired = errors.New("SAS token expired")

// access lets clients in as IoT Hub does, and holds each to its own topics.
// Three kinds of client connect:
//
//   - a device: client id = device id, user name
//     "{host}/{id}/?api-version=…", a SAS token of that device as password,
//     checked against the registry. It may publish only under
//     devices/{id}/messages/events and subscribe only under
//     devices/{id}/messages/devicebound/. Its connection is closed when its
//     token expires, as IoT Hub closes it; the device reconnects with a new one.
//   - the app's own subscriber (the input binding), with the service
//     credential: anything.
//   - an anonymous client (no user name, no password): only while the
//     broker listens on loopback alone, and then with the rights every
//     client had before devices authenticated: anything.
//
// A client that gives credentials and fails is refused; it never falls back
// to anonymous.
type access struct {
	mqtt.HookBase
	ctx       context.Context // ends when the broker stops
	log       *slog.Logger
	host      string
	devices   Authenticator // nil: no device can authenticate
	service   *Credential   // nil: none
	anonymous atomic.Bool   // set once the listener's address is known
	clients   *mqtt.Clients
	end       func(cl *mqtt.Client) // closes the connection of an expired token
	now       func() time.Time

	mu     sync.Mutex
	timers map[*mqtt.Client]*time.Timer // token expiries of connected devices
}

var _ mqtt.Hook = (*access)(nil)

// ID names the hook in mochi's logs.
func (h *access) ID() string { return "enviromon-auth" }

// Provides lists the events the hook handles.
func (h *access) Provides(b byte) bool {
	return bytes.Contains([]byte{
		mqtt.OnConnectAuthenticate,
		mqtt.OnACLCheck,
		mqtt.OnSessionEstablished,
		mqtt.OnDisconnect,
	}, []byte{b})
}

// OnConnectAuthenticate decides whether a CONNECT is let in; mochi answers
// a refusal with "bad user name or password".
func (h *access) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	user, pass := string(pk.Connect.Username), pk.Connect.Password
	switch {
	case user == "" && len(pass) == 0:
		if !h.anonymous.Load() {
			h.log.Info("anonymous client refused: the broker listens beyond loopback", "client", cl.ID, "remote", cl.Net.Remote)
			return false
		}
	case h.isService(user):
		return subtle.ConstantTimeCompare(pass, []byte(h.service.Password)) == 1
	default:
		if err := h.device(cl, user, string(pass)); err != nil {
			level := slog.LevelInfo
			if !errors.Is(err, iothub.ErrUnauthorized) {
				level = slog.LevelWarn // the registry, not the device
			}
			h.log.Log(h.ctx, level, "device refused", "client", cl.ID, "remote", cl.Net.Remote, "err", err)
			return false
		}
	}
	// A device or an anonymous client taking the app's client id would take
	// over the app's session, and with it the subscription.
	if old, ok := h.clients.Get(cl.ID); ok && h.isService(string(old.Properties.Username)) {
		h.log.Warn("client refused: its id is the app's", "client", cl.ID, "remote", cl.Net.Remote)
		return false
	}
	return true
}

// device authenticates a device's CONNECT.
func (h *access) device(cl *mqtt.Client, user, token string) error {
	host, id, err := iothub.ParseUsername(user)
	switch {
	case err != nil:
		return err
	case !strings.EqualFold(host, h.host):
		return errors.New("user name names host " + printable(host) + ", not " + h.host)
	case cl.ID != id:
		return errors.New("client id " + printable(cl.ID) + " is not the user name's device id " + id)
	case h.devices == nil:
		return iothub.ErrUnauthorized
	}
	ctx, cancel := context.WithTimeout(h.ctx, authTimeout)
	defer cancel()
	_, err = h.devices.Authenticate(ctx, id, token)
	return err
}

// isService reports whether user is the app's own client.
func (h *access) isService(user string) bool {
	return h.service != nil && user != "" && user == h.service.Username
}

// OnACLCheck decides whether cl may publish to (write) or subscribe to or
// receive from topic. It trusts the user name, checked at CONNECT.
func (h *access) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	user := string(cl.Properties.Username)
	switch {
	case user == "":
		return h.anonymous.Load()
	case h.isService(user):
		return true
	case write:
		events := "devices/" + cl.ID + "/messages/events"
		return topic == events || strings.HasPrefix(topic, events+"/")
	default:
		return strings.HasPrefix(topic, "devices/"+cl.ID+"/messages/devicebound/")
	}
}

// OnSessionEstablished arms the close of a device's connection at its
// token's expiry, now that mochi has accepted it (the CONNACK is sent).
func (h *access) OnSessionEstablished(cl *mqtt.Client, pk packets.Packet) {
	user := string(pk.Connect.Username)
	if user == "" || h.isService(user) {
		return
	}
	s, err := iothub.ParseSAS(string(pk.Connect.Password))
	if err != nil {
		return // cannot happen: the CONNECT was authenticated with it
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.timers == nil {
		h.timers = map[*mqtt.Client]*time.Timer{}
	}
	h.timers[cl] = time.AfterFunc(s.Expiry.Sub(h.now()), func() {
		h.mu.Lock()
		_, armed := h.timers[cl]
		delete(h.timers, cl)
		h.mu.Unlock()
		if armed {
			h.log.Info("device disconnected: its SAS token expired", "client", cl.ID)
			h.end(cl)
		}
	})
}

// OnDisconnect disarms the client's expiry.
func (h *access) OnDisconnect(cl *mqtt.Client, _ error, _ bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t, ok := h.timers[cl]; ok {
		t.Stop()
		delete(h.timers, cl)
	}
}

// stop disarms every expiry, when the broker closes.
func (h *access) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for cl, t := range h.timers {
		t.Stop()
		delete(h.timers, cl)
	}
}

// printable shortens s for a log line, so hostile input cannot flood it.
func printable(s string) string {
	const n = 64
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
