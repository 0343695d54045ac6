package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/telemetry"
)

// start runs a processor over store until the test ends.
func start(t *testing.T, store Store, cfg Config, opts ...Option) *Processor {
	t.Helper()
	p, err := New(store, cfg, opts...)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return p
}

func process(t *testing.T, p *Processor, payload string, meta ...string) error {
	t.Helper()
	m := Message{Payload: []byte(payload)}
	if len(meta) > 0 {
		m.DeviceID = meta[0]
	}
	if len(meta) > 1 {
		m.MessageID = meta[1]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := p.Process(ctx, m)
	return err
}

func device(t *testing.T, p *Processor, id string) telemetry.Summary {
	t.Helper()
	d, err := p.Device(context.Background(), id)
	require.NoError(t, err)
	return d
}

func TestProcessCountsValidRejectsInvalidAndIgnoresRepeats(t *testing.T) {
	p := start(t, newMemStore(), Config{})
	msgs := []string{
		`{"deviceId":"d1","messageId":"m1","temperature":21.5,"humidity":40,"pressure":1000}`,
		`{"deviceId":"d1","messageId":"m1","temperature":21.5,"humidity":40,"pressure":1000}`, // redelivered
		`{"deviceId":"d1","messageId":"m2","temperature":0}`,
		`{"deviceId":"d1","messageId":"m3","temperature":999}`,
		`{"deviceId":"d1","messageId":"m3","temperature":999}`, // redelivered invalid
		`{"messageId":"m4","temperature":20}`,                  // no device
		`not json`,
	}
	for _, m := range msgs {
		require.NoError(t, process(t, p, m), m)
	}
	d := device(t, p, "d1")
	assert.Equal(t, int64(2), d.Count)
	assert.Equal(t, int64(1), d.Rejected)
	assert.Contains(t, d.LastRejection, "temperature 999")
	require.NotNil(t, d.Temperature)
	assert.Equal(t, 0.0, *d.Temperature, "0 °C is a reading")

	rejected, err := p.Rejected(context.Background())
	require.NoError(t, err)
	assert.Len(t, rejected, 3, "m3 once, the device-less reading, the garbage payload")

	s := p.Metrics().Snapshot()
	assert.Equal(t, int64(2), s.Accepted)
	assert.Equal(t, int64(3), s.Rejected)
	assert.Equal(t, int64(2), s.Duplicates)
}

func TestProcessTransportIdentity(t *testing.T) {
	tests := []struct {
		name, payload, transportID, msgID string
		wantDevice                        string
		wantCount, wantRejected           int64
	}{
		{"transport id fills a missing payload id", `{"temperature":20}`, "dev-a", "t1", "dev-a", 1, 0},
		{"matching ids", `{"deviceId":"dev-b","temperature":20}`, "dev-b", "t2", "dev-b", 1, 0},
		{"a payload posing as another device is rejected on the real one", `{"deviceId":"victim","temperature":20}`, "dev-c", "t3", "dev-c", 0, 1},
		{"garbage from a known device is counted on it", `{{{`, "dev-d", "t4", "dev-d", 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := start(t, newMemStore(), Config{})
			require.NoError(t, process(t, p, tt.payload, tt.transportID, tt.msgID))
			require.NoError(t, process(t, p, tt.payload, tt.transportID, tt.msgID), "redelivery")
			d := device(t, p, tt.wantDevice)
			assert.Equal(t, tt.wantCount, d.Count)
			assert.Equal(t, tt.wantRejected, d.Rejected)
			_, err := p.Device(context.Background(), "victim")
			assert.ErrorIs(t, err, ErrNotFound)
		})
	}
}

func TestTruncatedPayloadIsARejectionNotARedelivery(t *testing.T) {
	p := start(t, newMemStore(), Config{})
	res, err := p.Process(context.Background(), Message{Payload: []byte(`{"deviceId":"d1","temp`), DeviceID: "d1", MessageID: "big-1", Truncated: true})
	require.NoError(t, err, "acknowledged: redelivering would not make it smaller")
	assert.Equal(t, 1, res.Rejected)
	assert.Contains(t, res.Reasons[0], "larger than the transport's limit")
	assert.Equal(t, int64(1), device(t, p, "d1").Rejected)
}

