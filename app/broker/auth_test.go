package broker

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/iothub"
	"github.com/enviromon/enviromon/app/sim"
	simmqtt "github.com/enviromon/enviromon/app/sim/mqtt"
	"github.com/enviromon/enviromon/app/sim/mqtt/mqtttest"
)

// hubHost is the host name the tests' devices connect to.
const hubHost = "localhost"

// service is the app's own client in these tests.
var service = &Credential{Username: "enviromon", Password: "service-secret"}

// registry is a fake identity registry: each device's one key, checked as
// the real registry checks it.
type registry map[string][]byte

func (r registry) Authenticate(_ context.Context, id, token string) (iothub.Grant, error) {
	s, err := iothub.ParseSAS(token)
	if err != nil {
		return iothub.Grant{}, err
	}
	if err := s.Check(hubHost, id, [][]byte{r[id]}, time.Now()); err != nil {
		return iothub.Grant{}, err
	}
	return iothub.Grant{DeviceID: id, Expiry: s.Expiry}, nil
}

var devices = registry{
	"sensor-01": []byte("sensor-01-key-0123456789abcdef-0"),
	"sensor-02": []byte("sensor-02-key-0123456789abcdef-0"),
	"enviromon": []byte("enviromon-key-0123456789abcdef-0"), // the service's client id, registered as a device
}

func creds(id string) iothub.Credentials {
	return iothub.Credentials{HostName: hubHost, DeviceID: id, Key: devices[id]}
}

// startAuth starts a broker that knows devices, on loopback; requireAuth
// stands for an address beyond loopback, which tests cannot listen on.
func startAuth(t *testing.T, requireAuth bool) *Broker {
	t.Helper()
	b, err := New(Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), HubHost: hubHost, Devices: devices,
		Service: service, RequireAuth: requireAuth}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.NoError(t, b.Start())
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	return b
}

// options are a clean-session client's, as dial's.
func options(addr, id string) *paho.ClientOptions {
	return paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetCleanSession(true).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(wait).SetProtocolVersion(4)
}

// asDevice makes opts connect as device c with a token valid until expiry.
func asDevice(opts *paho.ClientOptions, c iothub.Credentials, expiry time.Time) *paho.ClientOptions {
	return opts.SetUsername(c.Username()).SetPassword(c.Token(expiry))
}

// connectWith connects a client with opts, returning the error of the CONNECT.
func connectWith(t *testing.T, opts *paho.ClientOptions) (paho.Client, error) {
	t.Helper()
	c := paho.NewClient(opts)
	tok := c.Connect()
	require.True(t, tok.WaitTimeout(wait), "connect: timeout")
	if tok.Error() == nil {
		t.Cleanup(func() { c.Disconnect(0) })
	}
	return c, tok.Error()
}

// app connects the app's own subscriber and returns what it receives.
func app(t *testing.T, b *Broker) <-chan paho.Message {
	t.Helper()
	c, err := connectWith(t, options(b.Addr(), "enviromon-consumer").SetUsername(service.Username).SetPassword(service.Password))
	require.NoError(t, err)
	return subscribe(t, c)
}

func TestDeviceConnectsAndPublishes(t *testing.T) {
	for _, requireAuth := range []bool{false, true} {
		t.Run(map[bool]string{false: "loopback", true: "beyond loopback"}[requireAuth], func(t *testing.T) {
			b := startAuth(t, requireAuth)
			got := app(t, b)
			dev, err := connectWith(t, asDevice(options(b.Addr(), "sensor-01"), creds("sensor-01"), time.Now().Add(time.Hour)))
			require.NoError(t, err)
			m := sent{Topic: "devices/sensor-01/messages/events/", Payload: `{"messageId":"1"}`}
			publish(t, dev, m)
			withProps := sent{Topic: "devices/sensor-01/messages/events/%24.ct=application%2Fjson", Payload: `{"messageId":"2"}`}
			publish(t, dev, withProps)
			assert.Equal(t, []sent{m, withProps}, receive(t, got, 2))
		})
	}
}

