package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/telemetry"
)

// histNow is the tests' clock: 12:30 UTC.
var histNow = time.Date(2025, 3, 10, 12, 30, 0, 0, time.UTC)

func historyConfig() Config {
	return Config{HistoryMinutes: 48 * time.Hour, HistoryHours: 30 * 24 * time.Hour, Window: 20 * time.Millisecond, Lanes: 1,
		Retry: Retry{Attempts: 5, Base: time.Millisecond, Max: 2 * time.Millisecond}}
}

// send processes one message of device d at histNow+off.
func send(t *testing.T, p *Processor, d, id string, off time.Duration, payload string) {
	t.Helper()
	_, err := p.Process(context.Background(), Message{EnqueuedAt: histNow.Add(off),
		Payload: fmt.Appendf(nil, `{"deviceId":%q,"messageId":%q,%s}`, d, id, payload)})
	require.NoError(t, err)
}

// hourRecord is device d's history for the hour holding at, as a query
// sees it: its hour record merged with the minutes its device record
// still holds. ok is false when neither has anything for the hour.
func hourRecord(t *testing.T, s Store, d string, at time.Time) (telemetry.HourRecord, bool) {
	t.Helper()
	k, dk := telemetry.HistoryKey(d, at), telemetry.DeviceKey(d)
	got, err := s.BulkGet(context.Background(), []string{k, dk})
	require.NoError(t, err)
	var r telemetry.HourRecord
	e, ok := got[k]
	if ok {
		require.NoError(t, json.Unmarshal(e.Value, &r))
	}
	var dev telemetry.Device
	if e, found := got[dk]; found {
		require.NoError(t, json.Unmarshal(e.Value, &dev))
	}
	hour := telemetry.HourOf(at)
	for _, m := range dev.Pending {
		if telemetry.HourOf(m.Start).Equal(hour) {
			r.AddMinute(m, true)
			ok = true
		}
	}
	return r, ok
}

func temperatureN(t *testing.T, s Store, d string, at time.Time) int64 {
	t.Helper()
	r, _ := hourRecord(t, s, d, at)
	if sr := r.Metrics[telemetry.Temperature]; sr != nil {
		return sr.Hour.N
	}
	return 0
}

func TestHistoryCountsAcceptedReadingsOnly(t *testing.T) {
	for _, batch := range []bool{false, true} {
		t.Run(fmt.Sprintf("transactions %v", batch), func(t *testing.T) {
			mem := newMemStore()
			var store Store = mem
			if batch {
				store = &batchMemStore{memStore: mem}
			}
			p := start(t, store, historyConfig(), WithClock(func() time.Time { return histNow }))
			send(t, p, "d1", "m1", 0, `"temperature":20`)
			send(t, p, "d1", "m1", 0, `"temperature":20`)  // redelivered
			send(t, p, "d1", "m2", 0, `"temperature":999`) // rejected
			send(t, p, "d1", "m3", 0, `"temperature":22`)

			send(t, p, "d1", "m3", 0, `"temperature":22`) // redelivered
			// A new reading whose first write conflicts is counted once:
			// the retry's outcome, not both attempts'. (A redelivery racing
			// its original: TestHistoryFollowsTheOutcomesCommitted.)
			mem.mu.Lock()
			mem.conflicts = 1
			mem.mu.Unlock()
			send(t, p, "d1", "m4", time.Second, `"temperature":24`)

			assert.Equal(t, int64(3), device(t, p, "d1").Count)
			r, ok := hourRecord(t, store, "d1", histNow)
			require.True(t, ok)
			temp := r.Metrics[telemetry.Temperature]
			require.NotNil(t, temp)
			assert.Equal(t, telemetry.Bucket{N: 3, Min: 20, Max: 24, Sum: 66}, temp.Hour)
			assert.Equal(t, map[int]telemetry.Bucket{30: {N: 3, Min: 20, Max: 24, Sum: 66}}, temp.Minutes)
		})
	}
}

// raceStore lets another replica commit between a commit's read and its
// write: race runs once, after the first bulk read that holds key.
type raceStore struct {
	Store
	key  string
	once sync.Once
	race func()
}

func (r *raceStore) BulkGet(ctx context.Context, keys []string) (map[string]Entry, error) {
	got, err := r.Store.BulkGet(ctx, keys)
	for _, k := range keys {
		if k == r.key {
			r.once.Do(r.race)
		}
	}
	return got, err
}

// raceBatchStore is a raceStore over a store with transactions.
type raceBatchStore struct {
	*raceStore
	batch BatchStore
}

func (r raceBatchStore) SetBatch(ctx context.Context, items []Write) error {
	return r.batch.SetBatch(ctx, items)
}

