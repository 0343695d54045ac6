package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/enviromon/enviromon/app/telemetry"
)

// Run starts the lanes and blocks until ctx ends. Each lane takes every job
// queued (up to cfg.MaxBatch), lingers up to cfg.Window for more, and
// commits them; jobs arriving meanwhile form the next batch, so batches grow
// with load without delaying a lone message. A batch
// being committed when ctx ends is finished (bounded by drainTimeout); jobs
// still queued fail with ErrStopped so their transport redelivers them.
func (p *Processor) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, lane := range p.lanes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.runLane(ctx, lane)
		}()
	}
	<-ctx.Done()
	close(p.stopped)
	wg.Wait()
	p.sending.Lock() // wait out callers still queueing
	defer p.sending.Unlock()
	for _, lane := range p.lanes {
		for {
			select {
			case j := <-lane:
				j.done <- ErrStopped
				continue
			default:
			}
			break
		}
	}
	return nil
}

func (p *Processor) runLane(ctx context.Context, lane chan *job) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	batch := make([]*job, 0, p.cfg.MaxBatch)
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-lane:
			batch = append(batch[:0], j)
		}
		// Everything that queued while the previous commit ran joins at once.
	drain:
		for len(batch) < p.cfg.MaxBatch {
			select {
			case j := <-lane:
				batch = append(batch, j)
			default:
				break drain
			}
		}
		if p.cfg.Window > 0 && len(batch) < p.cfg.MaxBatch {
			p.linger(ctx, lane, timer, &batch)
		}
		p.flush(ctx, batch)
		clear(batch)
	}
}

// linger waits up to cfg.Window for more jobs, or until the batch is full.
func (p *Processor) linger(ctx context.Context, lane chan *job, timer *time.Timer, batch *[]*job) {
	timer.Reset(p.cfg.Window)
	defer timer.Stop()
	for len(*batch) < p.cfg.MaxBatch {
		select {
		case j := <-lane:
			*batch = append(*batch, j)
		case <-timer.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// flush group-commits one batch: the device index for new devices, then
// concurrently one ETag write per device and the dead-letter list; then it
// notifies and releases every caller with its own result.
func (p *Processor) flush(ctx context.Context, batch []*job) {
	p.metrics.Flushes.Add(1)
	p.metrics.Batched.Add(int64(len(batch)))

	byKey := make(map[string][]*job)
	var keys, ids []string
	var rejections []Rejection
	for _, j := range batch {
		if j.rejection != nil {
			rejections = append(rejections, *j.rejection)
		}
		if j.in.DeviceID == "" {
			continue
		}
		k := telemetry.DeviceKey(j.in.DeviceID)
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
			ids = append(ids, j.in.DeviceID)
		}
		byKey[k] = append(byKey[k], j)
	}

	errs := make(map[*job]error)
	for id, err := range p.index.ensure(ctx, ids) {
		k := telemetry.DeviceKey(id)
		for _, j := range byKey[k] {
			errs[j] = err
		}
		delete(byKey, k)
	}
	keys = keysIn(keys, byKey)

	var deadErrs map[string]error
	var wg sync.WaitGroup
	if len(rejections) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			deadErrs = p.dead.add(ctx, rejections)
		}()
	}
	written := make(map[string]telemetry.Device)
	deviceErrs := p.commit.commit(ctx, keys, func(key string, cur []byte, exists bool) ([]byte, bool, error) {
		var d telemetry.Device
		if exists {
			if err := json.Unmarshal(cur, &d); err != nil {
				return nil, false, fmt.Errorf("decode device record %s: %w", key, err)
			}
		}
		changed := false
		for _, j := range byKey[key] {
			j.outcome = d.Apply(j.in, p.cfg.DedupWindow)
			changed = changed || j.outcome != telemetry.Duplicate
		}
		if !changed {
			delete(written, key)
			return nil, false, nil
		}
		next, err := json.Marshal(d)
		written[key] = d
		return next, true, err
	})
	wg.Wait()

	for key, js := range byKey {
		for _, j := range js {
			errs[j] = errors.Join(errs[j], deviceErrs[key])
		}
		if deviceErrs[key] != nil {
			delete(written, key)
		}
	}
	for _, j := range batch {
		if j.rejection != nil {
			if err := deadErrs[rejectedKey(j.rejection.DeviceID)]; err != nil {
				errs[j] = errors.Join(errs[j], fmt.Errorf("dead-letter: %w", err))
			}
		}
	}
	p.notify(written)
	p.release(batch, errs)
}

// keysIn keeps the keys still present in byKey, in order.
func keysIn(keys []string, byKey map[string][]*job) []string {
	out := keys[:0]
	for _, k := range keys {
		if _, ok := byKey[k]; ok {
			out = append(out, k)
		}
	}
	return out
}

func (p *Processor) notify(written map[string]telemetry.Device) {
	if p.notifier == nil || len(written) == 0 {
		return
	}
	out := make([]telemetry.Summary, 0, len(written))
	for _, d := range written {
		out = append(out, d.Summary())
	}
	p.metrics.Notified.Add(int64(len(out)))
	p.notifier.Notify(out)
}

func (p *Processor) release(batch []*job, errs map[*job]error) {
	for _, j := range batch {
		err := errs[j]
		switch {
		case err != nil:
			p.metrics.Failed.Add(1)
		case j.in.DeviceID == "" || j.outcome == telemetry.Rejected:
			p.metrics.Rejected.Add(1)
		case j.outcome == telemetry.Duplicate:
			p.metrics.Duplicates.Add(1)
		default:
			p.metrics.Accepted.Add(1)
		}
		j.done <- err
	}
}
