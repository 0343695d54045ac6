package telemetry

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// plainHour is HourRecord's layout without its hand-written encoder, as
// encoding/json writes it: what records written before it hold.
type plainHour struct {
	Hour    time.Time `json:"hour"`
	Metrics map[Metric]*struct {
		Hour    Bucket         `json:"h"`
		Minutes map[int]Bucket `json:"m,omitempty"`
	} `json:"metrics,omitempty"`
}

func TestHourRecordJSON(t *testing.T) {
	at := time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC)
	var h HourRecord
	for i, v := range []float64{21.5, 1e21, -0.000001, 3, 0} {
		hum := 40.0 + float64(i)
		h.Add(Input{At: at.Add(time.Duration(i*13) * time.Minute), Calibrated: Reading{Temperature: &v, Humidity: &hum}}, i%2 == 0)
	}
	got, err := json.Marshal(h)
	require.NoError(t, err)
	assert.True(t, json.Valid(got), "%s", got)

	var back HourRecord
	require.NoError(t, json.Unmarshal(got, &back))
	assert.Equal(t, h, back, "it decodes to the record it encoded")

	old, err := json.Marshal(plainHour{Hour: h.Hour, Metrics: map[Metric]*struct {
		Hour    Bucket         `json:"h"`
		Minutes map[int]Bucket `json:"m,omitempty"`
	}{
		Temperature: {Hour: h.Metrics[Temperature].Hour, Minutes: h.Metrics[Temperature].Minutes},
		Humidity:    {Hour: h.Metrics[Humidity].Hour, Minutes: h.Metrics[Humidity].Minutes},
	}})
	require.NoError(t, err)
	var fromOld HourRecord
	require.NoError(t, json.Unmarshal(old, &fromOld))
	assert.Equal(t, h, fromOld, "a record encoding/json wrote decodes the same")

	empty, err := json.Marshal(HourRecord{Hour: at})
	require.NoError(t, err)
	assert.JSONEq(t, `{"hour":"2026-11-30T07:00:00Z"}`, string(empty))
}

func TestBucketJSONRefuses(t *testing.T) {
	for _, in := range []string{`[1,2,3]`, `[1,2,3,4,5]`, `{}`, `[1.5,2,3,4]`, `[-1,2,3,4]`, `["1",2,3,4]`, `[1,2,3,1e999]`, `[1,2,3,4`} {
		var b Bucket
		assert.Error(t, json.Unmarshal([]byte(in), &b), in)
	}
}
