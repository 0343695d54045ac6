// Package dapr adapts a Dapr sidecar, through the go-sdk gRPC client, to
// Enviromon's ports: a state store (pipeline.Store), an output binding
// (notify.Invoker) and the HTTP route daprd delivers input binding events to.
//
// The caller creates one client.Client for the app's lifetime and passes it
// in; the adapters use only the few methods their interfaces name.
package dapr

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/dapr/go-sdk/client"

	"github.com/enviromon/enviromon/app/component"
	"github.com/enviromon/enviromon/app/pipeline"
)

// bulkParallelism caps the concurrent reads daprd makes for stores without a
// native bulk get (Redis, Table Storage), as the in-process adapter does.
const bulkParallelism = 32

// StateClient is the part of the go-sdk client.Client that State uses.
type StateClient interface {
	GetBulkState(ctx context.Context, storeName string, keys []string, meta map[string]string, parallelism int32) ([]*client.BulkStateItem, error)
	SaveBulkState(ctx context.Context, storeName string, items ...*client.SetStateItem) error
	DeleteStateWithETag(ctx context.Context, storeName, key string, etag *client.ETag, meta map[string]string, opts *client.StateOptions) error
	ExecuteStateTransaction(ctx context.Context, storeName string, meta map[string]string, ops []*client.StateOperation) error
	GetMetadata(ctx context.Context) (*client.GetMetadataResponse, error)
}

// State is a sidecar state store used as the pipeline's store, with
// first-write-wins concurrency on every write. Keys are the app's own: daprd
// adds its key prefix itself.
type State struct {
	client StateClient
	store  string

	mu    sync.Mutex
	batch batchMode // learned from the sidecar on the first SetBatch
}

var (
	_ pipeline.Store      = (*State)(nil)
	_ pipeline.BatchStore = (*State)(nil)
)

// NewState returns the state store named store (the Component's
// metadata.name) reached through c. It makes no call until used.
func NewState(c StateClient, store string) *State {
	return &State{client: c, store: store}
}

// BulkGet reads keys in one call to the sidecar. Keys that do not exist are
// absent from the result; a failed read of any key fails the whole call.
func (s *State) BulkGet(ctx context.Context, keys []string) (map[string]pipeline.Entry, error) {
	out := make(map[string]pipeline.Entry, len(keys))
	asked := make(map[string]bool, len(keys))
	uniq := make([]string, 0, len(keys))
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			return nil, fmt.Errorf("bulk get: %w", err)
		}
		if !asked[k] {
			asked[k] = true
			uniq = append(uniq, k)
		}
	}
	if len(uniq) == 0 {
		return out, nil // the SDK refuses an empty key list
	}
	items, err := s.client.GetBulkState(traced(ctx), s.store, uniq, nil, bulkParallelism)
	if err != nil {
		return nil, fmt.Errorf("bulk get: %w", err)
	}
	for _, it := range items {
		switch {
		case it == nil:
			continue
		case !asked[it.Key]:
			return nil, fmt.Errorf("bulk get: sidecar answered for unasked key %q", it.Key)
		case it.Error != "":
			return nil, fmt.Errorf("bulk get %q: %s", it.Key, it.Error)
		case len(it.Value) == 0 && it.Etag == "":
			continue // absent
		}
		out[it.Key] = pipeline.Entry{Value: it.Value, ETag: it.Etag}
	}
	return out, nil
}

// Set writes with first-write concurrency: etag "" inserts and fails with
// ErrConflict when the key exists; otherwise the stored ETag must match.
// daprd passes the concurrency option to the store even without an etag, and
// SQLite, Table Storage and Redis then refuse to overwrite an existing key.
// (Table Storage and Redis accept a non-empty etag for a key that does not
// exist, as an insert.)
func (s *State) Set(ctx context.Context, key string, value []byte, etag string) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("set: %w", err)
	}
	return s.fail("set", key, s.client.SaveBulkState(traced(ctx), s.store, setItem(key, value, etag)))
}

// Delete removes key: unconditionally with etag "", otherwise only at that
// ETag (ErrConflict if it changed).
func (s *State) Delete(ctx context.Context, key string, etag string) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	// Last-write without an etag is what makes the delete unconditional:
	// the in-memory store refuses a first-write delete without an etag.
	var tag *client.ETag
	opts := &client.StateOptions{Concurrency: client.StateConcurrencyLastWrite}
	if etag != "" {
		tag = &client.ETag{Value: etag}
		opts.Concurrency = client.StateConcurrencyFirstWrite
	}
	return s.fail("delete", key, s.client.DeleteStateWithETag(traced(ctx), s.store, key, tag, nil, opts))
}

// setItem is a first-write upsert of key; etag "" means insert-only. The
// consistency is left unspecified, as in embedded mode, so that one
// Component YAML behaves the same in both.
func setItem(key string, value []byte, etag string) *client.SetStateItem {
	item := &client.SetStateItem{
		Key:     key,
		Value:   value,
		Options: &client.StateOptions{Concurrency: client.StateConcurrencyFirstWrite},
	}
	if etag != "" {
		item.Etag = &client.ETag{Value: etag}
	}
	return item
}

// fail wraps a sidecar error, as a pipeline.ErrConflict when it is one.
func (s *State) fail(op, key string, err error) error {
	switch {
	case err == nil:
		return nil
	case conflict(err):
		return fmt.Errorf("%s %q: %w: %w", op, key, pipeline.ErrConflict, err)
	}
	return fmt.Errorf("%s %q: %w", op, key, err)
}

// errKey is a key daprd would refuse; checking it here saves the round trip
// and keeps the refusal from looking like a store error.
var errKey = errors.New("illegal key")

// checkKey applies daprd's key rule (component.StoredKey), as the
// in-process adapter does.
func checkKey(key string) error {
	if _, err := component.StoredKey("", key); err != nil {
		return fmt.Errorf("%w: %w", errKey, err)
	}
	return nil
}
