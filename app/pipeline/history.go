package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/enviromon/enviromon/app/telemetry"
)

// historyBatch is the history side of one commit. A device's accepted
// readings go into the pending minutes its device record carries
// (telemetry.Device.Pend), in the write that counts them; a minute moves
// into its hour record once it is complete, one history write per device
// and minute instead of per commit. The hour records a commit may write
// follow their device record (see committer.commitLinked): they are
// predicted from the readings and from the minutes this processor last
// left pending on the device (hints); a complete minute whose hour record
// is not among them stays pending, for the next commit of the device.
type historyBatch struct {
	keys    []string            // history keys this commit may write, in first-seen order
	follows map[string]string   // history key → device key
	ids     map[string]string   // device key → device id
	byLead  map[string][]string // device key → the history keys following it
	// flushed holds the minutes the device mutation of this attempt took
	// out of the device record for each history key, to be added to it.
	flushed map[string][]telemetry.MinuteBuckets
	keep    telemetry.Retention
	// oldestMinute is the first minute whose detail is kept; a minute
	// older than it counts in its hour only. oldestHour is the first hour
	// kept at all.
	oldestMinute, oldestHour time.Time
	hints                    *pendingHints
}

// on reports whether history is kept.
func (h historyBatch) on() bool { return h.keep.Hours > 0 }

// retention is what history the processor keeps.
func (p *Processor) retention() telemetry.Retention {
	return telemetry.Retention{Minutes: p.cfg.HistoryMinutes, Hours: p.cfg.HistoryHours}
}

// historyOf predicts the hour records the commit of g may write: for each
// device, the hours of the minutes that will be complete after it (the
// minutes its readings fall in, and those this processor last left
// pending, all but the newest). Readings older than the hour retention are
// left out: their record is gone, or about to be.
func (p *Processor) historyOf(g grouped, now time.Time) historyBatch {
	keep := p.retention()
	h := historyBatch{keep: keep, oldestMinute: keep.Oldest(time.Minute, now), hints: &p.hints}
	if !h.on() {
		return h
	}
	h.oldestHour = keep.Oldest(time.Hour, now)
	h.follows = make(map[string]string)
	h.ids = make(map[string]string, len(g.keys))
	h.byLead = make(map[string][]string)
	h.flushed = make(map[string][]telemetry.MinuteBuckets)
	for i, dk := range g.keys {
		id := g.ids[i]
		h.ids[dk] = id
		minutes := p.hints.get(dk)
		for _, j := range g.byKey[dk] {
			if j.in.Invalid == nil && !j.in.At.Before(h.oldestHour) {
				minutes = append(minutes, j.in.At.UTC().Truncate(time.Minute))
			}
		}
		if len(minutes) < 2 {
			continue
		}
		newest := slices.MaxFunc(minutes, time.Time.Compare)
		for _, m := range minutes {
			if m.Equal(newest) || m.Before(h.oldestHour) {
				continue
			}
			hk := telemetry.HistoryKey(id, m)
			if _, ok := h.follows[hk]; !ok {
				h.keys = append(h.keys, hk)
				h.follows[hk] = dk
				h.byLead[dk] = append(h.byLead[dk], hk)
			}
		}
	}
	return h
}

// pend is the history side of a device record's mutation: it adds the
// accepted readings to d's pending minutes and takes out the complete
// minutes whose hour record this commit writes. It runs for each attempt
// of the device's write, so it starts by forgetting the previous one's.
func (h historyBatch) pend(dk string, d *telemetry.Device, jobs []*job) (dropped int) {
	if !h.on() {
		return 0
	}
	for _, hk := range h.byLead[dk] {
		delete(h.flushed, hk)
	}
	for _, j := range jobs {
		if j.outcome == telemetry.Accepted && !j.in.At.Before(h.oldestHour) {
			dropped += d.Pend(j.in)
		}
	}
	id := h.ids[dk]
	for _, m := range d.Flush(h.oldestHour, func(m telemetry.MinuteBuckets) bool {
		return h.follows[telemetry.HistoryKey(id, m.Start)] == dk
	}) {
		hk := telemetry.HistoryKey(id, m.Start)
		h.flushed[hk] = append(h.flushed[hk], m)
	}
	h.hints.put(dk, d.Pending)
	return dropped
}

// apply is the mutation of a history record: it adds the minutes its
// device record's mutation took out for it. Duplicates and rejections
// never reach a bucket: only accepted readings were pending.
func (h historyBatch) apply(key string, cur []byte, exists bool) ([]byte, bool, error) {
	minutes := h.flushed[key]
	if len(minutes) == 0 {
		return nil, false, nil
	}
	var r telemetry.HourRecord
	if exists {
		if err := json.Unmarshal(cur, &r); err != nil {
			return nil, false, fmt.Errorf("decode history record %s: %w", key, err)
		}
	}
	for _, m := range minutes {
		r.AddMinute(m, h.keep.Minutes > 0 && !m.Start.Before(h.oldestMinute))
	}
	next, err := r.AppendJSON(nil) // json.Marshal would validate it again
	return next, err == nil, err
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
	var pending []telemetry.MinuteBuckets
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
			if !ok {
				continue
			}
			if k == devKey {
				d, err := decodeDevice(k, e.Value)
				if err != nil {
					return nil, err
				}
				pending = d.Pending
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
	return telemetry.Points(withPending(records, pending, keep.Minutes > 0, minutesFrom), metric, from, to, step, minutesFrom), nil
}

// withPending adds the minutes a device record still holds to the hour
// records read (minute detail only when kept and recent enough), so that
// a query sees every accepted reading, the minute in progress included.
func withPending(records []telemetry.HourRecord, pending []telemetry.MinuteBuckets, detail bool, minutesFrom time.Time) []telemetry.HourRecord {
	for _, m := range pending {
		hour := telemetry.HourOf(m.Start)
		i := slices.IndexFunc(records, func(r telemetry.HourRecord) bool { return r.Hour.Equal(hour) })
		if i < 0 {
			records = append(records, telemetry.HourRecord{Hour: hour})
			i = len(records) - 1
		}
		records[i].AddMinute(m, detail && !m.Start.Before(minutesFrom))
	}
	return records
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
