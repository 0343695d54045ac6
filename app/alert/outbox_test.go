package alert

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// flaky is a Sender that refuses while down, and keeps what it took.
type flaky struct {
	recorder
	mu    sync.Mutex
	down  bool
	tries int
}

func (f *flaky) setDown(down bool) { f.mu.Lock(); f.down = down; f.mu.Unlock() }

func (f *flaky) Send(ctx context.Context, a Alert) error {
	f.mu.Lock()
	f.tries++
	down := f.down
	f.mu.Unlock()
	if down {
		return errors.New("webhook: 503")
	}
	return f.recorder.Send(ctx, a)
}

// pending is the outbox of rule and device as stored.
func pending(t *testing.T, e *Evaluator, rule, device string) []Alert {
	t.Helper()
	var st State
	_, err := e.svc.read(t.Context(), StateKey(rule, device), &st)
	require.NoError(t, err)
	return st.Outbox
}

func TestOutboxKeepsWhatTheBindingRefused(t *testing.T) {
	ctx := t.Context()
	store := NewMemStore()
	c := &clock{t: t0}
	hook := &flaky{down: true}
	live := &flaky{down: true}
	e := NewEvaluator(NewService(store, c.now), nil, slog.New(slog.DiscardHandler), hook, BestEffort{live})
	e.pause = time.Millisecond
	_, err := e.svc.CreateRule(ctx, Rule{ID: "hot", Metric: Temperature, Above: f(30)})
	require.NoError(t, err)
	hot := func(v float64) Device {
		return Device{ID: "kitchen", Values: map[Metric]float64{Temperature: v}, LastSeen: c.now()}
	}

	// Raised and cleared while the webhook is down: both kept, in order.
	require.NoError(t, e.Evaluate(ctx, []Device{hot(35)}))
	c.set(t0.Add(10 * time.Second))
	require.NoError(t, e.Evaluate(ctx, []Device{hot(20)}))
	assert.Empty(t, hook.all())
	kept := pending(t, e, "hot", "kitchen")
	require.Len(t, kept, 2)
	assert.Equal(t, []Phase{Firing, Cleared}, []Phase{kept[0].State, kept[1].State})

	// Before the lease runs out, an evaluation does not try again.
	tries := hook.tries
	c.set(t0.Add(30 * time.Second))
	hook.setDown(false)
	require.NoError(t, e.Evaluate(ctx, []Device{hot(20)}))
	assert.Equal(t, tries, hook.tries, "no retry inside the lease")

	// After it, both go out, oldest first, and the outbox empties.
	c.set(t0.Add(10*time.Second + deliveryLease))
	require.NoError(t, e.Evaluate(ctx, []Device{hot(20)}))
	got := hook.all()
	require.Len(t, got, 2)
	assert.Equal(t, []Phase{Firing, Cleared}, []Phase{got[0].State, got[1].State})
	assert.Empty(t, pending(t, e, "hot", "kitchen"))

	// Nothing is sent again, and the live feed's failures kept nothing.
	c.set(t0.Add(time.Hour))
	require.NoError(t, e.Evaluate(ctx, []Device{hot(20)}))
	assert.Len(t, hook.all(), 2)
	assert.Empty(t, live.all(), "the live feed was down throughout")
}

func TestOutboxTakenOverFromACrashedReplica(t *testing.T) {
	ctx := t.Context()
	store := NewMemStore()
	c := &clock{t: t0}
	crashed := &flaky{down: true} // the replica that won the write dies before sending
	survivor := &flaky{}
	a := NewEvaluator(NewService(store, c.now), nil, slog.New(slog.DiscardHandler), crashed)
	b := NewEvaluator(NewService(store, c.now), nil, slog.New(slog.DiscardHandler), survivor)
	_, err := a.svc.CreateRule(ctx, Rule{ID: "hot", Metric: Temperature, Above: f(30)})
	require.NoError(t, err)
	d := Device{ID: "kitchen", Values: map[Metric]float64{Temperature: 35}, LastSeen: t0}

	require.NoError(t, a.Evaluate(ctx, []Device{d}))
	require.NoError(t, b.Evaluate(ctx, []Device{d}))
	assert.Empty(t, survivor.all(), "the other replica holds the lease")

	c.set(t0.Add(deliveryLease))
	require.NoError(t, b.Evaluate(ctx, []Device{d}))
	got := survivor.all()
	require.Len(t, got, 1, "taken over once the lease ran out")
	assert.Equal(t, Firing, got[0].State)
	require.NoError(t, b.Evaluate(ctx, []Device{d}))
	assert.Len(t, survivor.all(), 1)
}

func TestOutboxIsBounded(t *testing.T) {
	ctx := t.Context()
	c := &clock{t: t0}
	hook := &flaky{down: true}
	e := NewEvaluator(NewService(NewMemStore(), c.now), nil, slog.New(slog.DiscardHandler), hook)
	e.pause = time.Millisecond
	_, err := e.svc.CreateRule(ctx, Rule{ID: "hot", Metric: Temperature, Above: f(30)})
	require.NoError(t, err)
	for i := range 2 * maxOutbox {
		c.set(t0.Add(time.Duration(i) * time.Second))
		v := 35.0
		if i%2 == 1 {
			v = 20
		}
		require.NoError(t, e.Evaluate(ctx, []Device{{ID: "kitchen", Values: map[Metric]float64{Temperature: v}, LastSeen: c.now()}}))
	}
	kept := pending(t, e, "hot", "kitchen")
	require.Len(t, kept, maxOutbox)
	assert.Equal(t, t0.Add(time.Duration(maxOutbox)*time.Second), kept[0].Since, "the oldest were dropped")
}
