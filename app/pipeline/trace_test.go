package pipeline

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type traceKey struct{}

// spans is a Tracer that records each span's callers and marks the
// context it returns, so a store can tell which span its calls ran in.
type spans struct {
	mu      sync.Mutex
	names   []string
	callers [][]context.Context
	errs    []error
}

func (s *spans) Start(ctx context.Context, name string, callers []context.Context) (context.Context, func(error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.names = append(s.names, name)
	s.callers = append(s.callers, callers)
	n := len(s.names)
	return context.WithValue(ctx, traceKey{}, n), func(err error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.errs = append(s.errs, err)
	}
}

// spanStore records the span each Set ran in.
type spanStore struct {
	*memStore
	mu  sync.Mutex
	ran []any
}

func (s *spanStore) Set(ctx context.Context, key string, value []byte, etag string) error {
	s.mu.Lock()
	s.ran = append(s.ran, ctx.Value(traceKey{}))
	s.mu.Unlock()
	return s.memStore.Set(ctx, key, value, etag)
}

func TestCommitIsTracedOnBehalfOfItsCallers(t *testing.T) {
	tr := &spans{}
	store := &spanStore{memStore: newMemStore()}
	p := start(t, store, Config{Lanes: 1}, WithTracer(tr))
	type callerKey struct{}
	ctx := context.WithValue(context.Background(), callerKey{}, "delivery-1")
	_, err := p.Process(ctx, Message{Payload: []byte(`[{"deviceId":"d1","temperature":1},{"deviceId":"d2","temperature":2}]`)})
	require.NoError(t, err)

	tr.mu.Lock()
	defer tr.mu.Unlock()
	require.Equal(t, []string{"commit"}, tr.names, "one commit for the message's two readings")
	require.Len(t, tr.callers[0], 2, "one caller context per reading")
	for _, c := range tr.callers[0] {
		assert.Equal(t, "delivery-1", c.Value(callerKey{}), "the span links to the delivery")
	}
	assert.Equal(t, []error{nil}, tr.errs, "ended once, without error")
	store.mu.Lock()
	defer store.mu.Unlock()
	require.NotEmpty(t, store.ran)
	for _, span := range store.ran {
		assert.Equal(t, 1, span, "every store write of the commit runs in its span")
	}
}
