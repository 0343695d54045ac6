package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/enviromon/enviromon/app/telemetry"
)

const (
	// sweepEvery is how often history past its retention is removed: hour
	// records expire, and minute detail is dropped, an hour at a time.
	sweepEvery = 5 * time.Minute
	// sweepBack is how many hours before each boundary the first sweep
	// after a start looks at. Records that fell past a boundary while no
	// replica ran for longer than that stay in the store (they are never
	// read: queries stop at the retention).
	sweepBack = 6 * time.Hour
)

// sweepState is what a processor's sweeps have done: the hour boundaries
// below which records were deleted and minute detail dropped.
type sweepState struct {
	expired, trimmed time.Time
}

// sweepHistory sweeps every sweepEvery until ctx ends.
func (p *Processor) sweepHistory(ctx context.Context) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	var s sweepState
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := p.sweep(ctx, &s); err != nil && ctx.Err() == nil {
			p.log.Warn("history sweep", "err", err)
		}
	}
}

// sweep deletes the history records of every indexed device for the hours
// that passed the hour retention since the last sweep, and drops the
// minute detail of the hours that passed the minute retention. Its work is
// bounded by devices × hours passed (at most sweepBack). Replicas sweep
// alike; both steps are idempotent, and the trim is an ETag write.
func (p *Processor) sweep(ctx context.Context, s *sweepState) error {
	keep := p.retention()
	if keep.Hours <= 0 {
		return nil
	}
	now := p.now()
	ids, err := p.index.all(ctx)
	if err != nil {
		return err
	}
	expireBefore := keep.Oldest(time.Hour, now)
	if err := p.deleteKeys(ctx, historyKeys(ids, since(s.expired, expireBefore), expireBefore)); err != nil {
		return fmt.Errorf("expire history: %w", err)
	}
	s.expired = expireBefore
	if keep.Minutes <= 0 {
		return nil
	}
	trimBefore := telemetry.HourOf(now.Add(-keep.Minutes))
	keys := historyKeys(ids, later(since(s.trimmed, trimBefore), expireBefore), trimBefore)
	for start := 0; start < len(keys); start += readChunk {
		failed := p.commit.commit(ctx, keys[start:min(start+readChunk, len(keys))], dropMinutes)
		for _, err := range failed {
			return fmt.Errorf("drop minute history: %w", err)
		}
	}
	s.trimmed = trimBefore
	return nil
}

// since is the first hour a sweep up to boundary looks at: the last
// boundary swept, or sweepBack hours back.
func since(last, boundary time.Time) time.Time {
	return later(last, boundary.Add(-sweepBack))
}

// historyKeys are the history keys of ids for the hours in [from, to).
func historyKeys(ids []string, from, to time.Time) []string {
	var keys []string
	for h := telemetry.HourOf(from); h.Before(to); h = h.Add(time.Hour) {
		for _, id := range ids {
			keys = append(keys, telemetry.HistoryKey(id, h))
		}
	}
	return keys
}

// dropMinutes rewrites a history record to its hour aggregates.
func dropMinutes(key string, cur []byte, exists bool) ([]byte, bool, error) {
	if !exists {
		return nil, false, nil
	}
	var r telemetry.HourRecord
	if err := json.Unmarshal(cur, &r); err != nil {
		return nil, false, fmt.Errorf("decode history record %s: %w", key, err)
	}
	if !r.DropMinutes() {
		return nil, false, nil
	}
	next, err := json.Marshal(r)
	return next, true, err
}

// deleteKeys deletes keys, cfg.Parallelism at a time. It returns the
// first error, with how many deletes failed.
func (p *Processor) deleteKeys(ctx context.Context, keys []string) error {
	var (
		mu     sync.Mutex
		first  error
		failed int
		wg     sync.WaitGroup
		sem    = make(chan struct{}, p.cfg.Parallelism)
	)
	for _, k := range keys {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := p.commit.store.Delete(ctx, k, ""); err != nil {
				mu.Lock()
				defer mu.Unlock()
				failed++
				if first == nil {
					first = fmt.Errorf("delete %s: %w", k, err)
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		return fmt.Errorf("%d of %d deletes failed, first: %w", failed, len(keys), first)
	}
	return nil
}
