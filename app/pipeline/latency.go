package pipeline

import "time"

// observe hands the latencies of a message whose readings were all
// committed to the observer. A message of duplicates only is left out: its
// readings were committed by an earlier delivery, and the redelivery delay
// is not ingest latency. A negative latency, from a device clock running
// ahead of ours, counts as 0.
func (p *Processor) observe(m Message, r Result) {
	if r.Accepted+r.Rejected == 0 {
		return
	}
	now := p.now()
	if d, ok := m.latency(now); ok {
		p.observer.IngestLatency(max(d, 0))
	}
	if !m.EnqueuedAt.IsZero() {
		p.observer.EnqueueLatency(max(now.Sub(m.EnqueuedAt), 0))
	}
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
