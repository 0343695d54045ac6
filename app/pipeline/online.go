package pipeline

import (
	"sync"
	"time"

	"github.com/enviromon/enviromon/app/telemetry"
)

// recent remembers when this processor last committed each device's
// LastSeen, so that the devices online can be counted without reading the
// fleet from the store (which /api/summary does, and a scrape every few
// seconds must not). A device counts while its LastSeen is within window of
// now, telemetry.Fleet's rule. Devices quiet for longer are forgotten as it
// goes, so memory follows the devices online, not the fleet's size.
//
// It is an estimate of what this processor saw: a replica counts the
// devices whose readings it committed. With Event Hubs each device's
// partition goes to one replica, so the replicas' counts add up; a device
// whose messages several replicas share (MQTT shared subscriptions) is
// counted by each.
type recent struct {
	window time.Duration

	mu     sync.Mutex
	seen   map[string]time.Time // device key → LastSeen as last committed
	pruned time.Time
}

func newRecent(window time.Duration) *recent {
	return &recent{window: window, seen: make(map[string]time.Time)}
}

// add records the devices of one group commit.
func (r *recent) add(written map[string]telemetry.Device, now time.Time) {
	if len(written) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for key, d := range written {
		if d.LastSeen.After(r.seen[key]) {
			r.seen[key] = d.LastSeen
		}
	}
	if now.Sub(r.pruned) > r.window {
		r.prune(now)
	}
}

// count returns how many devices were seen within window of now.
func (r *recent) count(now time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.prune(now)
	return len(r.seen)
}

func (r *recent) prune(now time.Time) {
	for key, at := range r.seen {
		if now.Sub(at) > r.window {
			delete(r.seen, key)
		}
	}
	r.pruned = now
}

// Online estimates the devices online: those whose readings this processor
// committed with a LastSeen within Config.OnlineAfter of now. It reads
// nothing from the store, and costs one pass over the devices online.
func (p *Processor) Online() int { return p.online.count(p.now()) }
