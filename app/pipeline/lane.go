package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/enviromon/enviromon/app/telemetry"
)

// Run starts the lanes and blocks until ctx ends and the lanes have
// drained. Each lane takes every job queued (up to cfg.MaxBatch), lingers
// up to cfg.Window for more, and commits them; jobs arriving meanwhile form
// the next batch, so batches grow with load without delaying a lone
// message.
//
// When ctx ends, Process refuses new messages with ErrStopped, and the
// lanes commit every job already queued and answer its caller, so a
// graceful shutdown loses no accepted work and leaves nothing to
// redeliver. Commits keep running (their store calls are not cut by ctx)
// for up to cfg.DrainTimeout; jobs still queued after it are answered
// ErrStopped, and the commit in flight sees its context cancelled.
// With history kept, Run also sweeps expired history every sweepEvery,
// until ctx ends.
func (p *Processor) Run(ctx context.Context) error {
	commitCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	var wg sync.WaitGroup
	for _, lane := range p.lanes {
		wg.Go(func() { p.runLane(commitCtx, lane) })
	}
	if p.cfg.HistoryHours > 0 {
		wg.Go(func() { p.sweepHistory(ctx) })
	}
	<-ctx.Done()
	close(p.stopped)
	p.sending.Lock() // wait out callers still queueing; none can queue after
	for _, lane := range p.lanes {
		close(lane) // runLane returns once it has committed what the lane holds
	}
	p.sending.Unlock()
	deadline := time.AfterFunc(p.cfg.DrainTimeout, cancel)
	defer deadline.Stop()
	wg.Wait()
	return nil
}

// runLane commits the lane's jobs in batches until the lane is closed and
// empty.
func (p *Processor) runLane(ctx context.Context, lane chan *job) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	batch := make([]*job, 0, p.cfg.MaxBatch)
	for {
		j, ok := <-lane
		if !ok {
			return
		}
		batch = append(batch[:0], j)
		// Everything that queued while the previous commit ran joins at once.
	drain:
		for len(batch) < p.cfg.MaxBatch {
			select {
			case j, ok := <-lane:
				if !ok {
					break drain
				}
				batch = append(batch, j)
			default:
				break drain
			}
		}
		if p.cfg.Window > 0 && len(batch) < p.cfg.MaxBatch {
			p.linger(lane, timer, &batch)
		}
		if ctx.Err() != nil {
			p.refuse(batch) // past the drain timeout
		} else {
			p.flush(ctx, batch)
		}
		clear(batch)
	}
}

// linger waits up to cfg.Window for more jobs, or until the batch is full;
// not at all once the processor is stopping.
func (p *Processor) linger(lane chan *job, timer *time.Timer, batch *[]*job) {
	timer.Reset(p.cfg.Window)
	defer timer.Stop()
	for len(*batch) < p.cfg.MaxBatch {
		select {
		case j, ok := <-lane:
			if !ok {
				return
			}
			*batch = append(*batch, j)
		case <-timer.C:
			return
		case <-p.stopped:
			return
		}
	}
}

// refuse answers every job of batch with ErrStopped, uncommitted.
func (p *Processor) refuse(batch []*job) {
	errs := make(map[*job]error, len(batch))
	for _, j := range batch {
		errs[j] = ErrStopped
	}
	p.release(batch, errs)
}

// flush group-commits one batch in a span of its own, linked to its
// callers' traces, then notifies and releases every caller with its own
// result.
func (p *Processor) flush(ctx context.Context, batch []*job) {
	p.metrics.Flushes.Add(1)
	p.metrics.Batched.Add(int64(len(batch)))
	callers := make([]context.Context, len(batch))
	for i, j := range batch {
		callers[i] = j.caller
	}
	ctx, end := p.tracer.Start(ctx, "commit", callers)
	began := p.now()
	written, errs := p.commitBatch(ctx, batch)
	p.observer.Commit(len(batch), max(p.now().Sub(began), 0))
	end(firstError(batch, errs))
	p.online.add(written, p.now())
	p.notify(ctx, written)
	p.release(batch, errs)
}

// firstError is the error of the first failed job of batch, or nil.
func firstError(batch []*job, errs map[*job]error) error {
	for _, j := range batch {
		if err := errs[j]; err != nil {
			return err
		}
	}
	return nil
}

// commitBatch writes one batch: the device index for new devices, then
// concurrently one ETag write per device and the dead-letter list. It
// returns the device records written and the error of each failed job.
func (p *Processor) commitBatch(ctx context.Context, batch []*job) (map[string]telemetry.Device, map[*job]error) {
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
	return written, errs
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
// conflict), and beside each the history records of its accepted readings
// (see historyOf and committer.commitLinked). It returns the records
// written and the error per failed device key. A history record that fails
// after its device record committed is logged and counted, not returned:
// the readings are committed, and a redelivery would be a duplicate.
func (p *Processor) commitDevices(ctx context.Context, g grouped) (map[string]telemetry.Device, map[string]error) {
	written := make(map[string]telemetry.Device)
	hist := p.historyOf(g, p.now())
	keys := g.keys
	if len(hist.keys) > 0 {
		keys = append(slices.Clip(g.keys), hist.keys...)
	}
	errs := p.commit.commitLinked(ctx, keys, hist.follows, func(key string, cur []byte, exists bool) ([]byte, bool, error) {
		if _, ok := hist.follows[key]; ok {
			return hist.apply(key, cur, exists)
		}
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
		if dropped := hist.pend(key, &d, g.byKey[key]); dropped > 0 {
			p.metrics.HistoryFailed.Add(int64(dropped))
			p.log.Warn("pending history minutes dropped", "key", key, "minutes", dropped)
		}
		next, err := json.Marshal(d)
		written[key] = d
		return next, true, err
	})
	for key, err := range errs {
		if dk, ok := hist.follows[key]; ok {
			delete(errs, key)
			if errs[dk] == nil {
				p.metrics.HistoryFailed.Add(1)
				p.log.Warn("history not written", "key", key, "err", err)
			}
			continue
		}
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

func (p *Processor) notify(ctx context.Context, written map[string]telemetry.Device) {
	if p.notifier == nil || len(written) == 0 {
		return
	}
	out := make([]telemetry.Summary, 0, len(written))
	for _, d := range written {
		out = append(out, d.Summary())
	}
	p.metrics.Notified.Add(int64(len(out)))
	p.notifier.Notify(ctx, out)
}

func (p *Processor) release(batch []*job, errs map[*job]error) {
	for _, j := range batch {
		err := errs[j]
		switch {
		case err != nil:
			p.metrics.Failed.Add(1)
		case j.verdict() == telemetry.Rejected:
			p.metrics.Rejected.Add(1)
			p.metrics.RejectedBy[j.reason].Add(1)
		case j.verdict() == telemetry.Duplicate:
			p.metrics.Duplicates.Add(1)
		default:
			p.metrics.Accepted.Add(1)
		}
		j.done <- err
	}
}
