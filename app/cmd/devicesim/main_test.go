package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/broker"
	"github.com/enviromon/enviromon/app/component"
	"github.com/enviromon/enviromon/app/inprocess"
	"github.com/enviromon/enviromon/app/iothub"
	"github.com/enviromon/enviromon/app/registry"
	"github.com/enviromon/enviromon/app/sim"
	"github.com/enviromon/enviromon/app/sim/mqtt/mqtttest"
)

// connStr is a device connection string; its key is base64 of
// "secret-secret-secret-secret-32b!".
const connStr = "HostName=enviromon.azure-devices.net;DeviceId=sensor-01;SharedAccessKey=c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYiE="

// connStr2 is another device of the same hub.
const connStr2 = "HostName=enviromon.azure-devices.net;DeviceId=sensor-02;SharedAccessKey=c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYiE="

// hub is the credentials of connStr's hub for device id.
func hub(id string) iothub.Credentials {
	return iothub.Credentials{HostName: "enviromon.azure-devices.net", DeviceID: id, Key: []byte("secret-secret-secret-secret-32b!")}
}

// env is a fake environment.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want func(*config)
	}{
		{"defaults", nil, nil, func(c *config) {}},
		{"flags", []string{"-devices", "10", "-rate", "0.5", "-count", "7", "-duration", "1m", "-invalid", "0.1",
			"-repeat", "0.2", "-transport", "http", "-url", "http://127.0.0.1:9/t", "-shape", "pi", "-prefix", "lab-",
			"-seed", "42", "-light", "-attempts", "2", "-report", "1s"}, nil,
			func(c *config) {
				c.sim = sim.Config{Devices: 10, Rate: 0.5, Count: 7, Duration: time.Minute, Invalid: 0.1, Repeat: 0.2,
					Shape: sim.ShapePi, Prefix: "lab-", Seed: 42, Light: true, Attempts: 2, ProgressEvery: time.Second}
				c.transport, c.url, c.seedSet = "http", "http://127.0.0.1:9/t", true
			}},
		{"environment", nil, map[string]string{"SIM_DEVICES": "5", "SIM_RATE": "20", "SIM_TRANSPORT": "http",
			"SIM_SHAPE": "pi", "SIM_LIGHT": "true", "SIM_DURATION": "30s", "SIM_SEED": "3", "SIM_BROKER": "tcp://127.0.0.1:1884"},
			func(c *config) {
				c.sim.Devices, c.sim.Rate, c.sim.Shape, c.sim.Light, c.sim.Duration = 5, 20, sim.ShapePi, true, 30*time.Second
				c.sim.Seed, c.seedSet = 3, true
				c.transport, c.broker = "http", "tcp://127.0.0.1:1884"
			}},
		{"flags win over the environment", []string{"-devices", "2"}, map[string]string{"SIM_DEVICES": "5", "SIM_SEED": "3"},
			func(c *config) { c.sim.Devices, c.sim.Seed, c.seedSet = 2, 3, true }},
		{"IoT Hub device from the environment", nil, map[string]string{"SIM_CONNECTION_STRING": connStr},
			func(c *config) {
				c.sim.Devices, c.sim.IDs, c.broker = 1, []string{"sensor-01"}, ""
				c.hubs = []iothub.Credentials{hub("sensor-01")}
			}},
		{"IoT Hub device from flags", []string{"-connection-string", connStr, "-sas-ttl", "15m", "-devices", "1", "-rate", "2"},
			map[string]string{"SIM_SAS_TTL": "2h"},
			func(c *config) {
				c.sim.Devices, c.sim.IDs, c.sim.Rate, c.sasTTL, c.broker = 1, []string{"sensor-01"}, 2, 15*time.Minute, ""
				c.hubs = []iothub.Credentials{hub("sensor-01")}
			}},
		{"several devices, flag repeated", []string{"-connection-string", connStr, "-connection-string", connStr2},
			nil,
			func(c *config) {
				c.sim.Devices, c.sim.IDs, c.broker = 2, []string{"sensor-01", "sensor-02"}, ""
				c.hubs = []iothub.Credentials{hub("sensor-01"), hub("sensor-02")}
			}},
		{"several devices, one a line, against the app's broker", []string{"-broker", "tcp://127.0.0.1:1883", "-devices", "2"},
			map[string]string{"SIM_CONNECTION_STRING": connStr + "\n" + connStr2 + "\n"},
			func(c *config) {
				c.sim.Devices, c.sim.IDs = 2, []string{"sensor-01", "sensor-02"}
				c.hubs = []iothub.Credentials{hub("sensor-01"), hub("sensor-02")}
			}},
		{"over HTTP", []string{"-connection-string", connStr, "-transport", "http"}, nil,
			func(c *config) {
				c.sim.Devices, c.sim.IDs, c.broker, c.transport = 1, []string{"sensor-01"}, "", "http"
				c.hubs = []iothub.Credentials{hub("sensor-01")}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseConfig(tt.args, env(tt.env), io.Discard)
			require.NoError(t, err)
			want := config{
				sim: sim.Config{Devices: 3, Rate: 1, Prefix: "sim-", Shape: sim.ShapeBME280, Attempts: 4,
					ProgressEvery: 5 * time.Second, Seed: got.sim.Seed},
				transport: "mqtt", broker: "tcp://127.0.0.1:1883", url: "http://127.0.0.1:8080/api/telemetry",
				sasTTL: time.Hour,
			}
			tt.want(&want)
			assert.Equal(t, want, got)
			if !got.seedSet {
				assert.NotZero(t, got.sim.Seed, "a seed is drawn")
			}
		})
	}
}

