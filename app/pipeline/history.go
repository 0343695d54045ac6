package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/enviromon/enviromon/app/telemetry"
)

// historyBatch is the history side of one commit: the history records the
// commit's readings fall in, each following its device record (see
// committer.commitLinked), with the readings of that device and hour.
type historyBatch struct {
	keys    []string          // history keys, in first-seen order
	follows map[string]string // history key → device key
	jobs    map[string][]*job // history key → its readings, in commit order
	keep    telemetry.Retention
	// oldestMinute is the first minute whose detail is kept; a reading
	// older than it counts in its hour only.
	oldestMinute time.Time
	cache        *historyCache // the records last written, decoded
}

// retention is what history the processor keeps.
func (p *Processor) retention() telemetry.Retention {
	return telemetry.Retention{Minutes: p.cfg.HistoryMinutes, Hours: p.cfg.HistoryHours}
}

// historyOf groups the valid readings of the devices being committed by
// history record: one record per device and UTC hour, so a commit adds one
// write per device, two when its readings span an hour boundary. Readings
// older than the hour retention are left out: their record is gone, or
// about to be.
func (p *Processor) historyOf(g grouped, now time.Time) historyBatch {
	keep := p.retention()
	h := historyBatch{keep: keep, oldestMinute: keep.Oldest(time.Minute, now), cache: &p.history}
	if keep.Hours <= 0 {
		return h
	}
	oldest := keep.Oldest(time.Hour, now)
	h.follows = make(map[string]string)
	h.jobs = make(map[string][]*job)
	for _, dk := range g.keys {
		for _, j := range g.byKey[dk] {
			if j.in.Invalid != nil || j.in.At.Before(oldest) {
				continue
			}
			hk := telemetry.HistoryKey(j.in.DeviceID, j.in.At)
			if _, ok := h.follows[hk]; !ok {
				h.keys = append(h.keys, hk)
				h.follows[hk] = dk
			}
			h.jobs[hk] = append(h.jobs[hk], j)
		}
	}
	return h
}

// apply is the mutation of a history record: it adds the readings its
// device record's mutation Accepted, the outcomes that record commits
// with; duplicates and rejections never reach a bucket.
func (h historyBatch) apply(key string, cur []byte, exists bool) ([]byte, bool, error) {
	var accepted []*job
	for _, j := range h.jobs[key] {
		if j.outcome == telemetry.Accepted {
			accepted = append(accepted, j)
		}
	}
	if len(accepted) == 0 {
		return nil, false, nil
	}
	r := h.cache.take(key, cur)
	if r == nil {
		r = &telemetry.HourRecord{}
		if exists {
			if err := json.Unmarshal(cur, r); err != nil {
				return nil, false, fmt.Errorf("decode history record %s: %w", key, err)
			}
		}
	}
	for _, j := range accepted {
		r.Add(j.in, h.keep.Minutes > 0 && !j.in.At.Before(h.oldestMinute))
	}
	next, err := r.AppendJSON(nil) // json.Marshal would validate it again
	if err != nil {
		return nil, false, err
	}
	h.cache.put(key, next, r)
	return next, true, nil
}

// History returns the non-empty buckets of metric for device id whose
// start lies in [from, to), in time order, in steps of step (time.Minute
// or time.Hour). The range is checked by telemetry.Retention.CheckRange
// (errors wrap telemetry.ErrHistoryQuery); a device without a record is
// ErrNotFound. It reads the device's record and the hour records of the
// range in bulk, 256 keys at a time: at most 49 for 48 hours of minutes,
// 745 for 31 days of hours.
func (p *Processor) History(ctx context.Context, id string, metric telemetry.Metric, from, to time.Time, step time.Duration) ([]telemetry.Point, error) {
	keep := p.retention()
	now := p.now()
	if err := keep.CheckRange(from, to, step, now); err != nil {
		return nil, err
	}
	devKey := telemetry.DeviceKey(id)
	keys := []string{devKey}
	for h := telemetry.HourOf(later(from, keep.Oldest(time.Hour, now))); h.Before(to); h = h.Add(time.Hour) {
		keys = append(keys, telemetry.HistoryKey(id, h))
	}
	var records []telemetry.HourRecord
	for start := 0; start < len(keys); start += readChunk {
		chunk := keys[start:min(start+readChunk, len(keys))]
		got, err := p.commit.store.BulkGet(ctx, chunk)
		if err != nil {
			return nil, fmt.Errorf("read history: %w", err)
		}
		if start == 0 {
			if _, ok := got[devKey]; !ok {
				return nil, fmt.Errorf("device %q: %w", id, ErrNotFound)
			}
		}
		for _, k := range chunk {
			e, ok := got[k]
			if !ok || k == devKey {
				continue
			}
			var r telemetry.HourRecord
			if err := json.Unmarshal(e.Value, &r); err != nil {
				return nil, fmt.Errorf("decode history record %s: %w", k, err)
			}
			records = append(records, r)
		}
	}
	minutesFrom := keep.Oldest(time.Minute, now)
	return telemetry.Points(records, metric, from, to, step, minutesFrom), nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
