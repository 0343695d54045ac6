package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// ErrRetriesExhausted is returned for a key whose writes kept conflicting
// until the retry budget ran out; it wraps ErrConflict too.
var ErrRetriesExhausted = errors.New("conflict retries exhausted")

// Retry bounds the ETag read-modify-write loop.
type Retry struct {
	Attempts int           // writes per key before giving up; at least 1
	Base     time.Duration // backoff before the first retry, doubled after each
	Max      time.Duration // backoff cap
}

// DefaultRetry is the original system's policy: 10 attempts, 40 ms doubling
// to a 1 s cap, jittered.
func DefaultRetry() Retry { return Retry{Attempts: 10, Base: 40 * time.Millisecond, Max: time.Second} }

// backoff returns the jittered wait before retry n (n ≥ 1): a random duration
// in [d/2, d] where d = Base·2^(n-1), capped at Max. The jitter spreads
// replicas that conflicted on the same key apart.
func (r Retry) backoff(n int) time.Duration {
	d := r.Base
	for i := 1; i < n && d < r.Max; i++ {
		d *= 2
	}
	d = min(d, r.Max)
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}

// mutation computes the value to write under key from its current value.
// exists is false for a key that is not stored yet. write false means
// nothing needs writing (for example every message was a duplicate).
type mutation func(key string, cur []byte, exists bool) (next []byte, write bool, err error)

// committer runs the one ETag read-modify-write loop of the pipeline.
type committer struct {
	store       Store
	retry       Retry
	parallelism int
	metrics     *Metrics
	noBatch     atomic.Bool // the store refused a batch write once
}

// commit reads keys in one bulk read, applies fn to each, and writes the
// changed ones with their ETags (an insert where the key was missing).
// Conflicted keys alone are re-read and re-applied after a jittered backoff,
// up to retry.Attempts writes. Any other error is final for its key. The
// result maps each failed key to its error; a nil map means all committed.
// fn may be called more than once per key and must start from cur each time.
func (c *committer) commit(ctx context.Context, keys []string, fn mutation) map[string]error {
	return c.commitLinked(ctx, keys, nil, fn)
}

// commitLinked is commit for keys of which some follow another: follows
// maps a follower key to its lead, whose mutation decides what the
// follower's writes (a device's history records follow its device record,
// whose mutation decides which readings count). A follower's write is
// computed in the same attempt as its lead's and after it, and is committed
// only with it or after it:
//   - where the store has transactions, lead and followers go in one
//     transaction: all of them commit, or none;
//   - otherwise (and after a conflicted transaction, to find the key), leads
//     are written first; a follower is written only once its lead has
//     committed, re-tried with its lead when that conflicted, and dropped
//     when the lead failed or wrote nothing.
//
// So a follower never sees an outcome its lead did not commit. Once its
// lead has committed, a conflicted follower is re-read and re-applied on
// its own, from the outcomes committed.
func (c *committer) commitLinked(ctx context.Context, keys []string, follows map[string]string, fn mutation) map[string]error {
	var failed map[string]error
	fail := func(key string, err error) {
		if failed == nil {
			failed = make(map[string]error)
		}
		failed[key] = err
	}
	pending := keys
	for attempt := 1; len(pending) > 0; attempt++ {
		if attempt > 1 {
			c.metrics.Retries.Add(int64(len(pending)))
			if err := sleep(ctx, c.retry.backoff(attempt-1)); err != nil {
				for _, k := range pending {
					fail(k, err)
				}
				return failed
			}
		}
		entries, err := c.store.BulkGet(ctx, pending)
		if err != nil {
			for _, k := range pending {
				fail(k, fmt.Errorf("read: %w", err))
			}
			return failed
		}
		conflicts := c.writeAll(ctx, pending, entries, follows, fn, fail)
		if len(conflicts) > 0 && attempt >= c.retry.Attempts {
			for _, k := range conflicts {
				fail(k, fmt.Errorf("%w after %d attempts: %w", ErrRetriesExhausted, attempt, ErrConflict))
			}
			return failed
		}
		pending = conflicts
	}
	return failed
}

