package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/broker"
	"github.com/enviromon/enviromon/app/component"
	"github.com/enviromon/enviromon/app/iothub"
	"github.com/enviromon/enviromon/app/sim"
	simmqtt "github.com/enviromon/enviromon/app/sim/mqtt"
	"github.com/enviromon/enviromon/app/sim/mqtt/mqtttest"
	"github.com/enviromon/enviromon/app/telemetry"
)

func TestIdentityConfig(t *testing.T) {
	env := func(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }
	c, err := parseConfig(nil, env(nil), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "localhost", c.HubHost, "the plain broker is on loopback: devices reach it as localhost")

	c, err = parseConfig(nil, env(map[string]string{"ENVIROMON_HUB_HOST": "broker.example.com",
		"ENVIROMON_BROKER_TLS_CERT": "cert.pem", "ENVIROMON_BROKER_TLS_KEY": "key.pem"}), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "broker.example.com", c.HubHost)
	assert.Equal(t, "cert.pem", c.BrokerTLSCert)
	assert.Equal(t, "key.pem", c.BrokerTLSKey)
	assert.Equal(t, ":8883", c.BrokerTLSAddr, "IoT Hub's MQTT port")

	refused := []struct {
		name string
		args []string
		want string
	}{
		{"plain MQTT beyond loopback", []string{"-broker", "0.0.0.0:1883"}, "plain MQTT is served on loopback only"},
		{"a certificate without its key", []string{"-broker-tls-cert", "cert.pem"}, "go together"},
		{"TLS without the broker", []string{"-broker", "", "-broker-tls-cert", "c", "-broker-tls-key", "k"}, "needs the embedded broker"},
		{"a hub host with a port", []string{"-hub-host", "localhost:1883"}, "hub-host"},
		{"no hub host", []string{"-hub-host", ""}, "hub-host"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig(tt.args, env(nil), io.Discard)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

func TestWithService(t *testing.T) {
	cred := broker.Credential{Username: "enviromon", Password: "s3cret/+="}
	mqtt3 := func(url string) component.Component {
		return component.Component{Name: "telemetry", Type: "bindings.mqtt3", Metadata: map[string]string{"url": url, "topic": "t"}}
	}
	tests := []struct {
		name, url, broker, want string
	}{
		{"the embedded broker", "tcp://127.0.0.1:1883", "127.0.0.1:1883", "tcp://enviromon:s3cret%2F+=@127.0.0.1:1883"},
		{"by another loopback name", "tcp://localhost:1883", "127.0.0.1:1883", "tcp://enviromon:s3cret%2F+=@localhost:1883"},
		{"another port: another broker", "tcp://127.0.0.1:1884", "127.0.0.1:1883", "tcp://127.0.0.1:1884"},
		{"another host", "tcp://mosquitto:1883", "127.0.0.1:1883", "tcp://mosquitto:1883"},
		{"credentials of its own", "tcp://me:mine@127.0.0.1:1883", "127.0.0.1:1883", "tcp://me:mine@127.0.0.1:1883"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := mqtt3(tt.url)
			got := withService(in, cred, tt.broker)
			assert.Equal(t, tt.want, got.Metadata["url"])
			assert.Equal(t, tt.url, in.Metadata["url"], "the loaded component is not changed")
		})
	}
	other := component.Component{Type: "bindings.azure.eventhubs", Metadata: map[string]string{"url": "tcp://127.0.0.1:1883"}}
	assert.Equal(t, other, withService(other, cred, "127.0.0.1:1883"))
}

// certFiles writes a fresh self-signed certificate for localhost and its
// key as PEM files, and returns their paths and a pool that trusts it.
func certFiles(t *testing.T) (cert, key string, pool *x509.CertPool) {
	t.Helper()
	cfg, pool := mqtttest.Cert(t, "localhost")
	dir := t.TempDir()
	der, err := x509.MarshalECPrivateKey(cfg.Certificates[0].PrivateKey.(*ecdsa.PrivateKey))
	require.NoError(t, err)
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cfg.Certificates[0].Certificate[0]}), 0o600))
	require.NoError(t, os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600))
	return cert, key, pool
}

