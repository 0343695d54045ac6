package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Evaluation bounds.
const (
	// SweepEvery is how often the evaluator sweeps known devices, for
	// offline rules and for conditions whose For ran out without a new
	// reading.
	SweepEvery = 10 * time.Second
	// sweepMax bounds the devices one sweep reads; a larger fleet is swept
	// over several ticks, continuing where the last one stopped.
	sweepMax  = 2000
	readChunk = 256
	// sendTries bounds the tries of one delivery to one sender.
	sendTries = 3
)

// Sender delivers a raise or a clear somewhere: an output binding, the
// dashboard, a log.
type Sender interface {
	Send(ctx context.Context, a Alert) error
}

// Lister pages through the known devices, as the pipeline's device list
// does: up to limit devices after after, and the next cursor ("" at the end).
type Lister interface {
	DevicePage(ctx context.Context, after string, limit int) ([]Device, string, error)
}

// Evaluator evaluates the rules on devices as their commits arrive and on a
// sweep timer, and delivers each raise and clear it wins the state write of.
type Evaluator struct {
	svc     *Service
	devices Lister
	senders []Sender
	log     *slog.Logger

	pause time.Duration // before a delivery's second try, doubled after

	mu      sync.Mutex
	pending map[string]Device // coalesced per device: the latest wins
	wake    chan struct{}
	cursor  string
}

// NewEvaluator returns an evaluator over svc's rules; devices (nil for
// none) is what the sweep reads, senders where raises and clears go.
func NewEvaluator(svc *Service, devices Lister, log *slog.Logger, senders ...Sender) *Evaluator {
	return &Evaluator{svc: svc, devices: devices, senders: senders, log: log, pause: 200 * time.Millisecond,
		pending: make(map[string]Device), wake: make(chan struct{}, 1)}
}

// Observe queues devices for evaluation. It never blocks and never drops a
// device: a device queued again before evaluation replaces its earlier state.
func (e *Evaluator) Observe(devices []Device) {
	e.mu.Lock()
	for _, d := range devices {
		e.pending[d.ID] = d
	}
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run evaluates queued devices, and sweeps every SweepEvery, until ctx ends.
func (e *Evaluator) Run(ctx context.Context) error {
	tick := time.NewTicker(SweepEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-e.wake:
			e.mu.Lock()
			batch := e.pending
			e.pending = make(map[string]Device, len(batch))
			e.mu.Unlock()
			devices := make([]Device, 0, len(batch))
			for _, d := range batch {
				devices = append(devices, d)
			}
			if err := e.Evaluate(ctx, devices); err != nil {
				e.log.WarnContext(ctx, "alert evaluation failed", "devices", len(devices), "err", err)
			}
		case <-tick.C:
			if err := e.Sweep(ctx); err != nil {
				e.log.WarnContext(ctx, "alert sweep failed", "err", err)
			}
		}
	}
}

// Sweep evaluates up to sweepMax known devices, from where the previous
// sweep stopped.
func (e *Evaluator) Sweep(ctx context.Context) error {
	if e.devices == nil {
		return nil
	}
	for read := 0; read < sweepMax; {
		page, next, err := e.devices.DevicePage(ctx, e.cursor, min(readChunk, sweepMax-read))
		if err != nil {
			return fmt.Errorf("sweep: %w", err)
		}
		e.cursor = next
		read += max(len(page), 1)
		if err := e.Evaluate(ctx, page); err != nil {
			return fmt.Errorf("sweep: %w", err)
		}
		if next == "" {
			return nil
		}
	}
	return nil
}

// pair is one rule on one device.
type pair struct {
	rule   Rule
	device Device
	key    string
}

