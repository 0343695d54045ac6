package broker

import (
	"fmt"
	"log/slog"
	"sync"
	"testing"

	paho "github.com/eclipse/paho.mqtt.golang"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/stretchr/testify/require"
)

// BenchmarkPublish measures QoS 1 publishes acknowledged per second with one
// subscriber acknowledging everything. In the "publishers=N" cases each
// publisher waits for its PUBACK before the next publish; in the
// "pipelined" cases each keeps up to inflight publishes unacknowledged, as
// an asynchronous client does. "durable" fsyncs each commit (the default),
// "durable-nosync" leaves it in the page cache (Sync "none"), and "memory"
// is plain mochi without the durable hook, for comparison in the same run.
func BenchmarkPublish(b *testing.B) {
	brokers := []struct {
		name  string
		start func(b *testing.B) string
	}{
		{name: "durable", start: func(b *testing.B) string { return startSynced(b, b.TempDir(), SyncFsync).Addr() }},
		{name: "durable-nosync", start: func(b *testing.B) string { return startSynced(b, b.TempDir(), SyncNone).Addr() }},
		{name: "memory", start: startMemory},
	}
	for _, br := range brokers {
		for _, publishers := range []int{1, 20} {
			b.Run(fmt.Sprintf("%s/publishers=%d", br.name, publishers), func(b *testing.B) {
				addr := br.start(b)
				devs := benchClients(b, addr, publishers)
				payload := []byte(`{"id":"m","temperature":21.5,"humidity":40}`)

				for b.Loop() {
					var wg sync.WaitGroup
					for i, dev := range devs {
						wg.Go(func() {
							tok := dev.Publish(fmt.Sprintf("devices/dev%d/messages/events/", i), 1, false, payload)
							if !tok.WaitTimeout(wait) || tok.Error() != nil {
								b.Errorf("publish: %v", tok.Error())
							}
						})
					}
					wg.Wait()
				}
				b.ReportMetric(float64(b.N*publishers)/b.Elapsed().Seconds(), "publishes/s")
			})
		}
		const publishers, inflight = 8, 1000
		b.Run(fmt.Sprintf("%s/pipelined/publishers=%d,inflight=%d", br.name, publishers, inflight), func(b *testing.B) {
			addr := br.start(b)
			devs := benchClients(b, addr, publishers)
			payload := []byte(`{"id":"m","temperature":21.5,"humidity":40}`)

			// One op is one publish: b.N is shared out among the publishers.
			b.ResetTimer()
			var wg sync.WaitGroup
			for i, dev := range devs {
				n := b.N / publishers
				if i < b.N%publishers {
					n++
				}
				wg.Go(func() { pipeline(b, dev, fmt.Sprintf("devices/dev%d/messages/events/", i), payload, n, inflight) })
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "publishes/s")
		})
	}
}

// benchClients connects one QoS 1 subscriber that acknowledges everything
// and returns n publishers.
func benchClients(b *testing.B, addr string, n int) []paho.Client {
	sub := dial(b, addr, "app", true)
	tok := sub.Subscribe(filter, 1, func(paho.Client, paho.Message) {})
	require.True(b, tok.WaitTimeout(wait))
	require.NoError(b, tok.Error())
	devs := make([]paho.Client, n)
	for i := range devs {
		devs[i] = dial(b, addr, fmt.Sprintf("dev%d", i), true)
	}
	return devs
}

// pipeline publishes n messages keeping up to inflight unacknowledged: it
// waits for the oldest token only when the window is full.
func pipeline(b *testing.B, dev paho.Client, topic string, payload []byte, n, inflight int) {
	window := make([]paho.Token, inflight)
	done := func(tok paho.Token) bool {
		if tok == nil {
			return true
		}
		if !tok.WaitTimeout(wait) || tok.Error() != nil {
			b.Errorf("publish: %v", tok.Error())
			return false
		}
		return true
	}
	for i := range n {
		if !done(window[i%inflight]) {
			return
		}
		window[i%inflight] = dev.Publish(topic, 1, false, payload)
	}
	for _, tok := range window {
		if !done(tok) {
			return
		}
	}
}

// startMemory starts mochi as it comes, without durability.
func startMemory(b *testing.B) string {
	s := mqtt.New(&mqtt.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(b, s.AddHook(new(auth.AllowHook), nil))
	tcp := listeners.NewTCP(listeners.Config{ID: "tcp", Address: "127.0.0.1:0"})
	require.NoError(b, s.AddListener(tcp))
	require.NoError(b, s.Serve())
	b.Cleanup(func() { require.NoError(b, s.Close()) })
	return tcp.Address()
}
