package telemetry_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/telemetry"
)

func f(v float64) *float64 { return &v }

func TestBucketMergeAndAvg(t *testing.T) {
	tests := []struct {
		name string
		a, b telemetry.Bucket
		want telemetry.Bucket
		avg  float64
	}{
		{"empty into empty", telemetry.Bucket{}, telemetry.Bucket{}, telemetry.Bucket{}, 0},
		{"into empty takes the other", telemetry.Bucket{}, telemetry.Bucket{N: 2, Min: -3, Max: 5, Sum: 2}, telemetry.Bucket{N: 2, Min: -3, Max: 5, Sum: 2}, 1},
		{"empty changes nothing", telemetry.Bucket{N: 1, Min: 4, Max: 4, Sum: 4}, telemetry.Bucket{}, telemetry.Bucket{N: 1, Min: 4, Max: 4, Sum: 4}, 4},
		{"min, max and sum combine", telemetry.Bucket{N: 2, Min: 1, Max: 3, Sum: 4}, telemetry.Bucket{N: 1, Min: 0, Max: 0, Sum: 0}, telemetry.Bucket{N: 3, Min: 0, Max: 3, Sum: 4}, 4.0 / 3},
		{"negative values", telemetry.Bucket{N: 1, Min: -40, Max: -40, Sum: -40}, telemetry.Bucket{N: 1, Min: -10, Max: -10, Sum: -10}, telemetry.Bucket{N: 2, Min: -40, Max: -10, Sum: -50}, -25},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.a
			got.Merge(tt.b)
			assert.Equal(t, tt.want, got)
			assert.InDelta(t, tt.avg, got.Avg(), 1e-9)
		})
	}
}

func TestHourRecordAddsToHourAndMinuteBuckets(t *testing.T) {
	h0 := time.Date(2025, 3, 1, 7, 0, 0, 0, time.UTC)
	in := func(at time.Duration, temp float64) telemetry.Input {
		return telemetry.Input{DeviceID: "d", At: h0.Add(at), Calibrated: telemetry.Reading{Temperature: f(temp), Light: f(100)}}
	}
	var r telemetry.HourRecord
	r.Add(in(0, 20), true)                                   // first instant of minute 0
	r.Add(in(59*time.Second+999*time.Millisecond, 22), true) // last instant of minute 0
	r.Add(in(time.Minute, 30), true)                         // minute 1
	r.Add(in(59*time.Minute+59*time.Second, 10), true)       // minute 59
	r.Add(in(30*time.Minute, 25), false)                     // too old for minute detail: the hour only

	assert.Equal(t, h0, r.Hour)
	temp := r.Metrics[telemetry.Temperature]
	require.NotNil(t, temp)
	assert.Equal(t, telemetry.Bucket{N: 5, Min: 10, Max: 30, Sum: 107}, temp.Hour)
	assert.Equal(t, map[int]telemetry.Bucket{
		0:  {N: 2, Min: 20, Max: 22, Sum: 42},
		1:  {N: 1, Min: 30, Max: 30, Sum: 30},
		59: {N: 1, Min: 10, Max: 10, Sum: 10},
	}, temp.Minutes)
	assert.Equal(t, int64(5), r.Metrics[telemetry.Light].Hour.N)
	assert.Nil(t, r.Metrics[telemetry.Humidity], "a metric never read has no series")

	// The stored form round-trips.
	b, err := json.Marshal(r)
	require.NoError(t, err)
	var back telemetry.HourRecord
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, r.Metrics[telemetry.Temperature], back.Metrics[telemetry.Temperature])
	assert.True(t, back.Hour.Equal(h0))

	assert.True(t, r.DropMinutes())
	assert.Nil(t, r.Metrics[telemetry.Temperature].Minutes)
	assert.Equal(t, int64(5), r.Metrics[telemetry.Temperature].Hour.N, "the hour's aggregate stays")
	assert.False(t, r.DropMinutes(), "nothing left to drop")
}

func TestHistoryKeyIsPerUTCHour(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	tests := []struct {
		at   time.Time
		want string
	}{
		{time.Date(2025, 3, 1, 7, 0, 0, 0, time.UTC), "history:a%2Fb:2025030107"},
		{time.Date(2025, 3, 1, 7, 59, 59, 999, time.UTC), "history:a%2Fb:2025030107"},
		{time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC), "history:a%2Fb:2025030108"},
		{time.Date(2025, 3, 1, 9, 30, 0, 0, berlin), "history:a%2Fb:2025030108"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, telemetry.HistoryKey("a/b", tt.at), tt.at)
	}
}