// TestHistoryFollowsTheOutcomesCommitted: replica A reads d1's record, B
// commits the same message meanwhile, A's write conflicts; re-applied, the
// message is a duplicate for A. History must count it once, by B: A's
// history write, computed from its first (stale) outcome, must never land.
// B's copy arrived with another time (a transport that gives none: the
// receive time), so it lands in another hour's record, and no ETag on A's
// history record would catch the double count.
func TestHistoryFollowsTheOutcomesCommitted(t *testing.T) {
	for _, batch := range []bool{false, true} {
		t.Run(fmt.Sprintf("transactions %v", batch), func(t *testing.T) {
			var shared Store = newMemStore()
			if batch {
				shared = &batchMemStore{memStore: shared.(*memStore)}
			}
			clock := WithClock(func() time.Time { return histNow })
			b := start(t, shared, historyConfig(), clock)
			send(t, b, "d1", "m0", 0, `"temperature":10`) // indexes d1 for both
			race := &raceStore{Store: shared, key: telemetry.DeviceKey("d1"), race: func() {
				send(t, b, "d1", "m1", -time.Hour, `"temperature":20`)
			}}
			var aStore Store = race
			if batch {
				aStore = raceBatchStore{race, shared.(BatchStore)}
			}
			a := start(t, aStore, historyConfig(), clock)
			send(t, a, "d1", "m1", 0, `"temperature":20`)

			assert.Equal(t, int64(2), device(t, a, "d1").Count)
			assert.Equal(t, int64(1), temperatureN(t, shared, "d1", histNow), "m0 only: m1 is B's")
			assert.Equal(t, int64(1), temperatureN(t, shared, "d1", histNow.Add(-time.Hour)), "m1, by B")
			assert.Positive(t, a.Metrics().Snapshot().Conflicts+a.Metrics().Snapshot().BatchConflicts)
		})
	}
}

// TestHistoryConflictAloneIsRetried: another writer changes only the
// history record between read and write; the device record commits, and
// the history record is re-read and re-applied with the outcomes committed.
func TestHistoryConflictAloneIsRetried(t *testing.T) {
	mem := newMemStore()
	p := start(t, mem, historyConfig(), WithClock(func() time.Time { return histNow }))
	send(t, p, "d1", "m0", 0, `"temperature":10`)
	hk := telemetry.HistoryKey("d1", histNow)
	racer := &raceStore{Store: mem, key: hk, race: func() {
		got, _ := mem.BulkGet(context.Background(), []string{hk})
		var r telemetry.HourRecord
		if e, ok := got[hk]; ok {
			require.NoError(t, json.Unmarshal(e.Value, &r))
		}
		r.Add(telemetry.Input{At: histNow, Calibrated: telemetry.Reading{Temperature: new(30.0)}}, true)
		next, _ := json.Marshal(r)
		require.NoError(t, mem.Set(context.Background(), hk, next, got[hk].ETag))
	}}
	p.commit.store = racer
	// A minute later: m0's minute moves into the hour record the racer writes.
	send(t, p, "d1", "m1", time.Minute, `"temperature":20`)
	assert.Equal(t, int64(2), device(t, p, "d1").Count)
	assert.Equal(t, int64(3), temperatureN(t, mem, "d1", histNow), "m0, the other writer's, m1")
	assert.Zero(t, p.Metrics().Snapshot().HistoryFailed)
}

// TestHistoryCostsOneWritePerDevicePerCommit counts the store's writes of
// commits of several devices, with history on and off. Readings of the
// minute in progress stay in the device records, which are written anyway:
// no extra write. A commit in a later minute moves each device's finished
// minute into its hour record: one extra write per device, in the same
// transaction.
func TestHistoryCostsOneWritePerDevicePerCommit(t *testing.T) {
	tests := []struct {
		name      string
		payload   string
		wantExtra int64 // by the commit of the next minute
	}{
		{"accepted readings", `[{"deviceId":"a","temperature":1},{"deviceId":"a","temperature":2},{"deviceId":"b","humidity":3},{"deviceId":"c","pressure":1000}]`, 3},
		{"only rejections", `[{"deviceId":"a","temperature":999},{"deviceId":"b","humidity":300},{"deviceId":"c","pressure":1}]`, 0},
	}
	type cost struct{ writes, calls int64 }
	// commit sends payload twice, a minute apart, and returns the keys
	// written and the store's write calls (Set, SetBatch) of each commit.
	commit := func(t *testing.T, cfg Config, batch bool, payload string) (first, next cost) {
		mem := newMemStore()
		var store Store = mem
		bs := &batchMemStore{memStore: mem}
		if batch {
			store = bs
		}
		var mu sync.Mutex
		now := histNow
		p := start(t, store, cfg, WithClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now }))
		require.Empty(t, p.index.ensure(context.Background(), []string{"a", "b", "c"}))
		one := func(id string) cost {
			sets, batches, before := mem.sets.Load(), bs.batches.Load(), p.Metrics().Snapshot()
			_, err := p.Process(context.Background(), Message{Payload: []byte(payload), MessageID: id})
			require.NoError(t, err)
			after := p.Metrics().Snapshot()
			require.Equal(t, int64(1), after.Flushes-before.Flushes, "one commit")
			return cost{after.Writes - before.Writes, mem.sets.Load() - sets + bs.batches.Load() - batches}
		}
		first = one("x")
		mu.Lock()
		now = now.Add(time.Minute)
		mu.Unlock()
		return first, one("y")
	}
	off := historyConfig()
	off.HistoryMinutes, off.HistoryHours = 0, 0
	for _, tt := range tests {
		for _, batch := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, transactions %v", tt.name, batch), func(t *testing.T) {
				firstOff, nextOff := commit(t, off, batch, tt.payload)
				firstOn, nextOn := commit(t, historyConfig(), batch, tt.payload)
				assert.Equal(t, firstOff, firstOn, "the minute in progress costs no write")
				assert.Equal(t, tt.wantExtra, nextOn.writes-nextOff.writes, "keys written by the next minute's commit")
				if batch {
					assert.Equal(t, nextOff.calls, nextOn.calls, "history goes in the same transaction")
				} else {
					assert.Equal(t, tt.wantExtra, nextOn.calls-nextOff.calls, "one Set per device")
				}
			})
		}
	}
}

