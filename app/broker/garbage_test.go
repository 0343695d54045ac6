package broker

import (
	"io"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// connect is a valid MQTT 3.1.1 CONNECT: clean session, keepalive 60 s,
// client id "g".
var connect = []byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 1, 'g'}

func TestBrokerSurvivesGarbage(t *testing.T) {
	random := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	tests := []struct {
		name string
		data []byte
	}{
		{name: "random bytes", data: random},
		{name: "http request", data: []byte("GET / HTTP/1.1\r\nHost: broker\r\n\r\n")},
		{name: "bad protocol name", data: []byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'X', 4, 0x02, 0, 60, 0, 1, 'g'}},
		{name: "publish before connect", data: []byte{0x32, 9, 0, 3, 'a', '/', 'b', 0, 1, 'h', 'i'}},
		{name: "remaining length overflow", data: []byte{0x10, 0xff, 0xff, 0xff, 0xff, 0x7f}},
		{name: "truncated qos 1 publish", data: append(append([]byte{}, connect...), 0x32, 100, 0, 3, 'a', '/', 'b')},
		{name: "qos 1 publish to a wildcard topic", data: append(append([]byte{}, connect...), 0x32, 9, 0, 3, '+', '/', 'b', 0, 1, 'h', 'i')},
		{name: "unknown packet type", data: append(append([]byte{}, connect...), 0xf0, 0)},
	}
	b := startBroker(t, t.TempDir())
	// mochi's Close waits for its connection goroutines on a WaitGroup. The
	// race detector flags that wait when it begins while a connection is
	// still ending and an earlier one, which had taken the count up from
	// zero, has already gone: exactly what the garbage connections do. This
	// cleanup runs after the clients' own and before the broker's Close: it
	// lets every connection end first.
	t.Cleanup(func() { connectionsEnded(t, b) })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", b.Addr())
			require.NoError(t, err)
			defer conn.Close()
			_, _ = conn.Write(tt.data) // the broker may hang up half-way
			// Whatever the broker answers, it must end the conversation or
			// keep waiting; it must not stop serving others.
			require.NoError(t, conn.SetReadDeadline(time.Now().Add(500*time.Millisecond)))
			_, _ = io.Copy(io.Discard, conn)
		})
	}
	assert.Zero(t, b.Pending(), "garbage stored")

	want := sent{Topic: "devices/dev1/messages/events/", Payload: `{"id":"after"}`}
	got := subscribe(t, dial(t, b.Addr(), "app", true))
	publish(t, dial(t, b.Addr(), "dev1", true), want)
	assert.Equal(t, []sent{want}, receive(t, got, 1))
	settled(t, b)
}

// connectionsEnded waits until the broker has no client left, then a little
// longer for the connections' goroutines to return.
func connectionsEnded(t *testing.T, b *Broker) {
	t.Helper()
	require.Eventually(t, func() bool {
		return b.server.Clients.Len() == 0 && atomic.LoadInt64(&b.server.Info.ClientsConnected) == 0
	}, 5*time.Second, 10*time.Millisecond, "clients still connected")
	time.Sleep(100 * time.Millisecond)
}
