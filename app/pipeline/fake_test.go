package pipeline

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
)

// memStore is an in-memory Store with ETags that can inject failures.
type memStore struct {
	mu      sync.Mutex
	data    map[string]Entry
	version int
	// conflicts is how many Set calls still fail with ErrConflict before
	// writes go through; -1 means forever.
	conflicts int
	// setErr, when non-nil, fails every Set with it.
	setErr error
	sets   atomic.Int64
	reads  atomic.Int64
}

func newMemStore() *memStore { return &memStore{data: make(map[string]Entry)} }

func (m *memStore) BulkGet(_ context.Context, keys []string) (map[string]Entry, error) {
	m.reads.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]Entry)
	for _, k := range keys {
		if e, ok := m.data[k]; ok {
			out[k] = e
		}
	}
	return out, nil
}

func (m *memStore) Set(_ context.Context, key string, value []byte, etag string) error {
	m.sets.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.setErr != nil {
		return m.setErr
	}
	if m.conflicts != 0 {
		if m.conflicts > 0 {
			m.conflicts--
		}
		return fmt.Errorf("injected: %w", ErrConflict)
	}
	cur, exists := m.data[key]
	if (etag == "" && exists) || (etag != "" && (!exists || cur.ETag != etag)) {
		return fmt.Errorf("set %s: %w", key, ErrConflict)
	}
	m.version++
	m.data[key] = Entry{Value: append([]byte(nil), value...), ETag: strconv.Itoa(m.version)}
	return nil
}

func (m *memStore) Delete(_ context.Context, key string, etag string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur, ok := m.data[key]; ok && etag != "" && cur.ETag != etag {
		return ErrConflict
	}
	delete(m.data, key)
	return nil
}

var _ Store = (*memStore)(nil)

func telemetryNaN() float64 {
	zero := 0.0
	return zero / zero
}

// batchMemStore adds atomic batch writes to memStore.
type batchMemStore struct {
	*memStore
	batches atomic.Int64
}

func (b *batchMemStore) SetBatch(_ context.Context, items []Write) error {
	b.batches.Add(1)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conflicts != 0 {
		if b.conflicts > 0 {
			b.conflicts--
		}
		return fmt.Errorf("injected: %w", ErrConflict)
	}
	for _, it := range items {
		cur, exists := b.data[it.Key]
		if (it.ETag == "" && exists) || (it.ETag != "" && (!exists || cur.ETag != it.ETag)) {
			return fmt.Errorf("batch %s: %w", it.Key, ErrConflict)
		}
	}
	for _, it := range items {
		b.version++
		b.data[it.Key] = Entry{Value: append([]byte(nil), it.Value...), ETag: strconv.Itoa(b.version)}
	}
	return nil
}

var _ BatchStore = (*batchMemStore)(nil)