func TestPointsAcrossTwoHours(t *testing.T) {
	h0 := time.Date(2025, 3, 1, 7, 0, 0, 0, time.UTC)
	var r0, r1 telemetry.HourRecord
	add := func(r *telemetry.HourRecord, at time.Time, v float64) {
		r.Add(telemetry.Input{At: at, Calibrated: telemetry.Reading{Humidity: f(v)}}, true)
	}
	add(&r0, h0.Add(58*time.Minute), 40)
	add(&r0, h0.Add(59*time.Minute), 50)
	add(&r0, h0.Add(59*time.Minute+time.Second), 60)
	add(&r1, h0.Add(60*time.Minute), 70)
	records := []telemetry.HourRecord{r1, r0} // any order in, time order out

	minutes := telemetry.Points(records, telemetry.Humidity, h0.Add(59*time.Minute), h0.Add(2*time.Hour), time.Minute, time.Time{})
	require.Len(t, minutes, 2, "58 is before from")
	assert.Equal(t, telemetry.Point{T: h0.Add(59 * time.Minute), Min: 50, Avg: 55, Max: 60, N: 2}, minutes[0])
	assert.Equal(t, telemetry.Point{T: h0.Add(time.Hour), Min: 70, Avg: 70, Max: 70, N: 1}, minutes[1])

	hours := telemetry.Points(records, telemetry.Humidity, h0, h0.Add(time.Hour), time.Hour, time.Time{})
	require.Len(t, hours, 1, "to is exclusive")
	assert.Equal(t, telemetry.Point{T: h0, Min: 40, Avg: 50, Max: 60, N: 3}, hours[0])

	trimmed := telemetry.Points(records, telemetry.Humidity, h0, h0.Add(2*time.Hour), time.Minute, h0.Add(time.Hour))
	assert.Len(t, trimmed, 1, "minute detail past its retention is left out")
	assert.Empty(t, telemetry.Points(records, telemetry.Temperature, h0, h0.Add(2*time.Hour), time.Hour, time.Time{}))
}

func TestRetentionCheckRange(t *testing.T) {
	now := time.Date(2025, 3, 10, 12, 30, 0, 0, time.UTC)
	keep := telemetry.Retention{Minutes: 48 * time.Hour, Hours: 30 * 24 * time.Hour}
	tests := []struct {
		name     string
		keep     telemetry.Retention
		from, to time.Time
		step     time.Duration
		ok       bool
	}{
		{"last hour by minute", keep, now.Add(-time.Hour), now, time.Minute, true},
		{"48 h by minute", keep, now.Add(-48 * time.Hour), now, time.Minute, true},
		{"over 48 h by minute", keep, now.Add(-49 * time.Hour), now, time.Minute, false},
		{"31 days by hour", keep, now.Add(-31 * 24 * time.Hour), now, time.Hour, true},
		{"32 days by hour", keep, now.Add(-32 * 24 * time.Hour), now, time.Hour, false},
		{"backwards", keep, now, now.Add(-time.Hour), time.Hour, false},
		{"empty", keep, now, now, time.Hour, false},
		{"minutes past their retention", keep, now.Add(-72 * time.Hour), now.Add(-50 * time.Hour), time.Minute, false},
		{"hours past their retention", keep, now.Add(-40 * 24 * time.Hour), now.Add(-35 * 24 * time.Hour), time.Hour, false},
		{"partly past the retention", keep, now.Add(-31 * 24 * time.Hour), now.Add(-29 * 24 * time.Hour), time.Hour, true},
		{"in the future", keep, now.Add(time.Hour), now.Add(2 * time.Hour), time.Hour, false},
		{"minutes off", telemetry.Retention{Hours: time.Hour * 24}, now.Add(-time.Hour), now, time.Minute, false},
		{"history off", telemetry.Retention{}, now.Add(-time.Hour), now, time.Hour, false},
		{"unknown step", keep, now.Add(-time.Hour), now, time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.keep.CheckRange(tt.from, tt.to, tt.step, now)
			if tt.ok {
				assert.NoError(t, err)
			} else {
				assert.True(t, errors.Is(err, telemetry.ErrHistoryQuery), "%v", err)
			}
		})
	}
}

func TestParseMetricAndStep(t *testing.T) {
	for _, m := range telemetry.Metrics {
		got, err := telemetry.ParseMetric(string(m))
		require.NoError(t, err)
		assert.Equal(t, m, got)
	}
	_, err := telemetry.ParseMetric("Temperature")
	assert.ErrorIs(t, err, telemetry.ErrHistoryQuery)
	for s, want := range map[string]time.Duration{"1m": time.Minute, "1h": time.Hour} {
		got, err := telemetry.ParseStep(s)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	_, err = telemetry.ParseStep("5m")
	assert.ErrorIs(t, err, telemetry.ErrHistoryQuery)
}