func TestDeviceRefused(t *testing.T) {
	hour := time.Now().Add(time.Hour)
	tests := []struct {
		name string
		opts func(addr string) *paho.ClientOptions
	}{
		{"wrong key", func(addr string) *paho.ClientOptions {
			wrong := creds("sensor-01")
			wrong.Key = devices["sensor-02"]
			return asDevice(options(addr, "sensor-01"), wrong, hour)
		}},
		{"expired token", func(addr string) *paho.ClientOptions {
			return asDevice(options(addr, "sensor-01"), creds("sensor-01"), time.Now().Add(-time.Second))
		}},
		{"another device's token", func(addr string) *paho.ClientOptions {
			return options(addr, "sensor-01").SetUsername(creds("sensor-01").Username()).SetPassword(creds("sensor-02").Token(hour))
		}},
		{"client id is not the device id", func(addr string) *paho.ClientOptions {
			return asDevice(options(addr, "sensor-02"), creds("sensor-01"), hour)
		}},
		{"user name for another host", func(addr string) *paho.ClientOptions {
			other := creds("sensor-01")
			other.HostName = "hub.azure-devices.net"
			return asDevice(options(addr, "sensor-01"), other, hour)
		}},
		{"unregistered device", func(addr string) *paho.ClientOptions {
			ghost := iothub.Credentials{HostName: hubHost, DeviceID: "ghost", Key: devices["sensor-01"]}
			return asDevice(options(addr, "ghost"), ghost, hour)
		}},
		{"a password that is not a token", func(addr string) *paho.ClientOptions {
			return options(addr, "sensor-01").SetUsername(creds("sensor-01").Username()).SetPassword("hunter2")
		}},
		{"a user name but no password", func(addr string) *paho.ClientOptions {
			return options(addr, "sensor-01").SetUsername(creds("sensor-01").Username())
		}},
		{"the service's user name, wrong password", func(addr string) *paho.ClientOptions {
			return options(addr, "x").SetUsername(service.Username).SetPassword("guess")
		}},
	}
	b := startAuth(t, false) // anonymous clients are welcome: these are not anonymous
	got := app(t, b)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := connectWith(t, tt.opts(b.Addr()))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "not Authorized")
		})
	}
	quiet(t, got)
}

// TestDeviceHeldToItsOwnTopic: a device that publishes as another is cut
// off, and nothing of it is delivered or stored; it may subscribe only to
// its own cloud-to-device topic. So even where anonymous clients may do
// anything, an authenticated one may not.
func TestDeviceHeldToItsOwnTopic(t *testing.T) {
	b := startAuth(t, false)
	got := app(t, b)
	opts := asDevice(options(b.Addr(), "sensor-01"), creds("sensor-01"), time.Now().Add(time.Hour))
	lost := make(chan error, 1)
	opts.SetConnectionLostHandler(func(_ paho.Client, err error) { lost <- err })
	dev, err := connectWith(t, opts)
	require.NoError(t, err)

	sub := dev.Subscribe("devices/+/messages/events/#", 1, nil)
	require.True(t, sub.WaitTimeout(wait))
	assert.Equal(t, byte(0x80), sub.(*paho.SubscribeToken).Result()["devices/+/messages/events/#"], "others' telemetry: refused")
	sub = dev.Subscribe("devices/sensor-01/messages/devicebound/#", 1, nil)
	require.True(t, sub.WaitTimeout(wait))
	assert.Equal(t, byte(1), sub.(*paho.SubscribeToken).Result()["devices/sensor-01/messages/devicebound/#"], "its own messages: granted")

	dev.Publish("devices/sensor-02/messages/events/", 1, false, `{"messageId":"forged"}`)
	select {
	case <-lost:
	case <-time.After(wait):
		require.FailNow(t, "the device was not disconnected")
	}
	quiet(t, got)
	assert.Zero(t, b.Pending(), "nothing stored")

	dev, err = connectWith(t, asDevice(options(b.Addr(), "sensor-01"), creds("sensor-01"), time.Now().Add(time.Hour)))
	require.NoError(t, err)
	publish(t, dev, sent{Topic: "devices/sensor-01/messages/events/", Payload: `{"messageId":"own"}`})
	assert.Equal(t, `{"messageId":"own"}`, receive(t, got, 1)[0].Payload)
}

func TestAnonymous(t *testing.T) {
	t.Run("let in on loopback, with today's rights", func(t *testing.T) {
		b := startAuth(t, false)
		got := app(t, b)
		anon, err := connectWith(t, options(b.Addr(), "mosquitto_pub"))
		require.NoError(t, err)
		m := sent{Topic: "devices/kitchen/messages/events/", Payload: `{"messageId":"1"}`}
		publish(t, anon, m)
		assert.Equal(t, []sent{m}, receive(t, got, 1))
	})
	t.Run("refused beyond loopback", func(t *testing.T) {
		b := startAuth(t, true)
		_, err := connectWith(t, options(b.Addr(), "mosquitto_pub"))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "not Authorized")
		_, err = connectWith(t, options(b.Addr(), "sensor-01"))
		require.Error(t, err, "a device id alone is no credential")
	})
}