func TestParseConfigRefuses(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown flag", []string{"-nope"}, nil, "not defined"},
		{"stray argument", []string{"extra"}, nil, "unexpected argument"},
		{"bad transport", []string{"-transport", "amqp"}, nil, "transport"},
		{"bad shape", []string{"-shape", "xml"}, nil, "shape"},
		{"share out of range", []string{"-invalid", "2"}, nil, "invalid share"},
		{"no devices", []string{"-devices", "0"}, nil, "devices"},
		{"bad environment", nil, map[string]string{"SIM_RATE": "fast"}, "SIM_RATE"},
		{"several devices, one connection string", []string{"-connection-string", connStr, "-devices", "3"}, nil, "-devices 3 with 1 connection strings"},
		{"several devices from the environment", []string{"-connection-string", connStr}, map[string]string{"SIM_DEVICES": "2"}, "-devices 2"},
		{"a prefix and a hub", []string{"-connection-string", connStr, "-prefix", "lab-"}, nil, "-prefix does not apply"},
		{"a CA file without a hub", []string{"-ca-cert", "ca.pem"}, nil, "-ca-cert applies only with -connection-string"},
		{"a CA file that is not there", []string{"-connection-string", connStr, "-ca-cert", "/nonexistent/ca.pem"}, nil, "-ca-cert: open"},
		{"short token lifetime", []string{"-connection-string", connStr, "-sas-ttl", "30s"}, nil, "at least 1m"},
		{"token lifetime without a hub", []string{"-sas-ttl", "2h"}, nil, "-sas-ttl applies only with -connection-string"},
		{"a bad second string", []string{"-connection-string", connStr, "-connection-string", "HostName=x"}, nil, "-connection-string 2: invalid"},
		{"lower-case part name", nil, map[string]string{"SIM_CONNECTION_STRING": strings.Replace(connStr, "DeviceId", "deviceid", 1)}, `"deviceid" must be spelt "DeviceId"`},
		{"bad key", []string{"-connection-string", strings.Replace(connStr, "MyYiE=", "MyYiE", 1)}, nil, "SharedAccessKey is not standard base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig(tt.args, env(tt.env), io.Discard)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "c2VjcmV0", "the key is never shown")
		})
	}
}

func TestConfigStringMasksTheKey(t *testing.T) {
	c, err := parseConfig([]string{"-rate", "2", "-count", "10", "-seed", "1"}, env(map[string]string{"SIM_CONNECTION_STRING": connStr}), io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "1 device (sensor-01) at 2 msg/s each, 10 sends per device; shape bme280, light false, invalid 0, repeat 0, seed 1; "+
		"mqtt to IoT Hub as HostName=enviromon.azure-devices.net;DeviceId=sensor-01;SharedAccessKey=*** "+
		"(ssl://enviromon.azure-devices.net:8883, SAS tokens for 1h0m0s)", c.String())
}

func TestRunOverHTTP(t *testing.T) {
	var mu sync.Mutex
	ids := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		ids[r.Header.Get("Message-Id")] = true
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()

	var out bytes.Buffer
	args := []string{"devicesim", "-transport", "http", "-devices", "2", "-count", "5", "-rate", "100", "-seed", "1"}
	require.NoError(t, run(t.Context(), args, env(map[string]string{"SIM_URL": srv.URL}), &out))

	assert.Len(t, ids, 10)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	assert.Contains(t, lines[0], "2 devices (sim-001…) at 100 msg/s each, 5 sends per device")
	assert.Contains(t, lines[0], "seed 1;")
	assert.Contains(t, lines[len(lines)-1], "done: sent 10 (valid 10, invalid 0, repeats 0)")
	assert.Contains(t, lines[len(lines)-1], "failures 0")
}