func TestProcessArrayUsesTransportIDPerItem(t *testing.T) {
	p := start(t, newMemStore(), Config{})
	batch := `[{"deviceId":"d1","temperature":1},{"deviceId":"d1","temperature":2},{"deviceId":"d2","Celsius":3}]`
	require.NoError(t, process(t, p, batch, "", "seq-7"))
	require.NoError(t, process(t, p, batch, "", "seq-7"))
	assert.Equal(t, int64(2), device(t, p, "d1").Count)
	assert.Equal(t, int64(1), device(t, p, "d2").Count)
	all, _, err := p.DevicePage(context.Background(), "", 10)
	require.NoError(t, err)
	require.Len(t, all, 2)
	assert.Equal(t, "d1", all[0].DeviceID)
	assert.Equal(t, 2.0, *all[0].Temperature, "the latest reading of the batch wins")
}

func TestCalibrationAppliesBeforeValidation(t *testing.T) {
	p := start(t, newMemStore(), Config{})
	ctx := context.Background()
	two, minus100 := 2.0, -100.0
	require.NoError(t, p.SetCalibration(ctx, "d1", telemetry.Calibration{TemperatureSlope: &two, TemperatureYIntercept: &minus100}))
	// raw 90 is out of range, calibrated 80 is in range
	require.NoError(t, process(t, p, `{"deviceId":"d1","messageId":"a","temperature":90}`))
	d := device(t, p, "d1")
	assert.Equal(t, int64(1), d.Count)
	assert.Equal(t, 80.0, *d.Temperature)
	assert.Equal(t, 90.0, *d.Raw.Temperature)

	require.NoError(t, p.DeleteCalibration(ctx, "d1"))
	require.NoError(t, process(t, p, `{"deviceId":"d1","messageId":"b","temperature":90}`))
	assert.Equal(t, int64(1), device(t, p, "d1").Rejected, "without calibration 90 °C is out of range")
	_, err := p.Calibration(ctx, "d1")
	assert.ErrorIs(t, err, ErrNotFound)

	nan := telemetryNaN()
	assert.ErrorIs(t, p.SetCalibration(ctx, "d1", telemetry.Calibration{HumiditySlope: &nan}), telemetry.ErrCalibration)
}

func TestConflictsAreRetriedThenSurface(t *testing.T) {
	fast := Retry{Attempts: 5, Base: time.Millisecond, Max: 4 * time.Millisecond}
	tests := []struct {
		name       string
		conflicts  int
		wantErr    error
		wantCount  int64
		wantWrites int64
	}{
		{"two conflicts then success", 2, nil, 1, 3},
		{"one short of the budget", 4, nil, 1, 5},
		{"always conflicting", -1, ErrRetriesExhausted, 0, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newMemStore()
			p := start(t, store, Config{Retry: fast})
			// index the device first so only the device write sees conflicts
			require.Empty(t, p.index.ensure(context.Background(), []string{"d1"}))
			store.mu.Lock()
			store.conflicts = tt.conflicts
			store.mu.Unlock()
			writes := store.sets.Load()

			err := process(t, p, `{"deviceId":"d1","messageId":"m","temperature":20}`)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.ErrorIs(t, err, ErrConflict)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tt.wantWrites, store.sets.Load()-writes, "writes")
			store.mu.Lock()
			store.conflicts = 0
			store.mu.Unlock()
			got, err := p.Device(context.Background(), "d1")
			if tt.wantCount == 0 {
				assert.ErrorIs(t, err, ErrNotFound)
			} else {
				require.NoError(t, err)
				assert.Equal(t, tt.wantCount, got.Count)
			}
		})
	}
}

func TestOtherErrorsAreNotRetried(t *testing.T) {
	store := newMemStore()
	p := start(t, store, Config{Retry: Retry{Attempts: 5, Base: time.Millisecond, Max: time.Millisecond}})
	require.Empty(t, p.index.ensure(context.Background(), []string{"d1"}))
	boom := errors.New("disk full")
	store.mu.Lock()
	store.setErr = boom
	store.mu.Unlock()
	writes := store.sets.Load()
	err := process(t, p, `{"deviceId":"d1","temperature":20}`)
	require.ErrorIs(t, err, boom)
	assert.NotErrorIs(t, err, ErrConflict)
	assert.Equal(t, int64(1), store.sets.Load()-writes, "a failed write that is not a conflict is not retried")
	assert.Equal(t, int64(1), p.Metrics().Failed.Load())
}

