package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/enviromon/enviromon/app/telemetry"
)

// calibrations loads calibration records lazily per device and caches them
// for a TTL. Concurrent lookups of one device share a single read. Changes
// made through this process invalidate its cache at once; other replicas
// see them when their entry expires.
type calibrations struct {
	store  Store
	commit *committer
	ttl    time.Duration
	now    func() time.Time

	mu      sync.Mutex
	entries map[string]*calEntry
}

type calEntry struct {
	ready  chan struct{} // closed once cal/err are set
	cal    telemetry.Calibration
	err    error
	loaded time.Time
}

func newCalibrations(store Store, c *committer, ttl time.Duration, now func() time.Time) *calibrations {
	return &calibrations{store: store, commit: c, ttl: ttl, now: now, entries: make(map[string]*calEntry)}
}

// lookup returns the device's calibration; a device without a record gets
// the zero Calibration, which changes nothing.
func (c *calibrations) lookup(ctx context.Context, id string) (telemetry.Calibration, error) {
	c.mu.Lock()
	e, ok := c.entries[id]
	if ok {
		select {
		case <-e.ready:
			if c.now().Sub(e.loaded) >= c.ttl {
				ok = false
			}
		default: // a load is under way: share it
		}
	}
	if !ok {
		e = &calEntry{ready: make(chan struct{})}
		c.entries[id] = e
		c.mu.Unlock()
		e.cal, _, e.err = c.read(ctx, id)
		e.loaded = c.now()
		if e.err != nil {
			c.forget(id, e)
		}
		close(e.ready)
		return e.cal, e.err
	}
	c.mu.Unlock()
	select {
	case <-e.ready:
		return e.cal, e.err
	case <-ctx.Done():
		return telemetry.Calibration{}, ctx.Err()
	}
}

// read fetches a calibration record from the store.
func (c *calibrations) read(ctx context.Context, id string) (telemetry.Calibration, bool, error) {
	key := telemetry.CalibrationKey(id)
	got, err := c.store.BulkGet(ctx, []string{key})
	if err != nil {
		return telemetry.Calibration{}, false, fmt.Errorf("read calibration %q: %w", id, err)
	}
	e, ok := got[key]
	if !ok {
		return telemetry.Calibration{}, false, nil
	}
	var cal telemetry.Calibration
	if err := json.Unmarshal(e.Value, &cal); err != nil {
		return telemetry.Calibration{}, false, fmt.Errorf("decode calibration %q: %w", id, err)
	}
	return cal, true, nil
}

// put stores a calibration record and invalidates the cached one.
func (c *calibrations) put(ctx context.Context, id string, cal telemetry.Calibration) error {
	value, err := json.Marshal(cal)
	if err != nil {
		return fmt.Errorf("encode calibration: %w", err)
	}
	key := telemetry.CalibrationKey(id)
	failed := c.commit.commit(ctx, []string{key}, func(string, []byte, bool) ([]byte, bool, error) {
		return value, true, nil
	})
	c.forget(id, nil)
	if err := failed[key]; err != nil {
		return fmt.Errorf("write calibration %q: %w", id, err)
	}
	return nil
}

// remove deletes a calibration record and invalidates the cached one.
func (c *calibrations) remove(ctx context.Context, id string) error {
	err := c.store.Delete(ctx, telemetry.CalibrationKey(id), "")
	c.forget(id, nil)
	if err != nil {
		return fmt.Errorf("delete calibration %q: %w", id, err)
	}
	return nil
}

// forget drops id's entry; with only set, only if it is still that entry.
func (c *calibrations) forget(id string, only *calEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if only == nil || c.entries[id] == only {
		delete(c.entries, id)
	}
}