// writeAll applies fn to every key, followers after leads, and writes the
// results: in one transaction where the store can, else (or when that
// transaction hit a conflict) with single writes, at most c.parallelism at
// a time, leads before their followers. It returns the keys that
// conflicted.
func (c *committer) writeAll(ctx context.Context, keys []string, entries map[string]Entry, follows map[string]string, fn mutation, fail func(string, error)) []string {
	var writes []Write
	attempted := make(map[string]bool, len(keys)) // keys applied in this attempt
	wrote := make(map[string]bool, len(keys))
	apply := func(key string) {
		attempted[key] = true
		cur, exists := entries[key]
		next, write, err := fn(key, cur.Value, exists)
		switch {
		case err != nil:
			fail(key, err)
		case write:
			writes = append(writes, Write{Key: key, Value: next, ETag: cur.ETag})
			wrote[key] = true
		}
	}
	for _, key := range keys {
		if _, ok := follows[key]; !ok {
			apply(key)
		}
	}
	for _, key := range keys {
		lead, ok := follows[key]
		// A lead re-applied here and writing nothing (or failing) leaves
		// its followers nothing committed to follow.
		if ok && (!attempted[lead] || wrote[lead]) {
			apply(key)
		}
	}
	if len(writes) == 0 {
		return nil
	}
	if batch, ok := c.store.(BatchStore); ok && len(writes) > 1 && !c.noBatch.Load() {
		err := batch.SetBatch(ctx, writes)
		switch {
		case err == nil:
			c.metrics.Writes.Add(int64(len(writes)))
			c.metrics.Transactions.Add(1)
			return nil
		case errors.Is(err, errors.ErrUnsupported):
			c.noBatch.Store(true)
		case errors.Is(err, ErrConflict):
			c.metrics.BatchConflicts.Add(1) // single writes tell which key
		default:
			for _, w := range writes {
				fail(w.Key, fmt.Errorf("write: %w", err))
			}
			return nil
		}
	}
	return c.writeOrdered(ctx, writes, follows, wrote, fail)
}

// writeOrdered writes leads (and followers whose lead is not written now)
// first, then the followers of the leads that committed; followers of
// leads that conflicted are returned as conflicted with them, to be
// re-applied after them. It returns the keys that conflicted.
func (c *committer) writeOrdered(ctx context.Context, writes []Write, follows map[string]string, writing map[string]bool, fail func(string, error)) []string {
	var first, then []Write
	for _, w := range writes {
		if lead, ok := follows[w.Key]; ok && writing[lead] {
			then = append(then, w)
		} else {
			first = append(first, w)
		}
	}
	failedNow := make(map[string]bool)
	conflicts := c.writeEach(ctx, first, func(key string, err error) {
		failedNow[key] = true // writeEach calls this under its lock
		fail(key, err)
	})
	if len(then) == 0 {
		return conflicts
	}
	conflicted := make(map[string]bool, len(conflicts))
	for _, k := range conflicts {
		conflicted[k] = true
	}
	committed := then[:0]
	for _, w := range then {
		switch lead := follows[w.Key]; {
		case conflicted[lead]:
			conflicts = append(conflicts, w.Key)
		case !failedNow[lead]:
			committed = append(committed, w)
		}
	}
	return append(conflicts, c.writeEach(ctx, committed, fail)...)
}

// writeEach writes items one by one, concurrently, and returns the keys
// that conflicted.
func (c *committer) writeEach(ctx context.Context, writes []Write, fail func(string, error)) []string {
	var (
		mu        sync.Mutex
		conflicts []string
		wg        sync.WaitGroup
		sem       = make(chan struct{}, max(1, c.parallelism))
	)
	for _, w := range writes {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			c.metrics.Writes.Add(1)
			c.metrics.Transactions.Add(1)
			err := c.store.Set(ctx, w.Key, w.Value, w.ETag)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
			case errors.Is(err, ErrConflict):
				c.metrics.Conflicts.Add(1)
				conflicts = append(conflicts, w.Key)
			default:
				fail(w.Key, fmt.Errorf("write: %w", err))
			}
		}()
	}
	wg.Wait()
	return conflicts
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