func TestBackoffHonoursCancellation(t *testing.T) {
	store := newMemStore()
	store.conflicts = -1
	p := start(t, store, Config{Retry: Retry{Attempts: 100, Base: time.Second, Max: time.Minute}})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err := p.Process(ctx, Message{Payload: []byte(`{"deviceId":"d1","temperature":20}`)})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(began), 2*time.Second)
}

func TestBackoffIsBoundedAndJittered(t *testing.T) {
	r := DefaultRetry()
	for n := 1; n <= 12; n++ {
		d := r.backoff(n)
		want := min(r.Base<<(n-1), r.Max)
		assert.GreaterOrEqual(t, d, want/2, "retry %d", n)
		assert.LessOrEqual(t, d, want, "retry %d", n)
	}
	seen := map[time.Duration]bool{}
	for range 20 {
		seen[r.backoff(3)] = true
	}
	assert.Greater(t, len(seen), 1, "jittered")
}

func TestGroupCommitBatchesConcurrentCallers(t *testing.T) {
	store := newMemStore()
	p := start(t, store, Config{Window: 20 * time.Millisecond})
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- process(t, p, fmt.Sprintf(`{"deviceId":"d%d","messageId":"m%d","humidity":50}`, i%5, i))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	var total int64
	for i := range 5 {
		total += device(t, p, fmt.Sprintf("d%d", i)).Count
	}
	assert.Equal(t, int64(n), total)
	s := p.Metrics().Snapshot()
	assert.Less(t, s.Flushes, int64(n/4), "callers share commits")
	assert.Less(t, s.Writes, int64(n/2), "one write per device per commit, not per message")
}

type recorder struct {
	mu  sync.Mutex
	got [][]telemetry.Summary
}

func (r *recorder) Notify(_ context.Context, ds []telemetry.Summary) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, ds)
}

func TestNotifierGetsCommittedDevicesOncePerFlush(t *testing.T) {
	rec := &recorder{}
	p := start(t, newMemStore(), Config{}, WithNotifier(rec))
	require.NoError(t, process(t, p, `[{"deviceId":"d1","messageId":"1","temperature":1},{"deviceId":"d1","messageId":"2","temperature":2}]`))
	require.NoError(t, process(t, p, `[{"deviceId":"d1","messageId":"1","temperature":1}]`)) // duplicate: nothing changed
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Len(t, rec.got, 1)
	require.Len(t, rec.got[0], 1)
	assert.Equal(t, int64(2), rec.got[0][0].Count)
	assert.Equal(t, 2.0, *rec.got[0][0].Temperature)
}

func TestStoppedProcessorRefuses(t *testing.T) {
	p, err := New(newMemStore(), Config{})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(ctx) }()
	cancel()
	<-done
	_, err = p.Process(context.Background(), Message{Payload: []byte(`{"deviceId":"d","temperature":1}`)})
	assert.ErrorIs(t, err, ErrStopped)
}

func TestBatchWritesAndTheirConflicts(t *testing.T) {
	store := &batchMemStore{memStore: newMemStore()}
	p := start(t, store, Config{Window: 20 * time.Millisecond, Lanes: 1})
	require.Empty(t, p.index.ensure(context.Background(), []string{"a", "b", "c"}))

	feed := func(round int) {
		var wg sync.WaitGroup
		for _, id := range []string{"a", "b", "c"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				assert.NoError(t, process(t, p, fmt.Sprintf(`{"deviceId":%q,"messageId":"%d","humidity":1}`, id, round)))
			}()
		}
		wg.Wait()
	}
	feed(1)
	s := p.Metrics().Snapshot()
	assert.Positive(t, store.batches.Load(), "devices of one commit are written in one transaction")
	assert.Less(t, s.Transactions, s.Writes, "fewer transactions than keys written")

	// The batch of round 2 conflicts once: single writes then commit each key.
	store.mu.Lock()
	store.conflicts = 1
	store.mu.Unlock()
	feed(2)
	for _, id := range []string{"a", "b", "c"} {
		assert.Equal(t, int64(2), device(t, p, id).Count, id)
	}
	assert.Equal(t, int64(1), p.Metrics().Snapshot().BatchConflicts)
}