func TestHistoryOfReadingsSpanningTwoHours(t *testing.T) {
	mem := newMemStore()
	p := start(t, mem, historyConfig(), WithClock(func() time.Time { return histNow }))
	require.Empty(t, p.index.ensure(context.Background(), []string{"d1"}))
	before := p.Metrics().Snapshot()
	var wg sync.WaitGroup
	for i, off := range []time.Duration{-31 * time.Minute, -30 * time.Minute, -29 * time.Minute} { // 11:59, 12:00, 12:01
		wg.Go(func() { send(t, p, "d1", fmt.Sprint("m", i), off, fmt.Sprintf(`"temperature":%d`, i)) })
	}
	wg.Wait()
	after := p.Metrics().Snapshot()
	if after.Flushes-before.Flushes == 1 {
		assert.Equal(t, int64(3), after.Writes-before.Writes, "the device and two hours")
	}
	assert.Equal(t, int64(1), temperatureN(t, mem, "d1", histNow.Add(-time.Hour)))
	assert.Equal(t, int64(2), temperatureN(t, mem, "d1", histNow))

	pts, err := p.History(context.Background(), "d1", telemetry.Temperature, histNow.Add(-time.Hour), histNow, time.Minute)
	require.NoError(t, err)
	require.Len(t, pts, 3)
	assert.Equal(t, histNow.Add(-31*time.Minute), pts[0].T)
	assert.Equal(t, histNow.Add(-29*time.Minute), pts[2].T)
}

func TestHistorySweepExpiresAndTrims(t *testing.T) {
	mem := newMemStore()
	now := histNow
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	cfg := historyConfig()
	cfg.HistoryMinutes, cfg.HistoryHours = 2*time.Hour, 5*time.Hour
	p := start(t, mem, cfg, WithClock(clock))
	for h := range 5 { // 08:xx to 12:xx
		send(t, p, "d1", fmt.Sprint("m", h), -time.Duration(h)*time.Hour, `"temperature":20`)
	}
	var s sweepState
	require.NoError(t, p.sweep(context.Background(), &s))
	for h := range 5 {
		r, ok := hourRecord(t, mem, "d1", histNow.Add(-time.Duration(h)*time.Hour))
		require.True(t, ok, "hour -%d is within 5 h", h)
		// minute detail is kept while the hour ends after now-2h (10:30)
		assert.Equal(t, h < 3, r.Metrics[telemetry.Temperature].Minutes != nil, "minutes of hour -%d", h)
		assert.Equal(t, int64(1), r.Metrics[telemetry.Temperature].Hour.N)
	}

	mu.Lock()
	now = now.Add(2 * time.Hour) // 14:30: 08:00 ended before 09:30 and expires
	mu.Unlock()
	require.NoError(t, p.sweep(context.Background(), &s))
	for h := range 5 {
		_, ok := hourRecord(t, mem, "d1", histNow.Add(-time.Duration(h)*time.Hour))
		assert.Equal(t, h < 4, ok, "hour -%d", h)
	}
	r, _ := hourRecord(t, mem, "d1", histNow.Add(-time.Hour))
	assert.Nil(t, r.Metrics[telemetry.Temperature].Minutes, "11:00 ended before 12:30: minutes dropped")
	r, _ = hourRecord(t, mem, "d1", histNow)
	assert.NotNil(t, r.Metrics[telemetry.Temperature].Minutes, "12:00 ends after 12:30: minutes kept")

	_, err := p.History(context.Background(), "d1", telemetry.Temperature, histNow.Add(-6*time.Hour), histNow.Add(-5*time.Hour), time.Hour)
	assert.ErrorIs(t, err, telemetry.ErrHistoryQuery, "outside the retention")
}
