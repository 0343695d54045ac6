package telemetry_test

import (
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/telemetry"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// at is t0 plus s seconds.
func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

// valid is an accepted message of device "d" with temperature temp, as
// calibrated by +1 °C.
func valid(msg string, sec int, temp float64) telemetry.Input {
	raw := telemetry.Reading{DeviceID: "d", MessageID: msg, Temperature: f64(temp), Humidity: f64(60)}
	cal := raw
	cal.Temperature = f64(temp + 1)
	return telemetry.Input{DeviceID: "d", MessageID: msg, Raw: raw, Calibrated: cal, At: at(sec)}
}

// invalid is a rejected message of device "d".
func invalid(msg string, sec int, reason string) telemetry.Input {
	raw := telemetry.Reading{DeviceID: "d", MessageID: msg, Temperature: f64(999)}
	return telemetry.Input{DeviceID: "d", MessageID: msg, Raw: raw, Calibrated: raw,
		Invalid: errors.New(reason), At: at(sec)}
}

// geo sets the geo label of in.
func geo(in telemetry.Input, g string) telemetry.Input {
	in.Raw.Geo, in.Calibrated.Geo = g, g
	return in
}

type step struct {
	in   telemetry.Input
	want telemetry.Outcome
}

func TestDeviceApply(t *testing.T) {
	const window = 3
	tests := []struct {
		name  string
		steps []step
		check func(t *testing.T, d telemetry.Device)
	}{
		{"first valid message creates the state",
			[]step{{valid("m1", 0, 20), telemetry.Accepted}},
			func(t *testing.T, d telemetry.Device) {
				assert.Equal(t, "d", d.ID)
				assert.Equal(t, int64(1), d.Count)
				assert.Equal(t, int64(0), d.Rejected)
				assert.Equal(t, telemetry.SchemaVersion, d.SchemaVersion)
				assert.Equal(t, at(0), d.FirstSeen)
				assert.Equal(t, at(0), d.LastSeen)
				assert.Equal(t, at(0), d.ReadingsAt)
				assert.Equal(t, "m1", d.MessageID)
				assert.Equal(t, f64(20), d.Raw.Temperature, "raw keeps the device's own value")
				assert.Equal(t, f64(21), d.Calibrated.Temperature)
				assert.Equal(t, f64(60), d.Calibrated.Humidity)
				assert.Nil(t, d.Calibrated.Pressure, "a missing reading stays missing")
				assert.Equal(t, []string{"m1"}, d.Recent)
			}},
		{"each distinct message counts",
			[]step{
				{valid("m1", 0, 20), telemetry.Accepted},
				{valid("m2", 1, 21), telemetry.Accepted},
				{valid("m3", 2, 22), telemetry.Accepted},
			},
			func(t *testing.T, d telemetry.Device) {
				assert.Equal(t, int64(3), d.Count)
				assert.Equal(t, f64(23), d.Calibrated.Temperature)
				assert.Equal(t, "m3", d.MessageID)
			}},
		{"a redelivered valid message is a duplicate and not counted",
			[]step{
				{valid("m1", 0, 20), telemetry.Accepted},
				{valid("m1", 5, 30), telemetry.Duplicate},
			},
			func(t *testing.T, d telemetry.Device) {
				assert.Equal(t, int64(1), d.Count)
				assert.Equal(t, f64(21), d.Calibrated.Temperature)
				assert.Equal(t, at(0), d.LastSeen, "a duplicate changes nothing")
			}},
		{"a redelivered invalid message is a duplicate and not rejected twice",
			[]step{
				{invalid("m1", 0, "temperature 999 °C outside -40..80"), telemetry.Rejected},
				{invalid("m1", 1, "temperature 999 °C outside -40..80"), telemetry.Duplicate},
			},
			func(t *testing.T, d telemetry.Device) {
				assert.Equal(t, int64(0), d.Count)
				assert.Equal(t, int64(1), d.Rejected)
			}},
		{"an id first seen invalid stays a duplicate even if it now looks valid",
			[]step{
				{invalid("m1", 0, "bad"), telemetry.Rejected},
				{valid("m1", 1, 20), telemetry.Duplicate},
			},
			func(t *testing.T, d telemetry.Device) {
				assert.Equal(t, int64(0), d.Count)
				assert.Equal(t, int64(1), d.Rejected)
				assert.Nil(t, d.Calibrated.Temperature)
			}},
		{"an empty message id is never a duplicate",
			[]step{
				{valid("", 0, 20), telemetry.Accepted},
				{valid("", 1, 21), telemetry.Accepted},
				{invalid("", 2, "bad"), telemetry.Rejected},
				{invalid("", 3, "bad"), telemetry.Rejected},
			},
			func(t *testing.T, d telemetry.Device) {
				assert.Equal(t, int64(2), d.Count)
				assert.Equal(t, int64(2), d.Rejected)
				assert.Empty(t, d.Recent, "no id to remember")
			}},
		{"the recent window keeps only the newest ids",
			[]step{
				{valid("m1", 0, 20), telemetry.Accepted},
				{valid("m2", 1, 20), telemetry.Accepted},
				{invalid("m3", 2, "bad"), telemetry.Rejected},
				{valid("m4", 3, 20), telemetry.Accepted},
				{valid("m5", 4, 20), telemetry.Accepted},
				{valid("m3", 5, 20), telemetry.Duplicate},
				{valid("m5", 6, 20), telemetry.Duplicate},
			},
			func(t *testing.T, d telemetry.Device) {
				assert.Equal(t, []string{"m3", "m4", "m5"}, d.Recent)
				assert.Equal(t, int64(4), d.Count)
			}},
		{"limit: an id older than the window is counted again",
			[]step{
				{valid("m1", 0, 20), telemetry.Accepted},
				{valid("m2", 1, 20), telemetry.Accepted},
				{valid("m3", 2, 20), telemetry.Accepted},
				{valid("m4", 3, 20), telemetry.Accepted},
				{valid("m1", 4, 20), telemetry.Accepted}, // fell out of the window of 3
			},
			func(t *testing.T, d telemetry.Device) {
				assert.Equal(t, int64(5), d.Count)
				assert.Equal(t, []string{"m3", "m4", "m1"}, d.Recent)
			}},
		{"rejections are counted with the last reason and leave the readings",
			[]step{
				{valid("m1", 0, 20), telemetry.Accepted},
				{invalid("m2", 1, "temperature 999 °C outside -40..80"), telemetry.Rejected},
				{invalid("m3", 2, "humidity 150 % outside 0..100"), telemetry.Rejected},
			},
			func(t *testing.T, d telemetry.Device) {
				assert.Equal(t, int64(1), d.Count)
				assert.Equal(t, int64(2), d.Rejected)
				assert.Equal(t, "humidity 150 % outside 0..100", d.LastRejection)
				assert.Equal(t, f64(21), d.Calibrated.Temperature)
				assert.Equal(t, "m1", d.MessageID, "the shown message is the last accepted one")
				assert.Equal(t, at(2), d.LastSeen, "an invalid message still shows the device is alive")
			}},
		{"a device seen only invalid has an id but no readings",
			[]step{{invalid("m1", 0, "bad"), telemetry.Rejected}},
			func(t *testing.T, d telemetry.Device) {
				assert.Equal(t, "d", d.ID)
				assert.Equal(t, at(0), d.FirstSeen)
				assert.Equal(t, telemetry.Values{}, d.Calibrated)
				assert.True(t, d.ReadingsAt.IsZero())
			}},
		{"an older message counts but does not replace the latest readings",
			[]step{
				{valid("m2", 10, 30), telemetry.Accepted},
				{valid("m1", 5, 20), telemetry.Accepted},
			},
			func(t *testing.T, d telemetry.Device) {
				assert.Equal(t, int64(2), d.Count)
				assert.Equal(t, at(5), d.FirstSeen)
				assert.Equal(t, at(10), d.LastSeen)
				assert.Equal(t, f64(31), d.Calibrated.Temperature)
				assert.Equal(t, f64(30), d.Raw.Temperature)
				assert.Equal(t, "m2", d.MessageID)
			}},
		{"a message at the same time as the latest replaces it",
			[]step{
				{valid("m1", 10, 30), telemetry.Accepted},
				{valid("m2", 10, 31), telemetry.Accepted},
			},
			func(t *testing.T, d telemetry.Device) {
				assert.Equal(t, f64(32), d.Calibrated.Temperature)
				assert.Equal(t, "m2", d.MessageID)
			}},
		{"a valid message newer than the shown readings replaces them even after a later invalid one",
			[]step{
				{valid("m1", 10, 30), telemetry.Accepted},
				{invalid("m3", 30, "bad"), telemetry.Rejected},
				{valid("m2", 20, 40), telemetry.Accepted},
			},
			func(t *testing.T, d telemetry.Device) {
				assert.Equal(t, f64(41), d.Calibrated.Temperature, "m2 is newer than the m1 readings on show")
				assert.Equal(t, "m2", d.MessageID)
				assert.Equal(t, at(30), d.LastSeen)
				assert.Equal(t, at(20), d.ReadingsAt)
				assert.Equal(t, at(10), d.FirstSeen)
			}},
		{"geo is kept when later messages have none",
			[]step{
				{geo(valid("m1", 0, 20), "Sydney"), telemetry.Accepted},
				{valid("m2", 1, 21), telemetry.Accepted},
			},
			func(t *testing.T, d telemetry.Device) { assert.Equal(t, "Sydney", d.Geo) }},
		{"a newer geo replaces the old one",
			[]step{
				{geo(valid("m1", 0, 20), "Sydney"), telemetry.Accepted},
				{geo(valid("m2", 1, 21), "Perth"), telemetry.Accepted},
			},
			func(t *testing.T, d telemetry.Device) { assert.Equal(t, "Perth", d.Geo) }},
		{"an older or invalid message does not change geo",
			[]step{
				{geo(valid("m2", 10, 20), "Sydney"), telemetry.Accepted},
				{geo(valid("m1", 5, 21), "Perth"), telemetry.Accepted},
				{geo(invalid("m3", 11, "bad"), "Darwin"), telemetry.Rejected},
			},
			func(t *testing.T, d telemetry.Device) { assert.Equal(t, "Sydney", d.Geo) }},
		{"light comes from the latest valid reading",
			[]step{
				{func() telemetry.Input {
					in := valid("m1", 0, 20)
					in.Calibrated.Light = f64(0)
					return in
				}(), telemetry.Accepted},
			},
			func(t *testing.T, d telemetry.Device) { assert.Equal(t, f64(0), d.Light) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d telemetry.Device
			for i, s := range tt.steps {
				got := d.Apply(s.in, window)
				require.Equal(t, s.want, got, "step %d (%s)", i, s.in.MessageID)
			}
			tt.check(t, d)
		})
	}
}

func TestDeviceApplyKeepsStoredID(t *testing.T) {
	d := telemetry.Device{ID: "stored"}
	in := valid("m1", 0, 20)
	in.DeviceID = "other"
	d.Apply(in, 10)
	assert.Equal(t, "stored", d.ID)
}

func TestDeviceApplyWithoutWindowNeverDeduplicates(t *testing.T) {
	var d telemetry.Device
	assert.Equal(t, telemetry.Accepted, d.Apply(valid("m1", 0, 20), 0))
	assert.Equal(t, telemetry.Accepted, d.Apply(valid("m1", 1, 20), 0))
	assert.Equal(t, int64(2), d.Count)
	assert.Empty(t, d.Recent)
}

func TestDeviceApplyWindowShrinks(t *testing.T) {
	var d telemetry.Device
	for i := range 10 {
		d.Apply(valid("m"+strconv.Itoa(i), i, 20), 10)
	}
	require.Len(t, d.Recent, 10)
	d.Apply(valid("m10", 10, 20), 3)
	assert.Equal(t, []string{"m8", "m9", "m10"}, d.Recent)
}

// Device is copied by value (maps of written devices, Summary); applying to
// a copy must not rewrite the original's recent ids through a shared array.
func TestDeviceApplyToCopyLeavesOriginal(t *testing.T) {
	var d telemetry.Device
	for i := range 5 {
		d.Apply(valid("m"+strconv.Itoa(i), i, 20), 3)
	}
	before := append([]string(nil), d.Recent...)

	c := d
	c.Apply(valid("x", 10, 20), 3)
	c2 := d
	c2.Apply(valid("y", 11, 20), 3)

	assert.Equal(t, before, d.Recent)
	assert.Equal(t, []string{"m3", "m4", "x"}, c.Recent)
	assert.Equal(t, []string{"m3", "m4", "y"}, c2.Recent)
}

func TestOutcomeString(t *testing.T) {
	assert.Equal(t, "accepted", telemetry.Accepted.String())
	assert.Equal(t, "rejected", telemetry.Rejected.String())
	assert.Equal(t, "duplicate", telemetry.Duplicate.String())
}

// The pipeline stores Device as JSON and re-applies after reading it back.
func TestDeviceJSONRoundTrip(t *testing.T) {
	var d telemetry.Device
	in := geo(valid("m1", 0, 20), "Sydney")
	in.Raw.Temperature, in.Calibrated.Temperature = f64(0), f64(0)
	d.Apply(in, 5)
	d.Apply(invalid("m2", 1, "bad"), 5)

	b, err := json.Marshal(d)
	require.NoError(t, err)
	var back telemetry.Device
	require.NoError(t, json.Unmarshal(b, &back))

	assert.Equal(t, d, back)
	assert.Equal(t, telemetry.Duplicate, back.Apply(valid("m1", 2, 20), 5), "recent ids survive storage")
}

func TestSummary(t *testing.T) {
	var d telemetry.Device
	in := geo(valid("m1", 0, 0), "Sydney")
	in.Raw.Temperature, in.Calibrated.Temperature = f64(0), f64(0) // 0 °C is a real temperature
	d.Apply(in, 5)
	d.Apply(invalid("m2", 1, "humidity 150 % outside 0..100"), 5)

	b, err := json.Marshal(d.Summary())
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(b, &got))

	tests := []struct {
		field string
		want  any
	}{
		{"deviceId", "d"},
		{"geo", "Sydney"},
		{"temperature", 0.0},
		{"humidity", 60.0},
		{"pressure", nil},
		{"light", nil},
		{"raw", map[string]any{"temperature": 0.0, "humidity": 60.0, "pressure": nil}},
		{"count", 1.0},
		{"rejected", 1.0},
		{"lastRejection", "humidity 150 % outside 0..100"},
		{"firstSeen", "2025-03-01T12:00:00Z"},
		{"lastSeen", "2025-03-01T12:00:01Z"},
		{"messageId", "m1"},
		{"schemaVersion", float64(telemetry.SchemaVersion)},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			v, ok := got[tt.field]
			require.True(t, ok, "field %q missing from %s", tt.field, b)
			assert.Equal(t, tt.want, v)
		})
	}
	t.Run("no other fields", func(t *testing.T) {
		assert.Len(t, got, len(tests), "%s", b)
	})
	t.Run("empty optional fields are left out", func(t *testing.T) {
		b, err := json.Marshal(telemetry.Device{ID: "x"}.Summary())
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(b, &m))
		for _, f := range []string{"geo", "lastRejection", "messageId"} {
			assert.NotContains(t, m, f)
		}
		for _, f := range []string{"temperature", "humidity", "pressure", "light"} {
			assert.Contains(t, m, f, "a missing reading is null, not absent")
			assert.Nil(t, m[f])
		}
		assert.Equal(t, 0.0, m["count"], "a count of 0 is shown")
	})
}
