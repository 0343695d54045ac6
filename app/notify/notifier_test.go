package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/telemetry"
)

type invocation struct {
	Target    string                `json:"target"`
	Arguments [][]telemetry.Summary `json:"arguments"`
}

// recordingSender keeps every invocation; fail makes the next sends fail.
type recordingSender struct {
	mu   sync.Mutex
	got  []invocation
	at   []time.Time
	fail int
}

func (r *recordingSender) Send(_ context.Context, body []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail > 0 {
		r.fail--
		return errors.New("service unavailable")
	}
	var inv invocation
	if err := json.Unmarshal(body, &inv); err != nil {
		return err
	}
	r.got = append(r.got, inv)
	r.at = append(r.at, time.Now())
	return nil
}

func (r *recordingSender) snapshot() ([]invocation, []time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]invocation(nil), r.got...), append([]time.Time(nil), r.at...)
}

func run(t *testing.T, s Sender, perSecond int) *Notifier {
	t.Helper()
	n, err := New(s, perSecond, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = n.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return n
}

func dev(id string, count int64) telemetry.Summary {
	return telemetry.Summary{DeviceID: id, Count: count}
}

func TestSendsAreCoalescedToTheRateLimit(t *testing.T) {
	s := &recordingSender{}
	n := run(t, s, 10)
	began := time.Now()
	for i := range 2000 { // ~2000 commits in about a second
		n.Notify(context.Background(), []telemetry.Summary{dev(fmt.Sprintf("d%d", i%7), int64(i))})
		time.Sleep(500 * time.Microsecond)
	}
	elapsed := time.Since(began)
	require.Eventually(t, func() bool { got, _ := s.snapshot(); return len(got) > 0 && latest(got)["d4"] == 1999 }, 2*time.Second, 10*time.Millisecond)
	got, at := s.snapshot()
	maxSends := int(elapsed.Seconds()*10) + 2
	assert.LessOrEqual(t, len(got), maxSends, "at most 10 sends a second over %v", elapsed)
	for i := 1; i < len(at); i++ {
		assert.GreaterOrEqual(t, at[i].Sub(at[i-1]), 95*time.Millisecond, "send %d came too soon", i)
	}
	last := latest(got)
	for i := 1993; i < 2000; i++ {
		assert.Equal(t, int64(i), last[fmt.Sprintf("d%d", i%7)], "the latest state of each device wins")
	}
}

func TestIdleNotifierSendsAtOnceAndTargetsNewMessage(t *testing.T) {
	s := &recordingSender{}
	n := run(t, s, 1) // even at 1/s the first send does not wait
	began := time.Now()
	n.Notify(context.Background(), []telemetry.Summary{dev("a", 1), dev("b", 0)})
	require.Eventually(t, func() bool { got, _ := s.snapshot(); return len(got) == 1 }, time.Second, time.Millisecond)
	assert.Less(t, time.Since(began), 900*time.Millisecond, "well before the 1 s interval")
	got, _ := s.snapshot()
	assert.Equal(t, "newMessage", got[0].Target)
	require.Len(t, got[0].Arguments, 1, "one argument: the array of devices")
	assert.Len(t, got[0].Arguments[0], 2)
}

// gatedSender fails its first send, but only once the test lets it
// return: the test can change state while that send is in flight.
type gatedSender struct {
	recordingSender
	entered chan []telemetry.Summary // the devices of the first send, once it starts
	release chan struct{}            // closed by the test: the first send fails
	first   sync.Once
}

func (g *gatedSender) Send(ctx context.Context, body []byte) error {
	failed := false
	g.first.Do(func() {
		var inv invocation
		_ = json.Unmarshal(body, &inv)
		g.entered <- inv.Arguments[0]
		<-g.release
		failed = true
	})
	if failed {
		return errors.New("service unavailable")
	}
	return g.recordingSender.Send(ctx, body)
}

func TestFailedSendIsRetriedWithoutOverwritingNewerState(t *testing.T) {
	s := &gatedSender{entered: make(chan []telemetry.Summary, 1), release: make(chan struct{})}
	n := run(t, s, 20)
	n.Notify(context.Background(), []telemetry.Summary{dev("a", 1), dev("b", 1)})
	inFlight := <-s.entered
	require.Len(t, inFlight, 2, "a@1 and b@1 are being sent")
	// A newer state of a arrives while the send that carries a@1 is still
	// out; then that send fails.
	n.Notify(context.Background(), []telemetry.Summary{dev("a", 2)})
	close(s.release)

	require.Eventually(t, func() bool { got, _ := s.snapshot(); return len(latest(got)) == 2 }, time.Second, 5*time.Millisecond,
		"both devices are sent again: nothing is lost")
	time.Sleep(3 * 50 * time.Millisecond) // three more intervals: a requeued a@1 would have gone out by now
	got, _ := s.snapshot()
	for _, inv := range got {
		for _, d := range inv.Arguments[0] {
			if d.DeviceID == "a" {
				assert.Equal(t, int64(2), d.Count, "the failed a@1 never replaces the newer a@2")
			}
		}
	}
	last := latest(got)
	assert.Equal(t, int64(2), last["a"], "the newer state wins")
	assert.Equal(t, int64(1), last["b"], "the failed device was sent again")
	assert.Equal(t, int64(1), n.Failures())
	assert.Equal(t, int64(len(got)), n.Sends())
}

func TestLargeFleetsAreSplit(t *testing.T) {
	s := &recordingSender{}
	n := run(t, s, 100)
	var ds []telemetry.Summary
	for i := range 600 {
		ds = append(ds, dev(fmt.Sprintf("d%04d", i), 1))
	}
	n.Notify(context.Background(), ds)
	require.Eventually(t, func() bool { got, _ := s.snapshot(); return len(latest(got)) == 600 }, time.Second, 5*time.Millisecond)
	got, _ := s.snapshot()
	for _, inv := range got {
		assert.LessOrEqual(t, len(inv.Arguments[0]), maxDevicesPerSend)
	}
}

func TestNewRejectsZeroRate(t *testing.T) {
	_, err := New(&recordingSender{}, 0, slog.New(slog.DiscardHandler))
	assert.Error(t, err)
}

func latest(invs []invocation) map[string]int64 {
	out := map[string]int64{}
	for _, inv := range invs {
		for _, d := range inv.Arguments[0] {
			out[d.DeviceID] = d.Count
		}
	}
	return out
}

type ctxKey struct{}

// linkTracer records the callers of each span and marks its context.
type linkTracer struct {
	mu      sync.Mutex
	callers [][]context.Context
}

func (l *linkTracer) Start(ctx context.Context, _ string, callers []context.Context) (context.Context, func(error)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.callers = append(l.callers, callers)
	return context.WithValue(ctx, ctxKey{}, "send span"), func(error) {}
}

// ctxSender keeps the span mark of each send's context.
type ctxSender struct {
	mu    sync.Mutex
	marks []any
}

func (c *ctxSender) Send(ctx context.Context, _ []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.marks = append(c.marks, ctx.Value(ctxKey{}))
	return nil
}

func TestSendsAreTracedOnBehalfOfTheirCommits(t *testing.T) {
	tr, s := &linkTracer{}, &ctxSender{}
	n, err := New(s, 1, slog.New(slog.DiscardHandler), WithTracer(tr))
	require.NoError(t, err)
	commit := context.WithValue(context.Background(), ctxKey{}, "commit 1")
	n.Notify(commit, []telemetry.Summary{dev("a", 1)})
	n.flush(context.Background())

	tr.mu.Lock()
	defer tr.mu.Unlock()
	require.Len(t, tr.callers, 1)
	require.Len(t, tr.callers[0], 1)
	assert.Equal(t, "commit 1", tr.callers[0][0].Value(ctxKey{}), "the send's span links to the commit")
	s.mu.Lock()
	defer s.mu.Unlock()
	assert.Equal(t, []any{"send span"}, s.marks, "the binding is invoked in the send's span")
}
