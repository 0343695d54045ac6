package telemetry

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func reading(at time.Time, temp float64) Input {
	return Input{At: at, Calibrated: Reading{Temperature: &temp}}
}

func TestPendAndFlush(t *testing.T) {
	at := time.Date(2026, 11, 30, 7, 58, 10, 0, time.UTC)
	var d Device
	d.Pend(reading(at, 20))
	d.Pend(reading(at.Add(20*time.Second), 22)) // same minute
	d.Pend(reading(at.Add(2*time.Minute), 25))  // 08:00, a new hour
	d.Pend(reading(at.Add(-3*time.Minute), 18)) // late: 07:55
	require.Len(t, d.Pending, 3)
	assert.Equal(t, []time.Time{at.Add(-3 * time.Minute).Truncate(time.Minute), at.Truncate(time.Minute), at.Add(2 * time.Minute).Truncate(time.Minute)},
		[]time.Time{d.Pending[0].Start, d.Pending[1].Start, d.Pending[2].Start}, "oldest first")
	assert.Equal(t, Bucket{N: 2, Min: 20, Max: 22, Sum: 42}, d.Pending[1].Metrics[Temperature])

	// Only complete minutes leave, and only those take accepts.
	out := d.Flush(time.Time{}, func(m MinuteBuckets) bool { return m.Start.Minute() == 58 })
	require.Len(t, out, 1)
	assert.Equal(t, 58, out[0].Start.Minute())
	out = d.Flush(time.Time{}, func(MinuteBuckets) bool { return true })
	require.Len(t, out, 1, "the newest minute stays: it may still get readings")
	assert.Equal(t, 55, out[0].Start.Minute())
	require.Len(t, d.Pending, 1)

	// An expired minute is dropped, not returned.
	d.Pend(reading(at.Add(-48*time.Hour), 1))
	out = d.Flush(at.Add(-time.Hour), func(MinuteBuckets) bool { return true })
	assert.Empty(t, out)
	assert.Len(t, d.Pending, 1)
}

func TestPendIsBounded(t *testing.T) {
	at := time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC)
	var d Device
	dropped := 0
	for i := range MaxPending + 3 {
		dropped += d.Pend(reading(at.Add(time.Duration(i)*time.Minute), 1))
	}
	assert.Equal(t, 3, dropped)
	assert.Len(t, d.Pending, MaxPending)
	assert.Equal(t, at.Add(3*time.Minute), d.Pending[0].Start)
}

func TestAddMinuteEqualsAddingItsReadings(t *testing.T) {
	at := time.Date(2026, 11, 30, 7, 12, 5, 0, time.UTC)
	var byReading, byMinute HourRecord
	var d Device
	for i, v := range []float64{3, -1, 7.5} {
		in := reading(at.Add(time.Duration(i)*time.Second), v)
		byReading.Add(in, true)
		d.Pend(in)
	}
	byMinute.AddMinute(d.Pending[0], true)
	assert.Equal(t, byReading, byMinute)
	var hourOnly HourRecord
	hourOnly.AddMinute(d.Pending[0], false)
	assert.Empty(t, hourOnly.Metrics[Temperature].Minutes)
	assert.Equal(t, byReading.Metrics[Temperature].Hour, hourOnly.Metrics[Temperature].Hour)
}