// Evaluate steps every rule that applies to each of devices, writes each
// state that changed with its ETag, and delivers the raises and clears
// whose writes it won. On a conflict it re-reads and steps again: when
// another replica made the same transition first, there is nothing left to
// deliver here.
func (e *Evaluator) Evaluate(ctx context.Context, devices []Device) error {
	rules, err := e.svc.activeRules(ctx)
	if err != nil || len(rules) == 0 || len(devices) == 0 {
		return err
	}
	now := e.svc.now().UTC()
	var pairs []pair
	for _, d := range devices {
		for _, r := range rules {
			if r.Applies(d.ID) {
				pairs = append(pairs, pair{rule: r, device: d, key: StateKey(r.ID, d.ID)})
			}
		}
	}
	var errs []error
	for start := 0; start < len(pairs); start += readChunk {
		chunk := pairs[start:min(start+readChunk, len(pairs))]
		keys := make([]string, len(chunk))
		for i, p := range chunk {
			keys[i] = p.key
		}
		got, err := e.svc.store.BulkGet(ctx, keys)
		if err != nil {
			return fmt.Errorf("read alert state: %w", err)
		}
		for _, p := range chunk {
			first := got[p.key]
			if err := e.step(ctx, p, &first, now); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// step moves one pair's state and delivers what it raised or cleared. A
// raise or clear goes into the state's outbox in the same ETag write, with
// a lease for this replica; the outbox empties only once every sender took
// it. An outbox left by a failed delivery or a crashed replica is taken
// over here once its lease ran out. Delivery is therefore at least once
// per transition, and in the normal case exactly once across replicas.
func (e *Evaluator) step(ctx context.Context, p pair, first *Entry, now time.Time) error {
	var raised *Alert
	var send []Alert
	err := e.svc.update(ctx, p.key, first, func(cur []byte, exists bool) ([]byte, bool, error) {
		raised, send = nil, nil
		var st State
		if exists {
			if err := json.Unmarshal(cur, &st); err != nil {
				return nil, false, fmt.Errorf("decode %s: %w", p.key, err)
			}
		}
		next, changed, a := Step(p.rule, st, p.device, now)
		next.Outbox = slices.Clone(next.Outbox) // never write through into st
		if a != nil {
			raised = a
			next.Outbox = append(next.Outbox, *a)
			if n := len(next.Outbox) - maxOutbox; n > 0 {
				e.log.ErrorContext(ctx, "alert transitions dropped undelivered: the outbox is full", "ruleId", p.rule.ID, "deviceId", p.device.ID, "dropped", n)
				next.Outbox = next.Outbox[n:]
			}
		}
		if len(next.Outbox) > 0 && (a != nil || !now.Before(next.Lease)) {
			next.Lease = now.Add(deliveryLease)
			send = next.Outbox
			changed = true
		}
		if !changed {
			return nil, false, nil
		}
		b, err := json.Marshal(next)
		return b, true, err
	})
	if err != nil {
		return fmt.Errorf("alert %s: %w", p.key, err)
	}
	var listErr error
	if raised != nil {
		// The list is for the API; the delivery goes out even if it fails.
		listErr = e.svc.track(ctx, *raised)
	}
	if len(send) > 0 {
		if err := e.flush(ctx, p.key, send); err != nil {
			e.log.WarnContext(ctx, "alert delivery kept for later", "key", p.key, "pending", len(send), "retryIn", deliveryLease, "err", err)
		}
	}
	if listErr != nil {
		return fmt.Errorf("list alert %s: %w", p.key, listErr)
	}
	return nil
}

// deliveryLease is how long the replica that holds an outbox has to
// deliver it before another may take it over: also the pause before a
// failed delivery is tried again.
const deliveryLease = time.Minute

// flush delivers pending, oldest first, stopping at the first that fails,
// and removes what was delivered from the outbox at key.
func (e *Evaluator) flush(ctx context.Context, key string, pending []Alert) error {
	done := 0
	var sendErr error
	for _, a := range pending {
		if sendErr = e.deliver(ctx, a); sendErr != nil {
			break
		}
		done++
	}
	if done == 0 {
		return sendErr
	}
	delivered := pending[:done]
	err := e.svc.update(ctx, key, nil, func(cur []byte, exists bool) ([]byte, bool, error) {
		var st State
		if !exists {
			return nil, false, nil
		}
		if err := json.Unmarshal(cur, &st); err != nil {
			return nil, false, fmt.Errorf("decode %s: %w", key, err)
		}
		n := 0
		for n < len(st.Outbox) && n < len(delivered) && st.Outbox[n].same(delivered[n]) {
			n++
		}
		if n == 0 {
			return nil, false, nil // another replica emptied it meanwhile
		}
		st.Outbox = st.Outbox[n:]
		if len(st.Outbox) == 0 {
			st.Lease = time.Time{}
		}
		b, err := json.Marshal(st)
		return b, true, err
	})
	return errors.Join(sendErr, err)
}

// deliver sends a to every sender, retrying each a few times; it returns
// the errors of the senders that still failed, but for BestEffort ones,
// which it logs.
func (e *Evaluator) deliver(ctx context.Context, a Alert) error {
	var errs []error
	for _, s := range e.senders {
		var err error
		pause := e.pause
		for try := range sendTries {
			if try > 0 {
				select {
				case <-ctx.Done():
				case <-time.After(pause):
				}
				pause *= 2
			}
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err = s.Send(sctx, a)
			cancel()
			if err == nil || ctx.Err() != nil {
				break
			}
		}
		if err == nil {
			continue
		}
		err = fmt.Errorf("alert %s %s of %s on %s: %w", a.RuleID, a.State, a.DeviceID, a.Since.Format(time.RFC3339), err)
		if _, ok := s.(BestEffort); ok {
			e.log.WarnContext(ctx, "alert not sent live", "err", err)
			continue
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
