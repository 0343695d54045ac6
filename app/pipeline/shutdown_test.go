package pipeline

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/telemetry"
)

// slowStore is a memStore whose writes take a while, and tell when the
// first one starts. Like a real store, it gives up when ctx ends.
type slowStore struct {
	*memStore
	delay   time.Duration
	writing chan struct{} // closed at the first Set
	once    sync.Once
}

func (s *slowStore) Set(ctx context.Context, key string, value []byte, etag string) error {
	s.once.Do(func() { close(s.writing) })
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.memStore.Set(ctx, key, value, etag)
}

// stopMidStream runs a one-lane processor over store, queues n-1 messages
// behind the commit of a first one, stops the processor while that commit
// is in flight, and returns each caller's answer and how long Run took to
// return.
func stopMidStream(t *testing.T, store *slowStore, cfg Config, n int) ([]error, time.Duration) {
	t.Helper()
	cfg.Lanes, cfg.MaxBatch, cfg.Window = 1, n, 0
	p, err := New(store, cfg)
	require.NoError(t, err)
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); _ = p.Run(ctx) }()

	errs := make([]error, n)
	var callers sync.WaitGroup
	send := func(i int) {
		callers.Go(func() {
			payload := fmt.Sprintf(`{"deviceId":"d%d","messageId":"m","temperature":20}`, i)
			_, errs[i] = p.Process(context.Background(), Message{Payload: []byte(payload)})
		})
	}
	send(0)
	<-store.writing
	for i := 1; i < n; i++ {
		send(i)
	}
	require.Eventually(t, func() bool { return len(p.lanes[0]) == n-1 }, 5*time.Second, time.Millisecond, "the others queue behind the first commit")
	began := time.Now()
	stop() // SIGTERM
	<-ran
	took := time.Since(began)
	callers.Wait()
	_, err = p.Process(context.Background(), Message{Payload: []byte(`{"deviceId":"late","temperature":1}`)})
	assert.ErrorIs(t, err, ErrStopped, "nothing is accepted once stopping")
	return errs, took
}

func TestStopCommitsWhatWasQueuedAndAnswersItsCallers(t *testing.T) {
	store := &slowStore{memStore: newMemStore(), delay: 20 * time.Millisecond, writing: make(chan struct{})}
	const n = 8
	errs, _ := stopMidStream(t, store, Config{}, n)
	for i, err := range errs {
		assert.NoError(t, err, "message %d was accepted before the stop: committed, not sent back", i)
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	for i := range n {
		assert.Contains(t, store.data, telemetry.DeviceKey(fmt.Sprintf("d%d", i)), "d%d is stored", i)
	}
}

func TestStopIsBoundedByTheDrainTimeout(t *testing.T) {
	store := &slowStore{memStore: newMemStore(), delay: time.Hour, writing: make(chan struct{})}
	errs, took := stopMidStream(t, store, Config{DrainTimeout: 100 * time.Millisecond}, 4)
	assert.Less(t, took, 5*time.Second, "Run returned soon after the drain timeout")
	assert.GreaterOrEqual(t, took, 100*time.Millisecond, "the store had the drain timeout to finish")
	for i, err := range errs {
		assert.Error(t, err, "message %d could not be committed in time: the caller is told, and the transport redelivers", i)
	}
}