// TestCalibrationCacheExpires shows what another replica's calibration
// change looks like here: the cached record is used until its TTL passes,
// then the stored one is read again.
func TestCalibrationCacheExpires(t *testing.T) {
	store := newMemStore()
	var mu sync.Mutex
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	p := start(t, store, Config{CalibrationTTL: 30 * time.Second}, WithClock(clock))
	ctx := context.Background()
	one, ten, twenty := 1.0, 10.0, 20.0
	require.NoError(t, p.SetCalibration(ctx, "d1", telemetry.Calibration{TemperatureSlope: &one, TemperatureYIntercept: &ten}))
	require.NoError(t, process(t, p, `{"deviceId":"d1","messageId":"1","temperature":5}`))
	assert.Equal(t, 15.0, *device(t, p, "d1").Temperature)

	// Another replica changes the record in the store.
	other, err := New(store, Config{})
	require.NoError(t, err)
	require.NoError(t, other.cals.put(ctx, "d1", telemetry.Calibration{TemperatureSlope: &one, TemperatureYIntercept: &twenty}))

	require.NoError(t, process(t, p, `{"deviceId":"d1","messageId":"2","temperature":5}`))
	assert.Equal(t, 15.0, *device(t, p, "d1").Temperature, "within the TTL the cached record is used")

	mu.Lock()
	now = now.Add(31 * time.Second)
	mu.Unlock()
	require.NoError(t, process(t, p, `{"deviceId":"d1","messageId":"3","temperature":5}`))
	assert.Equal(t, 25.0, *device(t, p, "d1").Temperature, "after the TTL the stored record is read again")
}

func TestDevicePage(t *testing.T) {
	p := start(t, newMemStore(), Config{})
	ids := []string{"d5", "d1", "d3", "d2", "d4"}
	for i, id := range ids {
		require.NoError(t, process(t, p, fmt.Sprintf(`{"deviceId":%q,"temperature":%d}`, id, i), "", "m-"+id))
	}
	tests := []struct {
		name     string
		limit    int
		wantSeen [][]string // ids per page
	}{
		{"pages of two", 2, [][]string{{"d1", "d2"}, {"d3", "d4"}, {"d5"}}},
		{"a page that ends exactly at the last device", 5, [][]string{{"d1", "d2", "d3", "d4", "d5"}}},
		{"one page", 100, [][]string{{"d1", "d2", "d3", "d4", "d5"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen [][]string
			after := ""
			for range 10 {
				page, next, err := p.DevicePage(context.Background(), after, tt.limit)
				require.NoError(t, err)
				var got []string
				for _, d := range page {
					got = append(got, d.DeviceID)
				}
				seen = append(seen, got)
				if next == "" {
					break
				}
				after = next
			}
			assert.Equal(t, tt.wantSeen, seen)
		})
	}
	page, next, err := p.DevicePage(context.Background(), "d9", 2)
	require.NoError(t, err)
	assert.Empty(t, page, "after the last id")
	assert.Empty(t, next)
}

func TestFleet(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	p := start(t, newMemStore(), Config{}, WithClock(clock))
	for i, id := range []string{"a", "b", "c"} {
		require.NoError(t, process(t, p, fmt.Sprintf(`{"deviceId":%q,"temperature":%d}`, id, i), "", "m-"+id))
	}
	require.NoError(t, process(t, p, `{"deviceId":"c","temperature":500}`, "", "m-c-bad"))

	f, err := p.Fleet(context.Background(), time.Minute)
	require.NoError(t, err)
	assert.Equal(t, telemetry.Fleet{Devices: 3, Online: 3, Messages: 3, Rejected: 1, LastSeen: now}, f)

	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	f, err = p.Fleet(context.Background(), time.Minute)
	require.NoError(t, err)
	assert.Equal(t, 0, f.Online)
	assert.Equal(t, 3, f.Offline)
}
