package sim

import (
	"fmt"
	"maps"
	"sync"
	"time"
)

// Counts is what was sent for one device, or for all of them.
//
// A new message is counted once, by its outcome; a repeat is always of a
// message already acknowledged, so Valid and Invalid count distinct message
// ids: exactly what a de-duplicating receiver should have accepted.
type Counts struct {
	Valid     int // new valid messages acknowledged
	Invalid   int // new invalid messages acknowledged
	Repeats   int // re-sends of an acknowledged message, acknowledged again
	Rejected  int // sends the receiver refused for good (not retried)
	Failures  int // sends given up after every attempt failed
	Cancelled int // sends cut short by the caller's context: they may have arrived
}

// Acked is the number of acknowledged sends: what a receiver saw at least.
func (c Counts) Acked() int { return c.Valid + c.Invalid + c.Repeats }

// Sends is the number of sends attempted, whatever their outcome.
func (c Counts) Sends() int { return c.Acked() + c.Rejected + c.Failures + c.Cancelled }

func (c *Counts) add(o Counts) {
	c.Valid += o.Valid
	c.Invalid += o.Invalid
	c.Repeats += o.Repeats
	c.Rejected += o.Rejected
	c.Failures += o.Failures
	c.Cancelled += o.Cancelled
}

// Stats is the result of a run.
type Stats struct {
	Devices map[string]Counts // by device id, every device of the run present
	Total   Counts
	Elapsed time.Duration
}

// Rate is the acknowledged sends per second over Elapsed.
func (s Stats) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Total.Acked()) / s.Elapsed.Seconds()
}

// String is a one-line summary.
func (s Stats) String() string {
	t := s.Total
	return fmt.Sprintf("sent %d (valid %d, invalid %d, repeats %d) in %s, %.1f msg/s, failures %d, rejected %d, cancelled %d",
		t.Acked(), t.Valid, t.Invalid, t.Repeats, s.Elapsed.Round(time.Millisecond), s.Rate(), t.Failures, t.Rejected, t.Cancelled)
}

// tally collects counts from every device's goroutine.
type tally struct {
	mu      sync.Mutex
	devices map[string]Counts
}

func newTally(ids []string) *tally {
	t := &tally{devices: make(map[string]Counts, len(ids))}
	for _, id := range ids {
		t.devices[id] = Counts{}
	}
	return t
}

func (t *tally) record(m Message, o outcome) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.devices[m.DeviceID]
	switch {
	case o == rejected:
		c.Rejected++
	case o == failed:
		c.Failures++
	case o == cancelled:
		c.Cancelled++
	case m.Repeat:
		c.Repeats++
	case m.Valid():
		c.Valid++
	default:
		c.Invalid++
	}
	t.devices[m.DeviceID] = c
}

func (t *tally) stats(elapsed time.Duration) Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := Stats{Devices: maps.Clone(t.devices), Elapsed: elapsed}
	for _, c := range s.Devices {
		s.Total.add(c)
	}
	return s
}
