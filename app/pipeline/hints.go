package pipeline

import (
	"slices"
	"sync"
	"time"

	"github.com/enviromon/enviromon/app/telemetry"
)

// maxHints bounds the hints: about one per active device. Past it, any
// one is forgotten; that device's finished minutes then wait one more
// commit in its record.
const maxHints = 20000

// pendingHints remembers, per device record, the pending minutes this
// processor last wrote into it, so that a commit can predict which hour
// records it will write (historyOf). A wrong or missing hint costs a
// minute an extra commit in the device record, never a reading.
type pendingHints struct {
	mu      sync.Mutex
	minutes map[string][]time.Time
}

// get returns a copy of the starts of dk's pending minutes as last written.
func (p *pendingHints) get(dk string) []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.minutes[dk])
}

// put remembers pending as dk's.
func (p *pendingHints) put(dk string, pending []telemetry.MinuteBuckets) {
	starts := make([]time.Time, len(pending))
	for i, m := range pending {
		starts[i] = m.Start
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.minutes == nil {
		p.minutes = make(map[string][]time.Time)
	}
	if _, ok := p.minutes[dk]; !ok && len(p.minutes) >= maxHints {
		for k := range p.minutes {
			delete(p.minutes, k)
			break
		}
	}
	p.minutes[dk] = starts
}
