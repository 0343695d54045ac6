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

// BenchmarkPublish measures QoS 1 publishes acknowledged per second, each
// publisher waiting for its PUBACK before the next, with one subscriber
// acknowledging everything. "memory" is plain mochi without the durable
// hook, for comparison in the same run.
func BenchmarkPublish(b *testing.B) {
	brokers := []struct {
		name  string
		start func(b *testing.B) string
	}{
		{name: "durable", start: func(b *testing.B) string { return startBroker(b, b.TempDir()).Addr() }},
		{name: "memory", start: startMemory},
	}
	for _, br := range brokers {
		for _, publishers := range []int{1, 20} {
			b.Run(fmt.Sprintf("%s/publishers=%d", br.name, publishers), func(b *testing.B) {
				addr := br.start(b)
				sub := dial(b, addr, "app", true)
				tok := sub.Subscribe(filter, 1, func(paho.Client, paho.Message) {})
				require.True(b, tok.WaitTimeout(wait))
				require.NoError(b, tok.Error())
				devs := make([]paho.Client, publishers)
				for i := range devs {
					devs[i] = dial(b, addr, fmt.Sprintf("dev%d", i), true)
				}
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
