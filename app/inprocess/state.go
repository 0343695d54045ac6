package inprocess

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"

	contribmd "github.com/dapr/components-contrib/metadata"
	"github.com/dapr/components-contrib/state"

	"github.com/enviromon/enviromon/app/component"
	"github.com/enviromon/enviromon/app/pipeline"
)

// bulkParallelism caps the concurrent reads of stores without a native bulk
// get (Redis, Table Storage), which would otherwise read every key at once.
const bulkParallelism = 32

// State is a components-contrib state store used as the pipeline's Store,
// with daprd's key prefix and first-write-wins concurrency on every write,
// so its data is interchangeable with a daprd sidecar's.
//
// Every store checks an insert (etag "") atomically in the store itself, so
// concurrent replicas cannot both insert a key: SQLite with one INSERT ...
// WHERE NOT EXISTS, in-memory under its lock, Table Storage with AddEntity,
// Redis in a Lua script. Redis's script refuses only keys that carry its
// "first-write" mark, which every first-write save sets (this adapter's and
// a sidecar's with first-write concurrency); a key last created by a
// last-write save (Dapr CLI, plain HTTP POST) is overwritten by an insert.
type State struct {
	name     string
	store    state.Store
	prefix   string
	conflict func(error) bool
	tx       state.TransactionalStore // nil unless its transactions are atomic
}

var _ pipeline.BatchStore = (*State)(nil)

// OpenState creates and initialises the state store c for the app appID,
// within c.InitTimeout. Component logs go to log (nil discards them). The
// store must support ETags. It fails even when c sets ignoreErrors: the
// app cannot run without its state store. Close it when done.
func OpenState(ctx context.Context, c component.Component, appID string, log *slog.Logger, opts ...Option) (*State, error) {
	k, err := lookup(c)
	if err != nil {
		return nil, required(c, "state store", err)
	}
	if k.state == nil {
		return nil, fmt.Errorf("component %q: %s is not a state store", c.Name, c.Type)
	}
	set := newSettings(opts)
	prefix, err := c.KeyPrefix(appID, set.namespace)
	if err != nil {
		return nil, fmt.Errorf("component %q: %w", c.Name, err)
	}
	store := k.state(newKitLogger(log, c.Name, set.logLevel))
	// keyPrefix stays in the metadata: daprd passes it to Init too, and no
	// store here rejects metadata it does not know.
	md := state.Metadata{Base: contribmd.Base{Name: c.Name, Properties: maps.Clone(c.Metadata)}}
	if err := initialize(ctx, c, log, func(ctx context.Context) error { return store.Init(ctx, md) }, store.Close); err != nil {
		return nil, required(c, "state store", err)
	}
	if !state.FeatureETag.IsPresent(store.Features()) {
		return nil, errors.Join(fmt.Errorf("component %q: %s has no ETag support", c.Name, c.Type), store.Close())
	}
	conflict := k.conflict
	if conflict == nil {
		conflict = isConflict
	}
	st := &State{name: c.Name, store: store, prefix: prefix, conflict: conflict}
	if tx, ok := store.(state.TransactionalStore); ok && k.atomicMulti {
		st.tx = tx
	}
	return st, nil
}

// Close releases the store's connections.
func (s *State) Close() error {
	if err := s.store.Close(); err != nil {
		return fmt.Errorf("close %s: %w", s.name, err)
	}
	return nil
}

// key returns the key as daprd would store it.
func (s *State) key(key string) (string, error) { return component.StoredKey(s.prefix, key) }

