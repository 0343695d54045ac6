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

// observed records what the pipeline hands its Observer.
type observed struct {
	mu               sync.Mutex
	batches          []int
	took             []time.Duration
	ingest, enqueued []time.Duration
}

func (o *observed) Commit(n int, took time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.batches = append(o.batches, n)
	o.took = append(o.took, took)
}

func (o *observed) IngestLatency(d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ingest = append(o.ingest, d)
}

func (o *observed) EnqueueLatency(d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.enqueued = append(o.enqueued, d)
}

var _ Observer = (*observed)(nil)

func TestProcessObservesLatency(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	const reading = `{"deviceId":"d1","temperature":20}`
	tests := []struct {
		name         string
		m            Message
		storeErr     error
		wantIngest   []time.Duration
		wantEnqueued []time.Duration
	}{
		{"device creation time", Message{Payload: []byte(reading), CreatedAt: now.Add(-30 * time.Millisecond)}, nil,
			[]time.Duration{30 * time.Millisecond}, nil},
		{"creation time wins over enqueue time; both observed", Message{Payload: []byte(reading),
			CreatedAt: now.Add(-3 * time.Second), EnqueuedAt: now.Add(-time.Second)}, nil,
			[]time.Duration{3 * time.Second}, []time.Duration{time.Second}},
		{"enqueue time without creation time", Message{Payload: []byte(reading), EnqueuedAt: now.Add(-time.Second)}, nil,
			[]time.Duration{time.Second}, []time.Duration{time.Second}},
		{"device clock ahead counts as 0", Message{Payload: []byte(reading), CreatedAt: now.Add(time.Minute)}, nil,
			[]time.Duration{0}, nil},
		{"rejected reading is observed too", Message{Payload: []byte(`not json`), DeviceID: "d1", CreatedAt: now.Add(-2 * time.Second)}, nil,
			[]time.Duration{2 * time.Second}, nil},
		{"neither time", Message{Payload: []byte(reading)}, nil, nil, nil},
		{"failed commit", Message{Payload: []byte(reading), CreatedAt: now.Add(-time.Second), EnqueuedAt: now.Add(-time.Second)},
			errors.New("store down"), nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newMemStore()
			o := &observed{}
			p := start(t, store, Config{}, WithClock(func() time.Time { return now }), WithObserver(o))
			require.Empty(t, p.index.ensure(context.Background(), []string{"d1"}))
			store.setErr = tt.storeErr
			_, err := p.Process(context.Background(), tt.m)
			if tt.storeErr != nil {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
			}
			o.mu.Lock()
			defer o.mu.Unlock()
			assert.Equal(t, tt.wantIngest, o.ingest)
			assert.Equal(t, tt.wantEnqueued, o.enqueued)
			assert.Equal(t, []int{1}, o.batches, "one commit of one reading, failed or not")
		})
	}
}

func TestProcessDoesNotObserveRedeliveredDuplicates(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	o := &observed{}
	p := start(t, newMemStore(), Config{}, WithClock(func() time.Time { return now }), WithObserver(o))
	m := Message{Payload: []byte(`{"deviceId":"d1","messageId":"m1","temperature":20}`),
		CreatedAt: now.Add(-10 * time.Millisecond), EnqueuedAt: now.Add(-5 * time.Millisecond)}
	for range 2 {
		_, err := p.Process(context.Background(), m)
		require.NoError(t, err)
	}
	require.Equal(t, int64(1), p.Metrics().Snapshot().Duplicates, "the second delivery was a duplicate")
	o.mu.Lock()
	defer o.mu.Unlock()
	assert.Equal(t, []time.Duration{10 * time.Millisecond}, o.ingest, "only the delivery that committed the reading")
	assert.Equal(t, []time.Duration{5 * time.Millisecond}, o.enqueued)
}

func TestCommitsAreObservedWithTheirSize(t *testing.T) {
	o := &observed{}
	p := start(t, newMemStore(), Config{Window: 50 * time.Millisecond, Lanes: 1}, WithObserver(o))
	require.NoError(t, process(t, p, `[{"deviceId":"a","temperature":1},{"deviceId":"b","temperature":2},{"deviceId":"c","temperature":999}]`))
	o.mu.Lock()
	defer o.mu.Unlock()
	assert.Equal(t, []int{3}, o.batches, "the three readings of one message in one commit")
	require.Len(t, o.took, 1)
	assert.GreaterOrEqual(t, o.took[0], time.Duration(0))
}
