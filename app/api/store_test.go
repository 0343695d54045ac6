package api

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/enviromon/enviromon/app/pipeline"
)

// memStore is an in-memory pipeline.Store with ETags, so that API tests run
// the real pipeline.
type memStore struct {
	mu      sync.Mutex
	data    map[string]pipeline.Entry
	version int
}

func newMemStore() *memStore { return &memStore{data: make(map[string]pipeline.Entry)} }

func (m *memStore) BulkGet(_ context.Context, keys []string) (map[string]pipeline.Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]pipeline.Entry)
	for _, k := range keys {
		if e, ok := m.data[k]; ok {
			out[k] = e
		}
	}
	return out, nil
}

func (m *memStore) Set(_ context.Context, key string, value []byte, etag string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, exists := m.data[key]
	if (etag == "" && exists) || (etag != "" && (!exists || cur.ETag != etag)) {
		return fmt.Errorf("set %s: %w", key, pipeline.ErrConflict)
	}
	m.version++
	m.data[key] = pipeline.Entry{Value: append([]byte(nil), value...), ETag: strconv.Itoa(m.version)}
	return nil
}

func (m *memStore) Delete(_ context.Context, key string, etag string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur, ok := m.data[key]; ok && etag != "" && cur.ETag != etag {
		return fmt.Errorf("delete %s: %w", key, pipeline.ErrConflict)
	}
	delete(m.data, key)
	return nil
}

var _ pipeline.Store = (*memStore)(nil)
