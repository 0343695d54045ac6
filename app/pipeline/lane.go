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
	g := group(batch)

	errs := make(map[*job]error)
	for id, err := range p.index.ensure(ctx, g.ids) {
		k := telemetry.DeviceKey(id)
		for _, j := range g.byKey[k] {
			errs[j] = err
		}
		delete(g.byKey, k)
	}
	g.keys = keysIn(g.keys, g.byKey)

	var deadErrs map[string]error
	var wg sync.WaitGroup
	if len(g.rejections) > 0 {
		wg.Go(func() { deadErrs = p.dead.add(ctx, g.rejections) })
	}
	written, deviceErrs := p.commitDevices(ctx, g)
	wg.Wait()

	for key, js := range g.byKey {
		for _, j := range js {
			errs[j] = errors.Join(errs[j], deviceErrs[key])
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

// grouped is a batch sorted for the commit: device jobs by store key, in
// first-seen order, and the rejections to dead-letter.
type grouped struct {
	byKey      map[string][]*job
	keys, ids  []string // device keys and their ids, in the same order
	rejections []Rejection
}

func group(batch []*job) grouped {
	g := grouped{byKey: make(map[string][]*job)}
	for _, j := range batch {
		if j.rejection != nil {
			g.rejections = append(g.rejections, *j.rejection)
		}
		if j.in.DeviceID == "" {
			continue
		}
		k := telemetry.DeviceKey(j.in.DeviceID)
		if _, ok := g.byKey[k]; !ok {
			g.keys = append(g.keys, k)
			g.ids = append(g.ids, j.in.DeviceID)
		}
		g.byKey[k] = append(g.byKey[k], j)
	}
	return g
}

// commitDevices applies each device's jobs to its record, in order, and
// writes the records that changed with one ETag write each (re-applied on a
// conflict). It returns the records written and the error per failed key.
func (p *Processor) commitDevices(ctx context.Context, g grouped) (map[string]telemetry.Device, map[string]error) {
	written := make(map[string]telemetry.Device)
	errs := p.commit.commit(ctx, g.keys, func(key string, cur []byte, exists bool) ([]byte, bool, error) {
		var d telemetry.Device
		if exists {
			if err := json.Unmarshal(cur, &d); err != nil {
				return nil, false, fmt.Errorf("decode device record %s: %w", key, err)
			}
		}
		changed := false
		for _, j := range g.byKey[key] {
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
	for key := range errs {
		delete(written, key)
	}
	return written, errs
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
		case j.verdict() == telemetry.Rejected:
			p.metrics.Rejected.Add(1)
		case j.verdict() == telemetry.Duplicate:
			p.metrics.Duplicates.Add(1)
		default:
			p.metrics.Accepted.Add(1)
		}
		j.done <- err
	}
}
