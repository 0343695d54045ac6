package alert

import (
	"context"
	"errors"
	"maps"
	"net/url"
	"strconv"
	"sync"
)

// ErrConflict is returned by a Store when an ETag first-write-wins check
// fails: the key changed since it was read, or an insert found it present.
var ErrConflict = errors.New("etag conflict")

// Entry is a stored value with the ETag it was read at.
type Entry struct {
	Value []byte
	ETag  string
}

// Store is the state store as alerts need it: the pipeline's, with ETag
// first-write-wins.
type Store interface {
	// BulkGet reads keys; keys that do not exist are absent, not an error.
	BulkGet(ctx context.Context, keys []string) (map[string]Entry, error)
	// Set writes value under key. With etag "" the key must not exist;
	// otherwise the stored ETag must equal etag. A failed check returns an
	// error wrapping ErrConflict.
	Set(ctx context.Context, key string, value []byte, etag string) error
	// Delete removes key unconditionally (etag "") or at etag; a missing
	// key is not an error.
	Delete(ctx context.Context, key string, etag string) error
}

// Store keys. Rule ids hold no ':' (Validate), so a state key splits at its
// second ':'; device ids are escaped as the device keys are.
const (
	rulePrefix  = "alert-rule:"
	statePrefix = "alert-state:"
	// RulesKey is the record listing every rule's id.
	RulesKey = "alert-rules"
	// ListKey is the record listing the alerts raised lately, for the API.
	ListKey = "alert-list"
)

// RuleKey is the store key of rule id.
func RuleKey(id string) string { return rulePrefix + id }

// StateKey is the store key of rule's alert state on device.
func StateKey(rule, device string) string { return statePrefix + rule + ":" + url.PathEscape(device) }

// MemStore is an in-memory Store, for tests and single-process use.
type MemStore struct {
	mu   sync.Mutex
	data map[string]Entry
	n    int
	// Conflicts, when positive, makes that many Set calls fail with
	// ErrConflict before writing, as a racing writer would.
	Conflicts int
}

var _ Store = (*MemStore)(nil)

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{data: make(map[string]Entry)} }

// BulkGet implements Store.
func (m *MemStore) BulkGet(_ context.Context, keys []string) (map[string]Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]Entry, len(keys))
	for _, k := range keys {
		if e, ok := m.data[k]; ok {
			out[k] = e
		}
	}
	return out, nil
}

// Set implements Store.
func (m *MemStore) Set(_ context.Context, key string, value []byte, etag string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Conflicts > 0 {
		m.Conflicts--
		return ErrConflict
	}
	if cur, ok := m.data[key]; ok != (etag != "") || cur.ETag != etag {
		return ErrConflict
	}
	m.n++
	m.data[key] = Entry{Value: append([]byte(nil), value...), ETag: strconv.Itoa(m.n)}
	return nil
}

// Delete implements Store.
func (m *MemStore) Delete(_ context.Context, key string, etag string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur, ok := m.data[key]; ok && etag != "" && cur.ETag != etag {
		return ErrConflict
	}
	delete(m.data, key)
	return nil
}

// Keys returns a copy of what m holds, for tests.
func (m *MemStore) Keys() map[string]Entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.data)
}
