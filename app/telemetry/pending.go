package telemetry

import (
	"math"
	"slices"
	"time"
)

// MinuteBuckets is one minute of one device's history: a bucket per metric.
type MinuteBuckets struct {
	Start   time.Time         `json:"start"`
	Metrics map[Metric]Bucket `json:"metrics,omitempty"`
}

// add counts the calibrated values of in.
func (m *MinuteBuckets) add(in Input) {
	for _, metric := range Metrics {
		v := metric.value(in.Calibrated)
		if v == nil || math.IsNaN(*v) || math.IsInf(*v, 0) {
			continue
		}
		if m.Metrics == nil {
			m.Metrics = make(map[Metric]Bucket)
		}
		b := m.Metrics[metric]
		b.Add(*v)
		m.Metrics[metric] = b
	}
}

// MaxPending bounds the minutes a device record holds for its history:
// the pipeline flushes them a commit or two after they complete, so only a
// device whose readings' times jump about gets near it. Past it the oldest
// are dropped.
const MaxPending = 16

// Pend counts the values of in, an accepted reading, in its minute of d's
// pending history: the minutes not yet in an hour record, oldest first.
// The device record carries them, so a reading's history is written in the
// same ETag write that counts it, and a device's hour record is written
// once a minute instead of at every commit. It reports how many minutes
// were dropped to stay within MaxPending.
func (d *Device) Pend(in Input) (dropped int) {
	start := in.At.UTC().Truncate(time.Minute)
	i, found := slices.BinarySearchFunc(d.Pending, start, func(m MinuteBuckets, t time.Time) int { return m.Start.Compare(t) })
	if !found {
		d.Pending = slices.Insert(d.Pending, i, MinuteBuckets{Start: start})
	}
	d.Pending[i].add(in)
	if n := len(d.Pending) - MaxPending; n > 0 {
		d.Pending = slices.Delete(d.Pending, 0, n)
		return n
	}
	return 0
}

// Flush removes from d's pending history the minutes that are complete
// (all but the newest, which may still receive readings) and that take
// accepts, and returns them, oldest first. Minutes before expired are
// dropped without being returned: their hour is no longer kept.
func (d *Device) Flush(expired time.Time, take func(MinuteBuckets) bool) []MinuteBuckets {
	if len(d.Pending) == 0 {
		return nil
	}
	var out []MinuteBuckets
	kept := d.Pending[:0:0]
	newest := len(d.Pending) - 1
	for i, m := range d.Pending {
		switch {
		case m.Start.Before(expired):
		case i < newest && take(m):
			out = append(out, m)
		default:
			kept = append(kept, m)
		}
	}
	d.Pending = kept
	if len(d.Pending) == 0 {
		d.Pending = nil
	}
	return out
}

// AddMinute counts the buckets of m in the hour's aggregates, and in m's
// minute when minutes is true (the minute is recent enough for detail).
func (h *HourRecord) AddMinute(m MinuteBuckets, minutes bool) {
	if h.Hour.IsZero() {
		h.Hour = HourOf(m.Start)
	}
	minute := m.Start.UTC().Minute()
	for _, metric := range Metrics {
		b, ok := m.Metrics[metric]
		if !ok || b.N == 0 {
			continue
		}
		if h.Metrics == nil {
			h.Metrics = make(map[Metric]*Series)
		}
		s := h.Metrics[metric]
		if s == nil {
			s = &Series{}
			h.Metrics[metric] = s
		}
		s.Hour.Merge(b)
		if minutes {
			if s.Minutes == nil {
				s.Minutes = make(map[int]Bucket)
			}
			mb := s.Minutes[minute]
			mb.Merge(b)
			s.Minutes[minute] = mb
		}
	}
}
