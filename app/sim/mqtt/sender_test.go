package mqtt_test

import (
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/sim"
	simmqtt "github.com/enviromon/enviromon/app/sim/mqtt"
	"github.com/enviromon/enviromon/app/sim/mqtt/mqtttest"
)

// message is one publish the subscriber received.
type message struct {
	topic   string
	payload []byte
}

// subscriber records everything published under devices/.
type subscriber struct {
	mu  sync.Mutex
	got []message
}

func subscribe(t *testing.T, url string) *subscriber {
	t.Helper()
	s := &subscriber{}
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("test-subscriber"))
	tok := c.Connect()
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, tok.Error())
	t.Cleanup(func() { c.Disconnect(100) })
	tok = c.Subscribe("devices/+/messages/events/#", 1, func(_ paho.Client, m paho.Message) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.got = append(s.got, message{m.Topic(), m.Payload()})
	})
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, tok.Error())
	return s
}

func (s *subscriber) messages() []message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]message(nil), s.got...)
}

func sender(t *testing.T, cfg simmqtt.Config) *simmqtt.Sender {
	t.Helper()
	s, err := simmqtt.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestSenderPublishesOnTheDeviceTopic(t *testing.T) {
	srv, url := mqtttest.Broker(t)
	sub := subscribe(t, url)
	s := sender(t, simmqtt.Config{Broker: url})

	payload := []byte(`{"deviceId":"sim-001","messageId":"sim-001-1","temperature":21.5}`)
	require.NoError(t, s.Send(t.Context(), "sim-001", payload))

	require.Eventually(t, func() bool { return len(sub.messages()) == 1 }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, message{"devices/sim-001/messages/events/", payload}, sub.messages()[0])
	_, ok := srv.Clients.Get("sim-001")
	assert.True(t, ok, "the device connects with its own id as client id")
}

func TestSenderReconnects(t *testing.T) {
	srv, url := mqtttest.Broker(t)
	sub := subscribe(t, url)
	s := sender(t, simmqtt.Config{Broker: url})
	require.NoError(t, s.Send(t.Context(), "sim-001", []byte(`{"n":1}`)))

	cl, ok := srv.Clients.Get("sim-001")
	require.True(t, ok)
	cl.Stop(errors.New("dropped by test"))

	// A publish that meets the dead connection before the client notices
	// fails and is sim.Run's to retry; the same Sender then gets through.
	require.Eventually(t, func() bool {
		return s.Send(t.Context(), "sim-001", []byte(`{"n":2}`)) == nil
	}, 10*time.Second, 100*time.Millisecond, "sent once the connection is back")
	// Any place in the stream: a redelivery of the first may come after it.
	require.Eventually(t, func() bool {
		return slices.ContainsFunc(sub.messages(), func(m message) bool { return string(m.payload) == `{"n":2}` })
	}, 5*time.Second, 10*time.Millisecond)
}

func TestSenderWithoutBroker(t *testing.T) {
	// Nothing listens on port 1 of loopback: the connection is refused.
	s := sender(t, simmqtt.Config{Broker: "tcp://127.0.0.1:1", ConnectTimeout: time.Second})
	err := s.Send(t.Context(), "sim-001", []byte(`{}`))
	require.Error(t, err)
	assert.NotErrorIs(t, err, sim.ErrRejected)

	require.NoError(t, s.Close())
	assert.ErrorIs(t, s.Send(t.Context(), "sim-001", []byte(`{}`)), simmqtt.ErrClosed)
}

func TestNewRefusesBadBroker(t *testing.T) {
	_, err := simmqtt.New(simmqtt.Config{Broker: "http://127.0.0.1:1883"})
	assert.Error(t, err)
}

func TestRunOverMQTT(t *testing.T) {
	for _, shape := range []sim.Shape{sim.ShapeBME280, sim.ShapePi} {
		t.Run(string(shape), func(t *testing.T) {
			_, url := mqtttest.Broker(t)
			sub := subscribe(t, url)
			cfg := sim.Config{Devices: 3, Rate: 100, Count: 40, Invalid: 0.25, Repeat: 0.2, Shape: shape, Seed: 6}
			stats, err := sim.Run(t.Context(), cfg, sender(t, simmqtt.Config{Broker: url}))
			require.NoError(t, err)
			require.Equal(t, 120, stats.Total.Acked(), "every send acknowledged")

			require.Eventually(t, func() bool { return len(sub.messages()) == stats.Total.Acked() }, 5*time.Second, 10*time.Millisecond)
			// What a de-duplicating receiver makes of it, per device.
			type ids struct{ valid, invalid map[string]bool }
			byDevice := map[string]*ids{}
			repeats := map[string]int{}
			for _, m := range sub.messages() {
				var body struct {
					DeviceID    string
					MessageID   any
					Temperature any
					Humidity    float64
					Pressure    *float64
				}
				require.NoError(t, json.Unmarshal(m.payload, &body))
				require.Equal(t, simmqtt.Topic(body.DeviceID), m.topic, "published on its own device's topic")
				d := byDevice[body.DeviceID]
				if d == nil {
					d = &ids{map[string]bool{}, map[string]bool{}}
					byDevice[body.DeviceID] = d
				}
				id, _ := json.Marshal(body.MessageID)
				temp, numeric := body.Temperature.(float64)
				valid := numeric && temp >= -40 && temp <= 80 && body.Humidity >= 0 && body.Humidity <= 100 &&
					(body.Pressure == nil || *body.Pressure >= 600 && *body.Pressure <= 1600)
				switch {
				case d.valid[string(id)] || d.invalid[string(id)]:
					repeats[body.DeviceID]++
				case valid:
					d.valid[string(id)] = true
				default:
					d.invalid[string(id)] = true
				}
			}
			require.Len(t, byDevice, 3)
			for dev, d := range byDevice {
				c := stats.Devices[dev]
				assert.Equal(t, sim.Counts{Valid: len(d.valid), Invalid: len(d.invalid), Repeats: repeats[dev]}, c, dev)
			}
		})
	}
}
