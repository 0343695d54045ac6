package pipeline_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/component"
	"github.com/enviromon/enviromon/app/inprocess"
	"github.com/enviromon/enviromon/app/pipeline"
)

// BenchmarkProcess measures committed messages per second from 64
// concurrent callers over 50 devices, with group commit (the default 2 ms
// linger, and none) and, side by side, with one commit per message as the
// original system did (MaxBatch 1, one lane).
func BenchmarkProcess(b *testing.B) {
	stores := map[string]func(b *testing.B) pipeline.Store{
		"in-memory": func(b *testing.B) pipeline.Store {
			s, err := inprocess.OpenState(context.Background(), component.Component{Name: "s", Type: "state.in-memory"}, "bench", nil)
			require.NoError(b, err)
			b.Cleanup(func() { _ = s.Close() })
			return s
		},
		"sqlite": func(b *testing.B) pipeline.Store { return openSQLite(b, filepath.Join(b.TempDir(), "state.db")) },
	}
	modes := []struct {
		name string
		cfg  pipeline.Config
	}{
		{"group-commit-default", pipeline.DefaultConfig()}, // lingers 2 ms
		{"group-commit-no-linger", pipeline.Config{}},
		{"per-message", pipeline.Config{MaxBatch: 1, Lanes: 1}},
	}
	for _, storeName := range []string{"in-memory", "sqlite"} {
		for _, mode := range modes {
			b.Run(storeName+"/"+mode.name, func(b *testing.B) {
				p, err := pipeline.New(stores[storeName](b), mode.cfg)
				require.NoError(b, err)
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() { defer close(done); _ = p.Run(ctx) }()
				defer func() { cancel(); <-done }()

				var seq atomic.Int64
				b.SetParallelism(32) // 64 callers on 2 cores, like a busy binding
				b.ReportAllocs()
				began := time.Now()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						n := seq.Add(1)
						payload := fmt.Appendf(nil, `{"deviceId":"dev-%02d","messageId":"m%d","temperature":21.5,"humidity":40,"pressure":1000}`, n%50, n)
						if _, err := p.Process(ctx, pipeline.Message{Payload: payload}); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/time.Since(began).Seconds(), "msg/s")
				s := p.Metrics().Snapshot()
				if s.Flushes > 0 {
					b.ReportMetric(float64(s.Batched)/float64(s.Flushes), "readings/commit")
				}
			})
		}
	}
}
