package mqtt_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/iothub"
	"github.com/enviromon/enviromon/app/sim"
	simmqtt "github.com/enviromon/enviromon/app/sim/mqtt"
	"github.com/enviromon/enviromon/app/sim/mqtt/mqtttest"
)

// hubHost is the host name the test hub's certificate is for; the sender
// dials 127.0.0.1 but must check the certificate against this name.
const hubHost = "enviromon-test.azure-devices.net"

// device is the identity the tests connect as.
var device = iothub.Credentials{HostName: hubHost, DeviceID: "sensor-01", Key: []byte("device-key-0123456789abcdef-0123")}

// clock is a settable time source, safe for paho's goroutines.
type clock struct{ unix atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.unix.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix())
	return c
}

func (c *clock) now() time.Time          { return time.Unix(c.unix.Load(), 0) }
func (c *clock) advance(d time.Duration) { c.unix.Add(int64(d / time.Second)) }

// connect is one CONNECT the hub saw.
type connect struct {
	clientID, username, password string
	protocol                     byte
	tlsVersion                   uint16
	refused                      string // why it was refused; "" if let in
	expiry                       int64  // the token's se
}

// publish is one PUBLISH the hub accepted.
type publish struct {
	clientID, topic string
	qos             byte
	payload         []byte
}

// hub plays IoT Hub for one device, checking what IoT Hub checks: the client
// id, the user name, and a SAS token recomputed here from the device key and
// not expired by the test's clock; and it lets the device publish only to its
// own events topic. It records every connect and publish.
type hub struct {
	mochi.HookBase
	dev    iothub.Credentials
	others map[string]iothub.Credentials // more devices, by id; set before connecting
	clock  *clock

	mu        sync.Mutex
	connects  []connect
	publishes []publish
}

func (h *hub) ID() string { return "fake-iothub" }

func (h *hub) Provides(b byte) bool {
	return b == mochi.OnConnectAuthenticate || b == mochi.OnACLCheck || b == mochi.OnPublish
}

func (h *hub) OnConnectAuthenticate(cl *mochi.Client, pk packets.Packet) bool {
	c := connect{clientID: pk.Connect.ClientIdentifier, username: string(pk.Connect.Username),
		password: string(pk.Connect.Password), protocol: pk.ProtocolVersion}
	if conn, ok := cl.Net.Conn.(*tls.Conn); ok {
		c.tlsVersion = conn.ConnectionState().Version
	}
	c.expiry, c.refused = h.check(c)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.connects = append(h.connects, c)
	return c.refused == ""
}

// check verifies a connect as IoT Hub would, returning the token's expiry
// and, if refused, why.
func (h *hub) check(c connect) (int64, string) {
	dev := h.dev
	if other, ok := h.others[c.clientID]; ok {
		dev = other
	}
	if c.clientID != dev.DeviceID {
		return 0, "client id"
	}
	if c.username != dev.HostName+"/"+dev.DeviceID+"/?api-version=2021-04-12" {
		return 0, "user name"
	}
	rest, ok := strings.CutPrefix(c.password, "SharedAccessSignature ")
	if !ok {
		return 0, "not a SAS token"
	}
	fields := strings.Split(rest, "&")
	if len(fields) != 3 || !strings.HasPrefix(fields[0], "sr=") || !strings.HasPrefix(fields[1], "sig=") || !strings.HasPrefix(fields[2], "se=") {
		return 0, "fields, want sr, sig, se and no skn"
	}
	sr, sig, se := fields[0][3:], fields[1][4:], fields[2][3:]
	if want := strings.ReplaceAll(dev.HostName+"/devices/"+dev.DeviceID, "/", "%2F"); sr != want {
		return 0, "sr " + sr + ", want " + want
	}
	expiry, err := strconv.ParseInt(se, 10, 64)
	if err != nil {
		return 0, "se not seconds"
	}
	mac := hmac.New(sha256.New, dev.Key)
	mac.Write([]byte(sr + "\n" + se))
	got, err := url.QueryUnescape(sig)
	if err != nil || got != base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
		return expiry, "signature"
	}
	if expiry <= h.clock.now().Unix() {
		return expiry, "expired"
	}
	return expiry, ""
}

func (h *hub) OnACLCheck(cl *mochi.Client, topic string, write bool) bool {
	return write && topic == "devices/"+cl.ID+"/messages/events/"
}

func (h *hub) OnPublish(cl *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.publishes = append(h.publishes, publish{cl.ID, pk.TopicName, pk.FixedHeader.Qos, pk.Payload})
	return pk, nil
}

