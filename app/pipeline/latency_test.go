package pipeline

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHistogramBuckets(t *testing.T) {
	tests := []struct {
		name       string
		d          time.Duration
		wantBucket int // index of the first bucket that counts d; len(latencyBounds) is +Inf
	}{
		{"zero", 0, 0},
		{"negative clamps to zero", -time.Hour, 0},
		{"on the first bound", time.Millisecond, 0},
		{"just above the first bound", time.Millisecond + 1, 1},
		{"on a middle bound", 50 * time.Millisecond, 5},
		{"just below a bound", time.Second - 1, 9},
		{"on a bound", time.Second, 9},
		{"on the last bound", time.Minute, len(latencyBounds) - 1},
		{"above the last bound", time.Minute + 1, len(latencyBounds)},
		{"far above", 24 * time.Hour, len(latencyBounds)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Histogram
			h.Observe(tt.d)
			s := h.Snapshot()
			require.Len(t, s.Cumulative, len(latencyBounds))
			for i, c := range s.Cumulative {
				want := uint64(0)
				if i >= tt.wantBucket {
					want = 1
				}
				assert.Equal(t, want, c, "bucket le=%v", s.Bounds[i])
			}
			assert.Equal(t, uint64(1), s.Count)
			assert.InDelta(t, max(tt.d, 0).Seconds(), s.Sum, 1e-9)
		})
	}
}

func TestHistogramSnapshotIsCumulative(t *testing.T) {
	var h Histogram
	for _, d := range []time.Duration{500 * time.Microsecond, 3 * time.Millisecond, 3 * time.Millisecond, 700 * time.Millisecond, 2 * time.Minute} {
		h.Observe(d)
	}
	s := h.Snapshot()
	assert.Equal(t, []time.Duration{
		time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond,
		50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
		time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute,
	}, s.Bounds)
	assert.Equal(t, []uint64{1, 1, 3, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4}, s.Cumulative)
	assert.Equal(t, uint64(5), s.Count, "the +Inf bucket holds the 2 minutes too")
	assert.InDelta(t, 120.7065, s.Sum, 1e-9)

	s.Bounds[0] = time.Hour
	assert.Equal(t, time.Millisecond, h.Snapshot().Bounds[0], "a snapshot's bounds are its own")
}

func TestHistogramConcurrentObservers(t *testing.T) {
	var h Histogram
	const workers, each = 8, 2000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				h.Observe(time.Duration(w*each+i) * 5 * time.Millisecond)
			}
		})
	}
	// Snapshots taken meanwhile stay cumulative and consistent with Count.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100 {
			s := h.Snapshot()
			for i := 1; i < len(s.Cumulative); i++ {
				assert.LessOrEqual(t, s.Cumulative[i-1], s.Cumulative[i])
			}
			assert.LessOrEqual(t, s.Cumulative[len(s.Cumulative)-1], s.Count)
		}
	}()
	wg.Wait()
	<-done
	s := h.Snapshot()
	assert.Equal(t, uint64(workers*each), s.Count)
	// 0 to 79.995 s in steps of 5 ms: their sum, to float rounding.
	n := float64(workers * each)
	assert.InDelta(t, n*(n-1)/2*0.005, s.Sum, 1e-3)
	assert.Equal(t, uint64(12001), s.Cumulative[len(s.Cumulative)-1], "up to 60 s inclusive")
	assert.Equal(t, uint64(201), s.Cumulative[9], "up to 1 s inclusive")
}

func TestHistogramObserveDoesNotAllocate(t *testing.T) {
	var h Histogram
	allocs := testing.AllocsPerRun(100, func() { h.Observe(3 * time.Millisecond) })
	assert.Zero(t, allocs)
}

func TestProcessObservesLatency(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	const reading = `{"deviceId":"d1","temperature":20}`
	tests := []struct {
		name      string
		m         Message
		storeErr  error
		wantCount uint64
		wantSum   float64
	}{
		{"device creation time", Message{Payload: []byte(reading), CreatedAt: now.Add(-30 * time.Millisecond)}, nil, 1, 0.03},
		{"creation time wins over enqueue time", Message{Payload: []byte(reading),
			CreatedAt: now.Add(-3 * time.Second), EnqueuedAt: now.Add(-time.Second)}, nil, 1, 3},
		{"enqueue time without creation time", Message{Payload: []byte(reading), EnqueuedAt: now.Add(-time.Second)}, nil, 1, 1},
		{"device clock ahead counts as 0", Message{Payload: []byte(reading), CreatedAt: now.Add(time.Minute)}, nil, 1, 0},
		{"rejected reading is processed too", Message{Payload: []byte(`not json`), DeviceID: "d1", CreatedAt: now.Add(-2 * time.Second)}, nil, 1, 2},
		{"neither time", Message{Payload: []byte(reading)}, nil, 0, 0},
		{"failed commit", Message{Payload: []byte(reading), CreatedAt: now.Add(-time.Second)}, errors.New("store down"), 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newMemStore()
			p := start(t, store, Config{}, WithClock(func() time.Time { return now }))
			require.Empty(t, p.index.ensure(context.Background(), []string{"d1"}))
			store.setErr = tt.storeErr
			_, err := p.Process(context.Background(), tt.m)
			if tt.storeErr != nil {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
			}
			s := p.Metrics().Snapshot().Latency
			assert.Equal(t, tt.wantCount, s.Count)
			assert.InDelta(t, tt.wantSum, s.Sum, 1e-9)
		})
	}
}

func TestProcessDoesNotObserveRedeliveredDuplicates(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	p := start(t, newMemStore(), Config{}, WithClock(func() time.Time { return now }))
	m := Message{Payload: []byte(`{"deviceId":"d1","messageId":"m1","temperature":20}`), CreatedAt: now.Add(-10 * time.Millisecond)}
	for range 2 {
		_, err := p.Process(context.Background(), m)
		require.NoError(t, err)
	}
	s := p.Metrics().Snapshot()
	require.Equal(t, int64(1), s.Duplicates, "the second delivery was a duplicate")
	assert.Equal(t, uint64(1), s.Latency.Count, "only the delivery that committed the reading")
	assert.Equal(t, []uint64{0, 0, 0, 1}, s.Latency.Cumulative[:4], "10 ms is in le=0.01")
}

func BenchmarkHistogramObserve(b *testing.B) {
	var h Histogram
	b.RunParallel(func(pb *testing.PB) {
		d := 3 * time.Millisecond
		for pb.Next() {
			h.Observe(d)
		}
	})
}
