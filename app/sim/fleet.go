package sim

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Run simulates cfg.Devices devices, one goroutine each, sending through s
// at cfg.Rate until every device has made cfg.Count sends, cfg.Duration has
// passed, or ctx is done. None of these is an error: Run returns the counts
// so far. A send still in flight when the duration ends is finished (under
// ctx), so its outcome is known; one cut short by ctx is counted Cancelled.
// The error is for a config that does not validate.
//
// Each device sends at most Rate messages a second: a send slower than the
// interval (retries included) makes it skip ticks rather than queue them.
func Run(ctx context.Context, cfg Config, s Sender) (Stats, error) {
	if err := cfg.Validate(); err != nil {
		return Stats{}, fmt.Errorf("run: %w", err)
	}
	cfg = cfg.withDefaults()
	devices := make([]*Device, cfg.Devices)
	ids := make([]string, cfg.Devices)
	for i := range devices {
		d, err := NewDevice(cfg, i+1)
		if err != nil {
			return Stats{}, fmt.Errorf("run: %w", err)
		}
		devices[i], ids[i] = d, d.ID()
	}

	stopCtx, cancel := ctx, context.CancelFunc(func() {})
	if cfg.Duration > 0 {
		stopCtx, cancel = context.WithTimeout(ctx, cfg.Duration)
	}
	defer cancel()
	f := fleet{cfg: cfg, sender: s, tally: newTally(ids), stop: stopCtx.Done(),
		interval: max(time.Duration(float64(time.Second)/cfg.Rate), time.Microsecond)}
	start := time.Now()

	var wg sync.WaitGroup
	errs := make([]error, len(devices))
	for i, d := range devices {
		// Spread the devices over one interval so they do not all send at once.
		offset := f.interval * time.Duration(i) / time.Duration(len(devices))
		wg.Go(func() { errs[i] = f.device(ctx, d, offset) })
	}
	done := make(chan struct{})
	var progress sync.WaitGroup
	if cfg.Progress != nil {
		progress.Go(func() {
			tick := time.NewTicker(cfg.ProgressEvery)
			defer tick.Stop()
			for {
				select {
				case <-tick.C:
					cfg.Progress(f.tally.stats(time.Since(start)))
				case <-done:
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	progress.Wait()
	stats := f.tally.stats(time.Since(start))
	if err := errors.Join(errs...); err != nil {
		return stats, fmt.Errorf("run: %w", err)
	}
	return stats, nil
}

// fleet is what every device goroutine of one run shares.
type fleet struct {
	cfg      Config
	sender   Sender
	tally    *tally
	stop     <-chan struct{} // closed when the run's duration or ctx ends
	interval time.Duration
}

// device runs one device until its count is reached or the run stops.
func (f *fleet) device(ctx context.Context, d *Device, offset time.Duration) error {
	first := time.NewTimer(offset)
	select {
	case <-first.C:
	case <-f.stop:
		first.Stop()
		return nil
	}
	tick := time.NewTicker(f.interval)
	defer tick.Stop()
	for n := 0; f.cfg.Count == 0 || n < f.cfg.Count; n++ {
		if n > 0 {
			select {
			case <-tick.C:
			case <-f.stop:
				return nil
			}
		}
		// A tick and the stop can be ready together; the stop wins.
		select {
		case <-f.stop:
			return nil
		default:
		}
		m, err := d.Next()
		if err != nil {
			return fmt.Errorf("device %s: %w", d.ID(), err)
		}
		o := deliver(ctx, f.stop, f.sender, m, f.cfg.Attempts, f.cfg.Backoff)
		if o == acked {
			d.Ack(m)
		}
		f.tally.record(m, o)
	}
	return nil
}