func (h *hub) seen() ([]connect, []publish) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]connect(nil), h.connects...), append([]publish(nil), h.publishes...)
}

// startHub starts a TLS broker with a certificate for hubHost and returns
// the fake hub, the broker, and a sender config for device that dials the
// broker and trusts that certificate.
func startHub(t *testing.T, clk *clock) (*hub, *mochi.Server, simmqtt.Config) {
	t.Helper()
	serverTLS, pool := mqtttest.Cert(t, hubHost)
	h := &hub{dev: device, clock: clk}
	srv, url := mqtttest.TLSBroker(t, serverTLS, h)
	return h, srv, simmqtt.Config{Broker: url, Credentials: []iothub.Credentials{device}, Now: clk.now, ConnectTimeout: 2 * time.Second, RootCAs: pool}
}

func TestHubDevice(t *testing.T) {
	clk := newClock()
	h, _, cfg := startHub(t, clk)

	cfg2 := sim.Config{Devices: 1, IDs: []string{device.DeviceID}, Rate: 200, Count: 5, Seed: 4}
	stats, err := sim.Run(t.Context(), cfg2, sender(t, cfg))
	require.NoError(t, err)
	require.Equal(t, 5, stats.Total.Acked(), "%s", stats)

	connects, publishes := h.seen()
	require.Len(t, connects, 1, "one connection for the whole run")
	c := connects[0]
	assert.Empty(t, c.refused, "the hub let the device in")
	assert.Equal(t, "sensor-01", c.clientID)
	assert.Equal(t, "enviromon-test.azure-devices.net/sensor-01/?api-version=2021-04-12", c.username)
	assert.Equal(t, byte(4), c.protocol, "MQTT 3.1.1")
	assert.GreaterOrEqual(t, c.tlsVersion, uint16(tls.VersionTLS12))
	assert.Equal(t, clk.now().Add(time.Hour).Unix(), c.expiry, "valid for the default hour, in seconds")
	require.Len(t, publishes, 5)
	for _, p := range publishes {
		assert.Equal(t, "sensor-01", p.clientID)
		assert.Equal(t, "devices/sensor-01/messages/events/", p.topic)
		assert.Equal(t, byte(1), p.qos, "QoS 1: IoT Hub closes the connection on QoS 2")
		var body struct{ DeviceID, MessageID string }
		require.NoError(t, json.Unmarshal(p.payload, &body))
		assert.Equal(t, "sensor-01", body.DeviceID, "the usual payload, naming the hub device")
	}
}

func TestHubTokenRenewal(t *testing.T) {
	clk := newClock()
	h, srv, cfg := startHub(t, clk)
	s := sender(t, cfg)
	send := func() { require.NoError(t, s.Send(t.Context(), device.DeviceID, []byte(`{}`))) }
	start := clk.now()

	send()
	clk.advance(30 * time.Minute)
	send()
	connects, _ := h.seen()
	require.Len(t, connects, 1, "the token still has half its life: same connection")

	// Less than a fifth of the hour left: the next send reconnects first.
	clk.advance(20 * time.Minute)
	send()
	connects, _ = h.seen()
	require.Len(t, connects, 2, "reconnected with a fresh token before the old one expired")
	assert.Empty(t, connects[1].refused)
	assert.Equal(t, start.Add(50*time.Minute+time.Hour).Unix(), connects[1].expiry)
	assert.NotEqual(t, connects[0].password, connects[1].password)

	// The hub drops the device after that token expired (as IoT Hub does):
	// paho's own reconnect must ask for a new token, or the hub refuses it.
	clk.advance(2 * time.Hour)
	cl, ok := srv.Clients.Get(device.DeviceID)
	require.True(t, ok)
	cl.Stop(errors.New("token expired"))
	require.Eventually(t, func() bool {
		connects, _ = h.seen()
		return len(connects) == 3
	}, 10*time.Second, 20*time.Millisecond, "paho reconnects by itself")
	assert.Empty(t, connects[2].refused, "the reconnect brought a fresh token")
	assert.Equal(t, clk.now().Add(time.Hour).Unix(), connects[2].expiry)
	require.Eventually(t, func() bool { return s.Send(t.Context(), device.DeviceID, []byte(`{}`)) == nil },
		10*time.Second, 50*time.Millisecond)
}