func TestRunFailsWhenSendsFail(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "store down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()

	var out bytes.Buffer
	args := []string{"devicesim", "-transport", "http", "-url", srv.URL, "-devices", "1", "-count", "2", "-rate", "100", "-attempts", "3"}
	err := run(t.Context(), args, env(nil), &out)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "2 of 2 sends failed")
	assert.Equal(t, int32(6), calls.Load(), "each send tried three times")
	assert.Contains(t, out.String(), "failures 2")
}

func TestRunOverMQTT(t *testing.T) {
	srv, url := mqtttest.Broker(t)

	var out bytes.Buffer
	args := []string{"devicesim", "-broker", url, "-devices", "3", "-rate", "50",
		"-duration", "300ms", "-shape", "pi", "-report", "100ms", "-seed", "2"}
	require.NoError(t, run(t.Context(), args, env(nil), &out))

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.GreaterOrEqual(t, len(lines), 3, "config, progress and summary lines:\n%s", out.String())
	assert.Contains(t, lines[1], "msg/s")
	last := lines[len(lines)-1]
	var sent int
	_, err := fmt.Sscanf(last[strings.Index(last, "done: sent "):], "done: sent %d", &sent)
	require.NoError(t, err, last)
	// 50/s for 0.3 s, three devices: about 45.
	assert.InDelta(t, 45, sent, 15, last)
	assert.Equal(t, int64(sent), atomic.LoadInt64(&srv.Info.MessagesReceived), "the broker got every message counted")
	assert.Contains(t, last, "failures 0")
}

func TestRunHelp(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), []string{"devicesim", "-h"}, env(nil), &out))
	assert.Contains(t, out.String(), "SIM_RATE")
	assert.Contains(t, out.String(), "SIM_SAS_TTL for -sas-ttl")
	assert.Contains(t, out.String(), "-connection-string string")
}

// TestRunWithConnectionStringsAgainstTheAppsBroker: connection strings from
// the app's registry work against its embedded broker, which here refuses
// anonymous clients, with the same code as against IoT Hub.
func TestRunWithConnectionStringsAgainstTheAppsBroker(t *testing.T) {
	store, err := inprocess.OpenState(t.Context(), component.Component{Name: "statestore", Type: "state.in-memory", Version: "v1",
		Metadata: map[string]string{}}, "enviromon", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	reg, err := registry.New(store, registry.Config{Host: "localhost"})
	require.NoError(t, err)
	b, err := broker.New(broker.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), HubHost: reg.Host(), Devices: reg, RequireAuth: true}, nil)
	require.NoError(t, err)
	require.NoError(t, b.Start())
	t.Cleanup(func() { _ = b.Close() })
	var strs []string
	for _, id := range []string{"lab-1", "lab-2"} {
		d, err := reg.Register(t.Context(), id, "")
		require.NoError(t, err)
		strs = append(strs, d.Credentials(reg.Host()).ConnectionString())
	}

	var out bytes.Buffer
	args := []string{"devicesim", "-broker", "tcp://" + b.Addr(), "-count", "3", "-rate", "100", "-seed", "1"}
	require.NoError(t, run(t.Context(), args, env(map[string]string{"SIM_CONNECTION_STRING": strings.Join(strs, "\n")}), &out))
	assert.Contains(t, out.String(), "2 devices (lab-1) at 100 msg/s each")
	assert.Contains(t, out.String(), "to IoT Hub as 2 devices of localhost (tcp://127.0.0.1:")
	assert.NotContains(t, out.String(), "SharedAccessKey=", "no key in the output")
	assert.Contains(t, out.String(), "done: sent 6")
	assert.Equal(t, 6, b.Pending(), "the broker holds the six messages for the app")

	// The same strings with a wrong key: refused.
	wrong := strings.Replace(strs[0], "SharedAccessKey=", "SharedAccessKey=AAAA", 1)
	err = run(t.Context(), []string{"devicesim", "-broker", "tcp://" + b.Addr(), "-count", "1", "-rate", "100", "-attempts", "1"},
		env(map[string]string{"SIM_CONNECTION_STRING": wrong}), io.Discard)
	assert.ErrorContains(t, err, "1 of 1 sends failed")
}
