package pipeline

import (
	"math"
	"slices"
	"sync/atomic"
	"time"
)

// latencyBounds are the upper bounds of the latency buckets, 1 ms to 60 s:
// a commit lingers a few milliseconds; a backlog or a retrying store shows
// as seconds. Everything above the last falls in the +Inf bucket.
var latencyBounds = [...]time.Duration{
	1 * time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond,
	10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
	1 * time.Second, 2 * time.Second, 5 * time.Second,
	10 * time.Second, 30 * time.Second, 60 * time.Second,
}

// Histogram counts latencies in fixed buckets, 1 ms to 60 s, as a
// Prometheus histogram does; it is hand-made only because the module does
// not depend on prometheus/client_golang yet, and its buckets carry over.
// The zero value is ready to use. Observe takes no lock and allocates
// nothing, so it may sit on the commit path of every message.
type Histogram struct {
	counts [len(latencyBounds) + 1]atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	sum    atomic.Uint64                         // math.Float64bits of the sum in seconds
}

// Observe counts d. A negative d, from a device clock running ahead of
// ours, counts as 0.
func (h *Histogram) Observe(d time.Duration) {
	d = max(d, 0)
	i, _ := slices.BinarySearch(latencyBounds[:], d) // first bound ≥ d: le is inclusive
	h.counts[i].Add(1)
	for {
		old := h.sum.Load()
		next := math.Float64bits(math.Float64frombits(old) + d.Seconds())
		if h.sum.CompareAndSwap(old, next) {
			return
		}
	}
}

// HistogramSnapshot is a point-in-time copy of a Histogram, cumulative as
// Prometheus exposes it.
type HistogramSnapshot struct {
	Bounds     []time.Duration // upper bound of each bucket, ascending; +Inf follows the last
	Cumulative []uint64        // Cumulative[i] counts the observations ≤ Bounds[i]
	Count      uint64          // all observations: the +Inf bucket
	Sum        float64         // of all observations, in seconds
}

// Snapshot copies the histogram. Buckets are read one by one while
// observations continue, so Sum may lag or lead them by the observations
// in flight; Count always equals the last cumulative bucket.
func (h *Histogram) Snapshot() HistogramSnapshot {
	s := HistogramSnapshot{
		Bounds:     slices.Clone(latencyBounds[:]),
		Cumulative: make([]uint64, len(latencyBounds)),
		Sum:        math.Float64frombits(h.sum.Load()),
	}
	for i := range h.counts {
		s.Count += h.counts[i].Load()
		if i < len(s.Cumulative) {
			s.Cumulative[i] = s.Count
		}
	}
	return s
}

// latency is how long m took from its device, else from its hub, until
// now; ok is false when the transport gave neither time.
func (m Message) latency(now time.Time) (d time.Duration, ok bool) {
	switch {
	case !m.CreatedAt.IsZero():
		return now.Sub(m.CreatedAt), true
	case !m.EnqueuedAt.IsZero():
		return now.Sub(m.EnqueuedAt), true
	}
	return 0, false
}