// TestNoOneTakesTheAppsSession: a client connecting with the client id of
// the app's subscriber would take over its session and subscription.
func TestNoOneTakesTheAppsSession(t *testing.T) {
	b := startAuth(t, false)
	c, err := connectWith(t, options(b.Addr(), "enviromon").SetUsername(service.Username).SetPassword(service.Password))
	require.NoError(t, err)
	got := subscribe(t, c)
	_, err = connectWith(t, asDevice(options(b.Addr(), "enviromon"), creds("enviromon"), time.Now().Add(time.Hour)))
	assert.Error(t, err, "a device")
	_, err = connectWith(t, options(b.Addr(), "enviromon"))
	assert.Error(t, err, "an anonymous client")
	assert.True(t, c.IsConnectionOpen(), "the app keeps its session")

	dev, err := connectWith(t, asDevice(options(b.Addr(), "sensor-01"), creds("sensor-01"), time.Now().Add(time.Hour)))
	require.NoError(t, err)
	publish(t, dev, sent{Topic: "devices/sensor-01/messages/events/", Payload: "x"})
	receive(t, got, 1)
}

// TestTokenExpiryDisconnects: as IoT Hub does, the broker closes a device's
// connection when its token expires.
func TestTokenExpiryDisconnects(t *testing.T) {
	b := startAuth(t, false)
	lost := make(chan error, 1)
	// se is in whole seconds: at least one second, at most two from now.
	expiry := time.Now().Add(2 * time.Second).Truncate(time.Second)
	opts := asDevice(options(b.Addr(), "sensor-01"), creds("sensor-01"), expiry).
		SetConnectionLostHandler(func(_ paho.Client, err error) { lost <- err })
	_, err := connectWith(t, opts)
	require.NoError(t, err)
	select {
	case <-lost:
		assert.WithinDuration(t, expiry, time.Now(), time.Second, "closed at the expiry")
	case <-time.After(wait):
		require.FailNow(t, "still connected after the token expired")
	}
}

func TestTLS(t *testing.T) {
	serverTLS, pool := mqtttest.Cert(t, hubHost)
	_, err := New(Config{Addr: "0.0.0.0:0", DataDir: t.TempDir()}, nil)
	require.ErrorIs(t, err, ErrPlaintext, "tokens never travel in clear beyond loopback")

	// TLS may listen beyond loopback; then anonymous clients are refused
	// on both listeners.
	b, err := New(Config{Addr: "127.0.0.1:0", TLSAddr: "0.0.0.0:0", TLS: serverTLS, DataDir: t.TempDir(),
		HubHost: hubHost, Devices: devices, Service: service}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.NoError(t, b.Start())
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	addr := "127.0.0.1:" + port(t, b.TLSAddr())
	tlsOpts := func(id string) *paho.ClientOptions {
		return paho.NewClientOptions().AddBroker("ssl://" + addr).SetClientID(id).SetCleanSession(true).
			SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(wait).SetProtocolVersion(4).
			SetTLSConfig(&tls.Config{RootCAs: pool, ServerName: hubHost, MinVersion: tls.VersionTLS12})
	}
	// The app's subscriber stays on plain loopback.
	got := app(t, b)

	_, err = connectWith(t, tlsOpts("anonymous"))
	assert.ErrorContains(t, err, "not Authorized", "anonymous beyond loopback")
	_, err = connectWith(t, options(b.Addr(), "anonymous"))
	assert.ErrorContains(t, err, "not Authorized", "nor on loopback, once the broker listens beyond it")
	_, err = connectWith(t, options(addr, "plain"))
	assert.Error(t, err, "no plain MQTT on the TLS listener")

	// The simulator's own client, as against IoT Hub.
	sender, err := simmqtt.New(simmqtt.Config{Broker: "ssl://" + addr, RootCAs: pool,
		Credentials: []iothub.Credentials{creds("sensor-01")}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sender.Close() })
	stats, err := sim.Run(t.Context(), sim.Config{Devices: 1, IDs: []string{"sensor-01"}, Rate: 100, Count: 3, Seed: 1}, sender)
	require.NoError(t, err)
	require.Equal(t, 3, stats.Total.Acked(), "%s", stats)
	for _, m := range receive(t, got, 3) {
		assert.Equal(t, "devices/sensor-01/messages/events/", m.Topic)
	}
}

func TestNewRefusesHalfTLS(t *testing.T) {
	serverTLS, _ := mqtttest.Cert(t, hubHost)
	_, err := New(Config{DataDir: t.TempDir(), TLSAddr: ":0"}, nil)
	assert.ErrorContains(t, err, "both an address and a certificate")
	_, err = New(Config{DataDir: t.TempDir(), TLS: serverTLS}, nil)
	assert.ErrorContains(t, err, "both an address and a certificate")
}

func port(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	return p
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:1883": true, "127.9.9.9:1": true, "[::1]:1883": true, "localhost:1883": true, "LocalHost:0": true,
		"0.0.0.0:1883": false, ":1883": false, "[::]:1883": false, "192.168.1.5:1883": false,
		"broker.example.com:8883": false, "127.0.0.1": false, "": false,
	} {
		assert.Equal(t, want, Loopback(addr), addr)
	}
}

var _ Authenticator = registry(nil)
