//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/enviromon/enviromon/app/sim"
	"github.com/enviromon/enviromon/app/telemetry"
)

// ledger is the simulator's own record of every message a transport
// acknowledged, by device and message id, with the time of the
// acknowledgement. A fault case that ends with wrong counts names the
// messages behind the difference from it.
type ledger struct {
	sim.Sender
	mu    sync.Mutex
	acked map[string]map[string]time.Time // device → message id → first ack
}

func newLedger(s sim.Sender) *ledger {
	return &ledger{Sender: s, acked: map[string]map[string]time.Time{}}
}

// Send delivers through the wrapped sender and records what was acknowledged.
func (l *ledger) Send(ctx context.Context, deviceID string, payload []byte) error {
	err := l.Sender.Send(ctx, deviceID, payload)
	if err != nil {
		return err
	}
	var body struct {
		MessageID any `json:"messageId"`
	}
	_ = json.Unmarshal(payload, &body)
	id := fmt.Sprint(body.MessageID)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.acked[deviceID] == nil {
		l.acked[deviceID] = map[string]time.Time{}
	}
	if _, ok := l.acked[deviceID][id]; !ok {
		l.acked[deviceID][id] = time.Now()
	}
	return nil
}

// explain compares the ledger with the stored records of the devices that
// differ: the acknowledged ids the store does not remember (lost) and the
// remembered ids no one acknowledged. It relies on the dedup window holding
// every id of the run.
func (l *ledger) explain(ctx context.Context, s store, devices []string, since time.Time) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, id := range devices {
		v, err := s.Value(ctx, telemetry.DeviceKey(id))
		if err != nil {
			fmt.Fprintf(&b, "%s: %v; ", id, err)
			continue
		}
		var d telemetry.Device
		if err := json.Unmarshal(v, &d); err != nil {
			fmt.Fprintf(&b, "%s: %v; ", id, err)
			continue
		}
		var lost []string
		for mid, at := range l.acked[id] {
			if !slices.Contains(d.Recent, mid) {
				lost = append(lost, fmt.Sprintf("%s acked %+.3fs", mid, at.Sub(since).Seconds()))
			}
		}
		var extra []string
		for _, mid := range d.Recent {
			if _, ok := l.acked[id][mid]; !ok {
				extra = append(extra, mid)
			}
		}
		if len(lost)+len(extra) == 0 {
			continue
		}
		slices.Sort(lost)
		fmt.Fprintf(&b, "%s: %d acked, %d remembered, not stored: %v, not acked: %v; ", id, len(l.acked[id]), len(d.Recent), lost, extra)
	}
	return b.String()
}

// between returns, per device, how many message ids were first
// acknowledged within [from, to].
func (l *ledger) between(from, to time.Time) map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int{}
	for device, ids := range l.acked {
		for _, at := range ids {
			if !at.Before(from) && !at.After(to) {
				out[device]++
			}
		}
	}
	return out
}
