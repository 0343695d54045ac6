package inprocess_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mqttserver "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/component"
	"github.com/enviromon/enviromon/app/inprocess"
)

const deviceTopic = "devices/dev1/messages/events/"

// broker is an in-process MQTT broker on 127.0.0.1.
type broker struct {
	srv  *mqttserver.Server
	addr string
}

func startBroker(t *testing.T) *broker {
	t.Helper()
	srv := mqttserver.New(&mqttserver.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, srv.AddHook(new(auth.AllowHook), nil))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.NoError(t, srv.AddListener(listeners.NewNet("tcp", l)))
	require.NoError(t, srv.Serve())
	t.Cleanup(func() { _ = srv.Close() })
	return &broker{srv: srv, addr: l.Addr().String()}
}

// subscribed waits until someone subscribes to a filter matching topic.
func (b *broker) subscribed(t *testing.T, topic string) {
	t.Helper()
	require.Eventually(t, func() bool {
		return len(b.srv.Topics.Subscribers(topic).Subscriptions) > 0
	}, 10*time.Second, 10*time.Millisecond, "no subscription for %s", topic)
}

// inflight returns how many messages the broker has sent to clientID and
// not had acknowledged.
func (b *broker) inflight(clientID string) int {
	cl, ok := b.srv.Clients.Get(clientID)
	if !ok {
		return -1
	}
	return cl.State.Inflight.Len()
}

// publish sends payload to topic at QoS 1 as a device would.
func (b *broker) publish(t *testing.T, topic, payload string) {
	t.Helper()
	opts := paho.NewClientOptions().AddBroker("tcp://" + b.addr).SetClientID("device-" + t.Name())
	c := paho.NewClient(opts)
	tok := c.Connect()
	require.True(t, tok.WaitTimeout(5*time.Second) && tok.Error() == nil, "connect: %v", tok.Error())
	defer c.Disconnect(100)
	tok = c.Publish(topic, 1, false, payload)
	require.True(t, tok.WaitTimeout(5*time.Second) && tok.Error() == nil, "publish: %v", tok.Error())
}

func mqttComponent(b *broker, consumerID, retries string) component.Component {
	return component.Component{Name: "telemetry", Type: "bindings.mqtt3", Version: "v1", Metadata: map[string]string{
		"url":               "tcp://" + b.addr,
		"topic":             "devices/+/messages/events/#",
		"consumerID":        consumerID,
		"cleanSession":      "false",
		"backOffMaxRetries": retries,
	}}
}

// delivery is one call of the handler.
type delivery struct {
	data     string
	metadata map[string]string
	at       time.Time
}

// recorder is a Handler that records calls and fails the first failFirst.
type recorder struct {
	mu        sync.Mutex
	calls     []delivery
	failFirst int
	got       chan delivery
}

func newRecorder(failFirst int) *recorder {
	return &recorder{failFirst: failFirst, got: make(chan delivery, 16)}
}

func (r *recorder) handle(_ context.Context, data []byte, md map[string]string) ([]byte, error) {
	r.mu.Lock()
	d := delivery{data: string(data), metadata: md, at: time.Now()}
	r.calls = append(r.calls, d)
	fail := len(r.calls) <= r.failFirst
	r.mu.Unlock()
	r.got <- d
	if fail {
		return nil, errors.New("not now")
	}
	return nil, nil
}

func (r *recorder) next(t *testing.T, within time.Duration) delivery {
	t.Helper()
	select {
	case d := <-r.got:
		return d
	case <-time.After(within):
		t.Fatalf("no delivery within %s", within)
		return delivery{}
	}
}

func (r *recorder) none(t *testing.T, during time.Duration) {
	t.Helper()
	select {
	case d := <-r.got:
		t.Fatalf("unexpected delivery %+v", d)
	case <-time.After(during):
	}
}

// openInput opens c and starts reading into r; it is closed when the test ends.
func openInput(t *testing.T, c component.Component, r *recorder) *inprocess.Input {
	t.Helper()
	in, err := inprocess.OpenInput(t.Context(), c, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = in.Close() })
	require.NoError(t, in.Read(t.Context(), r.handle))
	return in
}