// BulkGet reads keys in one query where the store has a native bulk get
// (SQLite, in-memory) and in parallel single reads otherwise. A failed read
// of any key fails the whole call.
func (s *State) BulkGet(ctx context.Context, keys []string) (map[string]pipeline.Entry, error) {
	out := make(map[string]pipeline.Entry, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	reqs := make([]state.GetRequest, 0, len(keys))
	byStored := make(map[string]string, len(keys))
	for _, k := range keys {
		sk, err := s.key(k)
		if err != nil {
			return nil, fmt.Errorf("bulk get: %w", err)
		}
		if _, dup := byStored[sk]; !dup {
			byStored[sk] = k
			reqs = append(reqs, state.GetRequest{Key: sk})
		}
	}
	resps, err := s.store.BulkGet(ctx, reqs, state.BulkGetOpts{Parallelism: bulkParallelism})
	if err != nil {
		return nil, fmt.Errorf("bulk get: %w", err)
	}
	for _, r := range resps {
		k, ok := byStored[r.Key]
		switch {
		case !ok:
			return nil, fmt.Errorf("bulk get: store answered for unasked key %q", r.Key)
		case r.Error != "":
			return nil, fmt.Errorf("bulk get %q: %s", k, r.Error)
		case r.ETag == nil && len(r.Data) == 0:
			continue // absent
		}
		e := pipeline.Entry{Value: slices.Clone([]byte(r.Data))}
		if r.ETag != nil {
			e.ETag = *r.ETag
		}
		out[k] = e
	}
	return out, nil
}

// Set writes with first-write concurrency: etag "" inserts and fails with
// ErrConflict when the key exists; otherwise the stored ETag must match.
// (Table Storage and Redis also accept a non-empty etag for a key that does
// not exist, as an insert.)
func (s *State) Set(ctx context.Context, key string, value []byte, etag string) error {
	sk, err := s.key(key)
	if err != nil {
		return fmt.Errorf("set: %w", err)
	}
	req := &state.SetRequest{
		Key:     sk,
		Value:   value,
		Options: state.SetStateOption{Concurrency: state.FirstWrite},
	}
	if etag != "" {
		req.ETag = &etag
	}
	return s.fail("set", key, s.store.Set(ctx, req))
}

// SetBatch writes items in one transaction, all or nothing, with Set's
// rules per item. Stores without atomic transactions return
// errors.ErrUnsupported.
func (s *State) SetBatch(ctx context.Context, items []pipeline.Write) error {
	if s.tx == nil {
		return fmt.Errorf("set batch on %s: %w", s.name, errors.ErrUnsupported)
	}
	ops := make([]state.TransactionalStateOperation, 0, len(items))
	for _, it := range items {
		sk, err := s.key(it.Key)
		if err != nil {
			return fmt.Errorf("set batch: %w", err)
		}
		req := state.SetRequest{Key: sk, Value: it.Value, Options: state.SetStateOption{Concurrency: state.FirstWrite}}
		if it.ETag != "" {
			req.ETag = &it.ETag
		}
		ops = append(ops, req)
	}
	return s.fail("set batch", fmt.Sprintf("%d keys", len(items)), s.tx.Multi(ctx, &state.TransactionalStateRequest{Operations: ops}))
}

// Delete removes key: unconditionally with etag "", otherwise only at that
// ETag (ErrConflict if it changed).
func (s *State) Delete(ctx context.Context, key string, etag string) error {
	sk, err := s.key(key)
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	req := &state.DeleteRequest{Key: sk}
	if etag != "" {
		// Without an etag the default (last-write) concurrency is what makes
		// the delete unconditional: first-write without an etag refuses to
		// delete an existing key in the in-memory store.
		req.ETag = &etag
		req.Options.Concurrency = state.FirstWrite
	}
	return s.fail("delete", key, s.store.Delete(ctx, req))
}

// fail wraps a store error, as a pipeline.ErrConflict when it is one.
func (s *State) fail(op, key string, err error) error {
	switch {
	case err == nil:
		return nil
	case s.conflict(err):
		return fmt.Errorf("%s %q: %w: %v", op, key, pipeline.ErrConflict, err)
	}
	return fmt.Errorf("%s %q: %w", op, key, err)
}

// isConflict reads a state.ETagError as a conflict, of either kind: an
// invalid etag (one the store could never have issued, such as a
// non-number on Redis) cannot match the stored one, and re-reading gives a
// valid one. A wrapped network or context failure is not a conflict, even
// where the store labels it a mismatch.
func isConflict(err error) bool {
	var etag *state.ETagError
	if !errors.As(err, &etag) {
		return false
	}
	var netErr net.Error
	return !errors.As(err, &netErr) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// redisConflict tells Redis's refusals from its failures. Its Lua scripts
// refuse a write with an error reply ("failed to set key", "failed to
// delete"), which the store reports as an ETag mismatch when the request had
// an etag and as a plain error when it had none (an insert onto an existing
// key); it reports any other error of an etag write as a mismatch too.
func redisConflict(err error) bool {
	var etag *state.ETagError
	if errors.As(err, &etag) && etag.Kind() == state.ETagInvalid {
		return true
	}
	var reply interface {
		error
		RedisError()
	}
	if !errors.As(err, &reply) {
		return false
	}
	msg := reply.Error()
	return strings.Contains(msg, "failed to set key") || strings.Contains(msg, "failed to delete")
}
