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
		n.Notify([]telemetry.Summary{dev(fmt.Sprintf("d%d", i%7), int64(i))})
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
	n.Notify([]telemetry.Summary{dev("a", 1), dev("b", 0)})
	require.Eventually(t, func() bool { got, _ := s.snapshot(); return len(got) == 1 }, time.Second, time.Millisecond)
	assert.Less(t, time.Since(began), 900*time.Millisecond, "well before the 1 s interval")
	got, _ := s.snapshot()
	assert.Equal(t, "newMessage", got[0].Target)
	require.Len(t, got[0].Arguments, 1, "one argument: the array of devices")
	assert.Len(t, got[0].Arguments[0], 2)
}

func TestFailedSendIsRetriedWithoutOverwritingNewerState(t *testing.T) {
	s := &recordingSender{fail: 1}
	n := run(t, s, 20)
	n.Notify([]telemetry.Summary{dev("a", 1), dev("b", 1)})
	time.Sleep(10 * time.Millisecond) // the first send fails
	n.Notify([]telemetry.Summary{dev("a", 2)})
	require.Eventually(t, func() bool { got, _ := s.snapshot(); return len(got) >= 1 }, time.Second, 5*time.Millisecond)
	got, _ := s.snapshot()
	last := latest(got)
	assert.Equal(t, int64(2), last["a"], "the failed older state did not replace the newer one")
	assert.Equal(t, int64(1), last["b"], "the failed device was sent again")
	assert.Equal(t, int64(1), n.Failures())
}

func TestLargeFleetsAreSplit(t *testing.T) {
	s := &recordingSender{}
	n := run(t, s, 100)
	var ds []telemetry.Summary
	for i := range 600 {
		ds = append(ds, dev(fmt.Sprintf("d%04d", i), 1))
	}
	n.Notify(ds)
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
