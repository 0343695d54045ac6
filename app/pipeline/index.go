package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/enviromon/enviromon/app/telemetry"
)

// index is the list of known device ids, kept in the store because the
// stores used here cannot list keys. It is spread over
// telemetry.IndexShards keys and grows with ETag concurrency, so replicas
// adding devices at once do not lose each other's ids.
type index struct {
	commit *committer

	mu    sync.Mutex
	known map[string]bool // ids this process has seen in the index
}

// shard is the stored form of one index key.
type shard struct {
	IDs []string `json:"ids"`
}

func newIndex(c *committer) *index { return &index{commit: c, known: make(map[string]bool)} }

// ensure adds the ids not yet known to be indexed. It returns the ids that
// could not be added, with the error; a device must not be written before
// its id is in the index, or "all devices" would miss it for good.
func (x *index) ensure(ctx context.Context, ids []string) map[string]error {
	byShard := make(map[string][]string)
	x.mu.Lock()
	for _, id := range ids {
		if !x.known[id] {
			k := telemetry.IndexKey(id)
			byShard[k] = append(byShard[k], id)
		}
	}
	x.mu.Unlock()
	if len(byShard) == 0 {
		return nil
	}
	keys := make([]string, 0, len(byShard))
	for k := range byShard {
		keys = append(keys, k)
	}
	failed := x.commit.commit(ctx, keys, func(key string, cur []byte, exists bool) ([]byte, bool, error) {
		var s shard
		if exists {
			if err := json.Unmarshal(cur, &s); err != nil {
				return nil, false, fmt.Errorf("decode index %s: %w", key, err)
			}
		}
		changed := false
		for _, id := range byShard[key] {
			if !slices.Contains(s.IDs, id) {
				s.IDs = append(s.IDs, id)
				changed = true
			}
		}
		if !changed {
			return nil, false, nil
		}
		next, err := json.Marshal(s)
		return next, true, err
	})
	out := make(map[string]error)
	x.mu.Lock()
	defer x.mu.Unlock()
	for key, shardIDs := range byShard {
		for _, id := range shardIDs {
			if err := failed[key]; err != nil {
				out[id] = fmt.Errorf("index device: %w", err)
			} else {
				x.known[id] = true
			}
		}
	}
	return out
}

// all reads every index shard and returns the ids, sorted.
func (x *index) all(ctx context.Context) ([]string, error) {
	keys := make([]string, telemetry.IndexShards)
	for i := range keys {
		keys[i] = telemetry.IndexShardKey(i)
	}
	got, err := x.commit.store.BulkGet(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("read device index: %w", err)
	}
	var ids []string
	for key, e := range got {
		var s shard
		if err := json.Unmarshal(e.Value, &s); err != nil {
			return nil, fmt.Errorf("decode index %s: %w", key, err)
		}
		ids = append(ids, s.IDs...)
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}
