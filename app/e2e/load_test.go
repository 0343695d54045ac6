//go:build e2e

package e2e

import (
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"
)

// load is the benchmarks' device fleet: conns MQTT connections publishing
// QoS 1 round-robin for devices devices, each connection keeping up to
// window publishes in flight, each publish with a unique message id. Every
// topic carries IoT Hub's property bag with the creation time
// (iothub-creation-time-utc), from which the app measures publish-to-commit
// latency.
type load struct {
	broker  string  // tcp://host:port
	prefix  string  // device ids are prefix-000001 …
	devices int     // how many devices the messages are spread over
	conns   int     // publisher connections (8 unless set)
	window  int     // publishes in flight per connection (500 unless set)
	rate    float64 // messages per second over all connections; 0: as fast as acknowledged
	// sentAt, when set, receives each message id's publish time.
	sentAt func(id string, at time.Time)
}

// loadResult is what one run published.
type loadResult struct {
	acked   int
	elapsed time.Duration // first publish to last PUBACK
}

// ids returns the device id of device i (0-based).
func (l load) id(i int) string { return fmt.Sprintf("%s-%06d", l.prefix, i+1) }

// run publishes messages messages, numbered from first (message ids are
// prefix-m<n>), and returns once every one is acknowledged.
func (l load) run(t testing.TB, first, messages int) loadResult {
	t.Helper()
	conns, window := l.conns, l.window
	if conns == 0 {
		conns = 8
	}
	if window == 0 {
		window = 500
	}
	clients := make([]paho.Client, conns)
	for i := range clients {
		clients[i] = mqttClient(t, l.broker, fmt.Sprintf("%s-load-%d", l.prefix, i), nil)
	}
	defer func() {
		for _, c := range clients {
			c.Disconnect(100)
		}
	}()
	var acked atomic.Int64
	var failed atomic.Value
	var next atomic.Int64
	next.Store(int64(first))
	last := int64(first + messages)
	var interval time.Duration
	if l.rate > 0 {
		interval = time.Duration(float64(time.Second) / l.rate)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for _, c := range clients {
		tokens := make(chan paho.Token, window)
		wg.Go(func() { // completes in order; the channel is the window
			for tok := range tokens {
				if !tok.WaitTimeout(60*time.Second) || tok.Error() != nil {
					failed.Store(fmt.Errorf("publish: no PUBACK in 60 s (%v)", tok.Error()))
					continue
				}
				acked.Add(1)
			}
		})
		wg.Go(func() {
			defer close(tokens)
			for {
				n := next.Add(1) - 1
				if n >= last {
					return
				}
				if interval > 0 {
					if d := time.Until(start.Add(time.Duration(n-int64(first)) * interval)); d > 0 {
						time.Sleep(d)
					}
				}
				dev := l.id(int(n) % l.devices)
				msgID := fmt.Sprintf("%s-m%d", l.prefix, n)
				now := time.Now()
				payload := fmt.Appendf(nil, `{"deviceId":%q,"messageId":%q,"temperature":%.1f,"humidity":%.1f,"pressure":%.1f}`,
					dev, msgID, 15+float64(n%200)/10, 40+float64(n%300)/10, 1000+float64(n%100)/10)
				topic := "devices/" + dev + "/messages/events/iothub-creation-time-utc=" +
					url.QueryEscape(now.UTC().Format(time.RFC3339Nano))
				if l.sentAt != nil {
					l.sentAt(msgID, now)
				}
				tokens <- c.Publish(topic, 1, false, payload)
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatalf("load %s: %v", l.prefix, err)
	}
	return loadResult{acked: int(acked.Load()), elapsed: time.Since(start)}
}

// mqttClient connects a clean-session client; with onMessage it also
// subscribes to every device topic at QoS 1 and acknowledges each message
// after onMessage returns.
func mqttClient(t testing.TB, broker, id string, onMessage func(paho.Message)) paho.Client {
	t.Helper()
	opts := paho.NewClientOptions().AddBroker(broker).SetClientID(id).SetCleanSession(true).
		SetAutoReconnect(false).SetWriteTimeout(60 * time.Second).SetOrderMatters(false)
	c := paho.NewClient(opts)
	tok := c.Connect()
	require.True(t, tok.WaitTimeout(10*time.Second), "connect %s", id)
	require.NoError(t, tok.Error(), "connect %s", id)
	if onMessage != nil {
		tok := c.Subscribe("devices/+/messages/events/#", 1, func(_ paho.Client, m paho.Message) { onMessage(m) })
		require.True(t, tok.WaitTimeout(10*time.Second), "subscribe %s", id)
		require.NoError(t, tok.Error(), "subscribe %s", id)
	}
	return c
}
