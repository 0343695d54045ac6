package broker

import (
	"log/slog"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"
)

// Test helpers: real paho clients over TCP on 127.0.0.1.

const (
	filter = "devices/+/messages/events/#"
	wait   = 10 * time.Second
)

// sent is a message as a device published it.
type sent struct {
	Topic   string
	Payload string
}

func startBroker(t testing.TB, dir string) *Broker {
	t.Helper()
	return startSynced(t, dir, SyncFsync)
}

// startSynced starts a broker on dir with the given sync policy.
func startSynced(t testing.TB, dir string, sync Sync) *Broker {
	t.Helper()
	b, err := New(Config{Addr: "127.0.0.1:0", DataDir: dir, Sync: sync}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.NoError(t, b.Start())
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	return b
}

// dial connects a clean-session client that never reconnects on its own, so
// a broker restart is visible to the test.
func dial(t testing.TB, addr, id string, autoAck bool) paho.Client {
	t.Helper()
	opts := paho.NewClientOptions().
		AddBroker("tcp://" + addr).
		SetClientID(id).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(wait).
		SetOrderMatters(false).
		SetAutoAckDisabled(!autoAck)
	c := paho.NewClient(opts)
	tok := c.Connect()
	require.True(t, tok.WaitTimeout(wait), "connect %s: timeout", id)
	require.NoError(t, tok.Error(), "connect %s", id)
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

// subscribe subscribes c to filter at QoS 1 and returns what it receives.
func subscribe(t testing.TB, c paho.Client) <-chan paho.Message {
	t.Helper()
	got := make(chan paho.Message, 10_000)
	tok := c.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) { got <- m })
	require.True(t, tok.WaitTimeout(wait), "subscribe: timeout")
	require.NoError(t, tok.Error(), "subscribe")
	return got
}

// publish sends m at QoS 1 and returns once the broker acknowledged it.
func publish(t testing.TB, c paho.Client, m sent) {
	t.Helper()
	tok := c.Publish(m.Topic, 1, false, []byte(m.Payload))
	require.True(t, tok.WaitTimeout(wait), "publish %v: timeout", m)
	require.NoError(t, tok.Error(), "publish %v", m)
}

// receive waits for n messages.
func receive(t testing.TB, got <-chan paho.Message, n int) []sent {
	t.Helper()
	var out []sent
	deadline := time.After(wait)
	for len(out) < n {
		select {
		case m := <-got:
			out = append(out, sent{Topic: m.Topic(), Payload: string(m.Payload())})
		case <-deadline:
			require.FailNow(t, "messages missing", "got %d of %d: %v", len(out), n, out)
		}
	}
	return out
}

// quiet asserts that nothing arrives for a while.
func quiet(t testing.TB, got <-chan paho.Message) {
	t.Helper()
	select {
	case m := <-got:
		require.FailNow(t, "unexpected message", "%s %s", m.Topic(), m.Payload())
	case <-time.After(300 * time.Millisecond):
	}
}

// settled waits until the broker has processed every acknowledgement.
func settled(t testing.TB, b *Broker) {
	t.Helper()
	require.Eventually(t, func() bool { return b.Pending() == 0 }, wait, 10*time.Millisecond,
		"pending: %d", b.Pending())
}
