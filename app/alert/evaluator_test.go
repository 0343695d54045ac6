package alert

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder is a Sender that keeps what it was sent.
type recorder struct {
	mu  sync.Mutex
	got []Alert
}

func (r *recorder) Send(_ context.Context, a Alert) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, a)
	return nil
}

func (r *recorder) all() []Alert {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Alert(nil), r.got...)
}

// clock is a settable now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func TestTwoReplicasDeliverEachTransitionOnce(t *testing.T) {
	ctx := t.Context()
	store := NewMemStore()
	c := &clock{t: t0}
	var replicas [2]*Evaluator
	var sent [2]*recorder
	for i := range replicas {
		sent[i] = &recorder{}
		replicas[i] = NewEvaluator(NewService(store, c.now), nil, slog.New(slog.DiscardHandler), sent[i])
	}
	_, err := replicas[0].svc.CreateRule(ctx, Rule{ID: "hot", Metric: Temperature, Above: f(30)})
	require.NoError(t, err)

	evaluateBoth := func(v float64) {
		d := Device{ID: "kitchen", Values: map[Metric]float64{Temperature: v}, LastSeen: c.now()}
		var wg sync.WaitGroup
		for _, e := range replicas {
			wg.Go(func() { assert.NoError(t, e.Evaluate(ctx, []Device{d})) })
		}
		wg.Wait()
	}
	for i, v := range []float64{35, 36, 20, 21, 40} {
		c.set(t0.Add(time.Duration(i) * time.Minute))
		evaluateBoth(v)
	}
	all := append(sent[0].all(), sent[1].all()...)
	var states []Phase
	for _, a := range all {
		states = append(states, a.State)
	}
	assert.ElementsMatch(t, []Phase{Firing, Cleared, Firing}, states, "each raise and clear delivered by one replica only")

	listed, err := replicas[1].svc.Alerts(ctx)
	require.NoError(t, err)
	require.Len(t, listed, 1)
	assert.Equal(t, Firing, listed[0].State)
	assert.Equal(t, 40.0, *listed[0].Value)
}

func TestConflictRereadsAndDeliversNothingTwice(t *testing.T) {
	ctx := t.Context()
	store := NewMemStore()
	rec := &recorder{}
	e := NewEvaluator(NewService(store, func() time.Time { return t0 }), nil, slog.New(slog.DiscardHandler), rec)
	_, err := e.svc.CreateRule(ctx, Rule{ID: "hot", Metric: Temperature, Above: f(30)})
	require.NoError(t, err)
	store.Conflicts = 3 // three racing writers first
	d := Device{ID: "kitchen", Values: map[Metric]float64{Temperature: 35}, LastSeen: t0}
	require.NoError(t, e.Evaluate(ctx, []Device{d}))
	require.NoError(t, e.Evaluate(ctx, []Device{d}))
	assert.Len(t, rec.all(), 1)
}

// pages is a Lister over fixed devices, sorted by id.
type pages []Device

func (p pages) DevicePage(_ context.Context, after string, limit int) ([]Device, string, error) {
	var out []Device
	for _, d := range p {
		if d.ID > after {
			out = append(out, d)
		}
	}
	if len(out) > limit {
		return out[:limit], out[limit-1].ID, nil
	}
	return out, "", nil
}

func TestSweepRaisesOfflineAndObserveClears(t *testing.T) {
	ctx := t.Context()
	store := NewMemStore()
	c := &clock{t: t0}
	rec := &recorder{}
	devices := pages{{ID: "a", LastSeen: t0}, {ID: "b", LastSeen: t0.Add(-time.Hour)}}
	e := NewEvaluator(NewService(store, c.now), devices, slog.New(slog.DiscardHandler), rec)
	_, err := e.svc.CreateRule(ctx, Rule{ID: "gone", OfflineFor: Duration(5 * time.Minute)})
	require.NoError(t, err)

	require.NoError(t, e.Sweep(ctx))
	got := rec.all()
	require.Len(t, got, 1)
	assert.Equal(t, "b", got[0].DeviceID)
	assert.Equal(t, Firing, got[0].State)

	c.set(t0.Add(time.Minute))
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- e.Run(runCtx) }()
	e.Observe([]Device{{ID: "b", LastSeen: c.now()}})
	assert.Eventually(t, func() bool { return len(rec.all()) == 2 }, 5*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	assert.Equal(t, Cleared, rec.all()[1].State)

	a, err := e.svc.Ack(ctx, "gone", "b")
	require.NoError(t, err)
	require.NotNil(t, a.AcknowledgedAt)
	_, err = e.svc.Ack(ctx, "gone", "a")
	assert.ErrorIs(t, err, ErrNotFound)
}
