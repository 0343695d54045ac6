package telemetry_test

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/telemetry"
)

func TestCalibrationApply(t *testing.T) {
	full := telemetry.Reading{DeviceID: "d", MessageID: "m", Geo: "Sydney",
		Temperature: f64(20), Humidity: f64(50), Pressure: f64(1000), Light: f64(300)}
	tests := []struct {
		name string
		cal  telemetry.Calibration
		in   telemetry.Reading
		want telemetry.Reading
	}{
		{"no calibration: values pass unchanged", telemetry.Calibration{}, full, full},
		{"temperature value*slope+intercept",
			telemetry.Calibration{TemperatureSlope: f64(2), TemperatureYIntercept: f64(1)},
			full, with(full, func(r *telemetry.Reading) { r.Temperature = f64(41) })},
		{"humidity value*slope+intercept",
			telemetry.Calibration{HumiditySlope: f64(0.5), HumidityYIntercept: f64(10)},
			full, with(full, func(r *telemetry.Reading) { r.Humidity = f64(35) })},
		{"pressure value*slope+intercept",
			telemetry.Calibration{PressureSlope: f64(1), PressureYIntercept: f64(13.25)},
			full, with(full, func(r *telemetry.Reading) { r.Pressure = f64(1013.25) })},
		{"all three metrics, each with its own line",
			telemetry.Calibration{
				TemperatureSlope: f64(2), TemperatureYIntercept: f64(1),
				HumiditySlope: f64(0.5), HumidityYIntercept: f64(10),
				PressureSlope: f64(1), PressureYIntercept: f64(13.25)},
			full, with(full, func(r *telemetry.Reading) {
				r.Temperature, r.Humidity, r.Pressure = f64(41), f64(35), f64(1013.25)
			})},
		{"negative slope and intercept",
			telemetry.Calibration{TemperatureSlope: f64(-1), TemperatureYIntercept: f64(-5)},
			full, with(full, func(r *telemetry.Reading) { r.Temperature = f64(-25) })},
		{"a 0 reading is calibrated, not treated as missing",
			telemetry.Calibration{TemperatureSlope: f64(2), TemperatureYIntercept: f64(1)},
			telemetry.Reading{DeviceID: "d", Temperature: f64(0)},
			telemetry.Reading{DeviceID: "d", Temperature: f64(1)}},
		{"zero slope gives the intercept",
			telemetry.Calibration{HumiditySlope: f64(0), HumidityYIntercept: f64(42)},
			full, with(full, func(r *telemetry.Reading) { r.Humidity = f64(42) })},
		{"zero intercept only scales",
			telemetry.Calibration{PressureSlope: f64(1.01), PressureYIntercept: f64(0)},
			full, with(full, func(r *telemetry.Reading) { r.Pressure = f64(1000 * 1.01) })},
		{"missing value stays missing",
			telemetry.Calibration{TemperatureSlope: f64(2), TemperatureYIntercept: f64(1),
				HumiditySlope: f64(2), HumidityYIntercept: f64(1)},
			telemetry.Reading{DeviceID: "d", Pressure: f64(1000)},
			telemetry.Reading{DeviceID: "d", Pressure: f64(1000)}},
		{"missing slope leaves the value",
			telemetry.Calibration{TemperatureYIntercept: f64(1)}, full, full},
		{"missing intercept leaves the value",
			telemetry.Calibration{TemperatureSlope: f64(2)}, full, full},
		{"light is never calibrated, ids and geo kept",
			telemetry.Calibration{
				TemperatureSlope: f64(1), TemperatureYIntercept: f64(0),
				HumiditySlope: f64(1), HumidityYIntercept: f64(0),
				PressureSlope: f64(1), PressureYIntercept: f64(0)},
			full, full},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.cal.Apply(tt.in))
		})
	}
}

// with returns a copy of r changed by edit.
func with(r telemetry.Reading, edit func(*telemetry.Reading)) telemetry.Reading {
	edit(&r)
	return r
}

func TestCalibrationApplyLeavesInputAlone(t *testing.T) {
	in := telemetry.Reading{DeviceID: "d",
		Temperature: f64(20), Humidity: f64(50), Pressure: f64(1000), Light: f64(7)}
	temp, hum, pres := in.Temperature, in.Humidity, in.Pressure
	cal := telemetry.Calibration{
		TemperatureSlope: f64(2), TemperatureYIntercept: f64(1),
		HumiditySlope: f64(2), HumidityYIntercept: f64(1),
		PressureSlope: f64(2), PressureYIntercept: f64(1)}

	out := cal.Apply(in)

	require.Equal(t, 41.0, *out.Temperature)
	assert.Same(t, temp, in.Temperature)
	assert.Same(t, hum, in.Humidity)
	assert.Same(t, pres, in.Pressure)
	assert.Equal(t, 20.0, *in.Temperature, "the raw reading is kept for Device.Raw")
	assert.Equal(t, 50.0, *in.Humidity)
	assert.Equal(t, 1000.0, *in.Pressure)
}

func TestCalibrationValidate(t *testing.T) {
	set := func(field string, v float64) telemetry.Calibration {
		var c telemetry.Calibration
		switch field {
		case "temperatureSlope":
			c.TemperatureSlope = &v
		case "temperatureYIntercept":
			c.TemperatureYIntercept = &v
		case "humiditySlope":
			c.HumiditySlope = &v
		case "humidityYIntercept":
			c.HumidityYIntercept = &v
		case "pressureSlope":
			c.PressureSlope = &v
		case "pressureYIntercept":
			c.PressureYIntercept = &v
		}
		return c
	}
	fields := []string{"temperatureSlope", "temperatureYIntercept", "humiditySlope",
		"humidityYIntercept", "pressureSlope", "pressureYIntercept"}
	bad := []struct {
		name string
		v    float64
	}{{"NaN", math.NaN()}, {"+Inf", math.Inf(1)}, {"-Inf", math.Inf(-1)}}

	for _, field := range fields {
		for _, b := range bad {
			t.Run(field+" "+b.name, func(t *testing.T) {
				err := set(field, b.v).Validate()
				require.Error(t, err)
				assert.ErrorIs(t, err, telemetry.ErrCalibration)
				assert.Contains(t, err.Error(), field)
			})
		}
		t.Run(field+" finite passes", func(t *testing.T) {
			assert.NoError(t, set(field, -1.5e10).Validate())
		})
	}
	t.Run("empty record passes", func(t *testing.T) {
		assert.NoError(t, telemetry.Calibration{}.Validate())
	})
	t.Run("all zero passes", func(t *testing.T) {
		z := f64(0)
		assert.NoError(t, telemetry.Calibration{TemperatureSlope: z, TemperatureYIntercept: z,
			HumiditySlope: z, HumidityYIntercept: z, PressureSlope: z, PressureYIntercept: z}.Validate())
	})
}

// The original's calibration table used PascalCase columns; such a record
// must still calibrate.
func TestCalibrationDecodesOriginalFieldNames(t *testing.T) {
	var c telemetry.Calibration
	require.NoError(t, json.Unmarshal([]byte(`{"TemperatureSlope":2,"TemperatureYIntercept":1,
		"HumiditySlope":0.5,"HumidityYIntercept":10,"PressureSlope":1,"PressureYIntercept":0}`), &c))
	got := c.Apply(telemetry.Reading{Temperature: f64(20), Humidity: f64(50), Pressure: f64(1000)})
	assert.Equal(t, telemetry.Reading{Temperature: f64(41), Humidity: f64(35), Pressure: f64(1000)}, got)
}