func TestHubRefuses(t *testing.T) {
	tests := []struct {
		name string
		edit func(t *testing.T, cfg *simmqtt.Config)
		want string
	}{
		{"wrong key", func(t *testing.T, cfg *simmqtt.Config) {
			cfg.Credentials[0].Key = []byte("another-key-0123456789abcdef-012")
		}, "not Authorized"},
		{"token already expired by the hub's clock", func(t *testing.T, cfg *simmqtt.Config) {
			cfg.Now = func() time.Time { return time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC) }
		}, "not Authorized"},
		{"certificate for another host name", func(t *testing.T, cfg *simmqtt.Config) {
			cfg.Credentials[0].HostName = "other.azure-devices.net"
		}, "certificate is valid for " + hubHost},
		{"certificate from an untrusted CA", func(t *testing.T, cfg *simmqtt.Config) {
			_, stranger := mqtttest.Cert(t, hubHost)
			cfg.RootCAs = stranger
		}, "certificate signed by unknown authority"},
		{"system roots only", func(t *testing.T, cfg *simmqtt.Config) {
			cfg.RootCAs = nil
		}, "certificate signed by unknown authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _, cfg := startHub(t, newClock())
			tt.edit(t, &cfg)
			err := sender(t, cfg).Send(t.Context(), device.DeviceID, []byte(`{}`))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotErrorIs(t, err, sim.ErrRejected, "worth a retry: the hub may be back")
			_, publishes := h.seen()
			assert.Empty(t, publishes)
		})
	}
}

func TestHubSenderIsItsDevicesOnly(t *testing.T) {
	h, _, cfg := startHub(t, newClock())
	err := sender(t, cfg).Send(t.Context(), "sensor-02", []byte(`{}`))
	assert.ErrorIs(t, err, sim.ErrRejected, "no retry can make it another device")
	connects, _ := h.seen()
	assert.Empty(t, connects, "refused before connecting")
}

func TestNewWithCredentials(t *testing.T) {
	devs := []iothub.Credentials{device}
	s, err := simmqtt.New(simmqtt.Config{Credentials: devs})
	require.NoError(t, err)
	assert.Equal(t, "ssl://"+hubHost+":8883", simmqtt.BrokerURL(s))

	for _, broker := range []string{"tcp://192.0.2.1:1883", "mqtt://" + hubHost + ":1883", "ws://" + hubHost} {
		_, err := simmqtt.New(simmqtt.Config{Credentials: devs, Broker: broker})
		assert.ErrorContains(t, err, "needs a TLS scheme", broker)
	}
	for _, broker := range []string{"tcp://127.0.0.1:1883", "tcp://localhost:1883", "tcp://[::1]:1883"} {
		_, err := simmqtt.New(simmqtt.Config{Credentials: devs, Broker: broker})
		assert.NoError(t, err, "in clear on this machine: %s", broker)
	}
	refused := []struct {
		name string
		cfg  simmqtt.Config
		want string
	}{
		{"no key", simmqtt.Config{Credentials: []iothub.Credentials{{HostName: hubHost, DeviceID: "d"}}}, "key"},
		{"negative lifetime", simmqtt.Config{Credentials: devs, SASTTL: -time.Second}, "negative SAS token lifetime"},
		{"two hubs", simmqtt.Config{Credentials: []iothub.Credentials{device, {HostName: "other.azure-devices.net", DeviceID: "d", Key: device.Key}}}, "two hubs"},
		{"one device twice", simmqtt.Config{Credentials: []iothub.Credentials{device, device}}, "given twice"},
	}
	for _, tt := range refused {
		_, err := simmqtt.New(tt.cfg)
		assert.ErrorContains(t, err, tt.want, tt.name)
	}
}

// TestSeveralDevices: one sender, several identities of one hub, each on
// its own connection with its own token.
func TestSeveralDevices(t *testing.T) {
	h, _, cfg := startHub(t, newClock())
	second := iothub.Credentials{HostName: hubHost, DeviceID: "sensor-02", Key: []byte("device-key-2-0123456789abcdef-01")}
	h.others = map[string]iothub.Credentials{second.DeviceID: second}
	cfg.Credentials = append(cfg.Credentials, second)
	s := sender(t, cfg)
	for _, id := range []string{"sensor-01", "sensor-02"} {
		require.NoError(t, s.Send(t.Context(), id, []byte(`{}`)), id)
	}
	connects, publishes := h.seen()
	require.Len(t, connects, 2)
	for _, c := range connects {
		assert.Empty(t, c.refused, c.clientID)
	}
	require.Len(t, publishes, 2)
	assert.ElementsMatch(t, []string{"devices/sensor-01/messages/events/", "devices/sensor-02/messages/events/"},
		[]string{publishes[0].topic, publishes[1].topic})
}