// register registers id through the API and returns its credentials, read
// from the connection string the API answers.
func register(t *testing.T, base, id string) iothub.Credentials {
	t.Helper()
	resp, err := http.Post(base+"/api/registry/devices", "application/json", strings.NewReader(`{"deviceId":"`+id+`"}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	var body struct{ ConnectionString string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	c, err := iothub.ParseConnectionString(body.ConnectionString)
	require.NoError(t, err)
	return c
}

// send runs n messages of device c through a sender for cfg and returns how
// many the broker acknowledged.
func send(t *testing.T, cfg simmqtt.Config, id string, n int, seed uint64) (int, error) {
	t.Helper()
	cfg.ConnectTimeout, cfg.AckTimeout = 2*time.Second, 2*time.Second
	s, err := simmqtt.New(cfg)
	require.NoError(t, err)
	defer s.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	stats, err := sim.Run(ctx, sim.Config{Devices: 1, IDs: []string{id}, Rate: 50, Count: n, Seed: seed, Attempts: 1}, s)
	return stats.Total.Acked(), err
}

// TestDeviceIdentityWithTLS runs the app with the broker's TLS listener on
// every interface, so that anonymous clients are refused on both listeners,
// and shows a device registered through the API connecting with its
// connection string, over TLS and over plain loopback, and being counted:
// the app's own subscriber still reads, with its service credential.
func TestDeviceIdentityWithTLS(t *testing.T) {
	cert, key, pool := certFiles(t)
	tlsPort := freePort(t)
	a, p, _ := startEmbedded(t, "-broker-tls-cert", cert, "-broker-tls-key", key, "-broker-tls-addr", fmt.Sprintf("0.0.0.0:%d", tlsPort))
	base := "http://" + a.httpAddr
	kitchen, hall := register(t, base, "kitchen"), register(t, base, "hall")
	assert.Equal(t, "localhost", kitchen.HostName)
	plain := fmt.Sprintf("tcp://127.0.0.1:%d", p.broker)

	acked, err := send(t, simmqtt.Config{Broker: fmt.Sprintf("ssl://127.0.0.1:%d", tlsPort), RootCAs: pool,
		Credentials: []iothub.Credentials{kitchen}}, "kitchen", 3, 1)
	require.NoError(t, err)
	assert.Equal(t, 3, acked, "over TLS")
	acked, err = send(t, simmqtt.Config{Broker: plain, Credentials: []iothub.Credentials{hall}}, "hall", 2, 2)
	require.NoError(t, err)
	assert.Equal(t, 2, acked, "over plain loopback")

	acked, _ = send(t, simmqtt.Config{Broker: plain}, "attic", 1, 3)
	assert.Zero(t, acked, "anonymous: refused, the broker listens beyond loopback")
	wrong := iothub.Credentials{HostName: "localhost", DeviceID: "cellar", Key: kitchen.Key}
	acked, _ = send(t, simmqtt.Config{Broker: plain, Credentials: []iothub.Credentials{wrong}}, "cellar", 1, 4)
	assert.Zero(t, acked, "an unregistered device")

	want := func(got map[string]telemetry.Summary) bool {
		return len(got) == 2 && got["kitchen"].Count == 3 && got["hall"].Count == 2
	}
	require.Eventually(t, func() bool { return want(getDevices(t, base)) }, 20*time.Second, 50*time.Millisecond,
		"the acknowledged readings are counted: %v", getDevices(t, base))
	time.Sleep(300 * time.Millisecond)
	assert.True(t, want(getDevices(t, base)), "and nothing else")
}

// TestSimulatorRegistersItsDevices: `make run`'s simulator registers its
// devices and connects with their connection strings; an anonymous client
// (mosquitto_pub) is still let in on loopback.
func TestSimulatorRegistersItsDevices(t *testing.T) {
	a, p, _ := startEmbedded(t, "-simulate", "2", "-sim-rate", "20")
	base := "http://" + a.httpAddr
	require.Eventually(t, func() bool {
		got := getDevices(t, base)
		return got["sim-001"].Count > 0 && got["sim-002"].Count > 0
	}, 20*time.Second, 50*time.Millisecond)
	for _, id := range []string{"sim-001", "sim-002"} {
		resp, err := http.Get(base + "/api/registry/devices/" + id)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, "%s is registered", id)
	}

	acked, err := send(t, simmqtt.Config{Broker: fmt.Sprintf("tcp://127.0.0.1:%d", p.broker)}, "kitchen", 2, 1)
	require.NoError(t, err)
	assert.Equal(t, 2, acked, "anonymous on loopback")
	require.Eventually(t, func() bool { return getDevices(t, base)["kitchen"].Count == 2 }, 20*time.Second, 50*time.Millisecond)
}