func TestInputMQTT(t *testing.T) {
	t.Run("delivers payload and topic", func(t *testing.T) {
		b := startBroker(t)
		r := newRecorder(0)
		openInput(t, mqttComponent(b, "enviromon-a", "0"), r)
		b.subscribed(t, deviceTopic)

		b.publish(t, "devices/dev1/twin/reported", `{"ignored":true}`)
		b.publish(t, deviceTopic, `{"t":21.5}`)
		d := r.next(t, 5*time.Second)
		assert.Equal(t, `{"t":21.5}`, d.data)
		assert.Equal(t, map[string]string{"topic": deviceTopic}, d.metadata)
		r.none(t, 200*time.Millisecond)
	})

	t.Run("failed message comes back after reconnecting", func(t *testing.T) {
		b := startBroker(t)
		c := mqttComponent(b, "enviromon-b", "0")
		first := newRecorder(1)
		in := openInput(t, c, first)
		b.subscribed(t, deviceTopic)
		b.publish(t, deviceTopic, `{"t":1}`)
		assert.Equal(t, `{"t":1}`, first.next(t, 5*time.Second).data)
		// backOffMaxRetries 0: mqtt3 does not call again, and the broker
		// does not resend on the same connection; the message stays
		// unacknowledged in the session.
		first.none(t, time.Second)
		assert.Equal(t, 1, b.inflight("enviromon-b-consumer"), "unacknowledged")
		require.NoError(t, in.Close())

		// Same consumerID, cleanSession false: the broker resends it right
		// after CONNACK. mqtt3 subscribes (and so registers its handler)
		// in paho's OnConnect goroutine, which can lose that race: paho then
		// drops the message without acknowledging it ("no handler was
		// available"), and it comes back only on the next reconnect. Seen
		// about once in 60 reconnects here.
		var d delivery
		for attempt := 1; ; attempt++ {
			again := newRecorder(0)
			in := openInput(t, c, again)
			select {
			case d = <-again.got:
			case <-time.After(2 * time.Second):
				require.Less(t, attempt, 3, "not redelivered after %d reconnects", attempt)
				t.Logf("reconnect %d: redelivered message arrived before mqtt3's handler; reconnecting", attempt)
				require.NoError(t, in.Close())
				continue
			}
			break
		}
		assert.Equal(t, `{"t":1}`, d.data)
		assert.Equal(t, deviceTopic, d.metadata["topic"])
	})

	t.Run("backOffMaxRetries retries in-process every 5s", func(t *testing.T) {
		if testing.Short() {
			t.Skip("waits for mqtt3's fixed 5 s retry interval")
		}
		b := startBroker(t)
		c := mqttComponent(b, "enviromon-c", "1")
		r := newRecorder(1)
		in := openInput(t, c, r)
		b.subscribed(t, deviceTopic)
		b.publish(t, deviceTopic, `{"t":2}`)
		first := r.next(t, 5*time.Second)
		second := r.next(t, 10*time.Second)
		assert.Equal(t, first.data, second.data)
		assert.InDelta(t, 5*time.Second, second.at.Sub(first.at), float64(time.Second))
		// The second call succeeded, so mqtt3 acknowledges the message.
		require.Eventually(t, func() bool { return b.inflight("enviromon-c-consumer") == 0 },
			5*time.Second, 10*time.Millisecond, "acknowledged")
		r.none(t, 200*time.Millisecond)
		require.NoError(t, in.Close())
	})
}

// TestInputEventHubsOpens: the IoT Hub input initialises from its metadata
// (connecting happens only on Read, which needs Azure).
func TestInputEventHubsOpens(t *testing.T) {
	in, err := inprocess.OpenInput(t.Context(), component.Component{Name: "iothub", Type: "bindings.azure.eventhubs", Version: "v1", Metadata: map[string]string{
		"connectionString":        "Endpoint=sb://127.0.0.1:1/;SharedAccessKeyName=service;SharedAccessKey=a2V5;EntityPath=hub",
		"consumerID":              "enviromon",
		"storageAccountName":      "devstoreaccount1",
		"storageConnectionString": "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;",
		"storageContainerName":    "checkpoints",
	}}, nil)
	require.NoError(t, err)
	require.NoError(t, in.Close())

	_, err = inprocess.OpenInput(t.Context(), component.Component{Name: "iothub", Type: "bindings.azure.eventhubs", Metadata: map[string]string{}}, nil)
	require.EqualError(t, err, `component "iothub": init bindings.azure.eventhubs: one of connectionString or eventHubNamespace is required`)
}
