package telemetry_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/telemetry"
)

func TestLimitsValidate(t *testing.T) {
	dev := func(edit func(*telemetry.Reading)) telemetry.Reading {
		r := telemetry.Reading{DeviceID: "d"}
		edit(&r)
		return r
	}
	hugeSlope := telemetry.Calibration{TemperatureSlope: f64(math.MaxFloat64), TemperatureYIntercept: f64(0)}

	tests := []struct {
		name string
		r    telemetry.Reading
		want []string // substrings of the reason; nil when the reading is valid
	}{
		{"every value missing", dev(func(r *telemetry.Reading) {}), nil},
		{"temperature -40 inclusive", dev(func(r *telemetry.Reading) { r.Temperature = f64(-40) }), nil},
		{"temperature 80 inclusive", dev(func(r *telemetry.Reading) { r.Temperature = f64(80) }), nil},
		{"temperature 0", dev(func(r *telemetry.Reading) { r.Temperature = f64(0) }), nil},
		{"humidity 0 inclusive", dev(func(r *telemetry.Reading) { r.Humidity = f64(0) }), nil},
		{"humidity 100 inclusive", dev(func(r *telemetry.Reading) { r.Humidity = f64(100) }), nil},
		{"pressure 600 inclusive", dev(func(r *telemetry.Reading) { r.Pressure = f64(600) }), nil},
		{"pressure 1600 inclusive", dev(func(r *telemetry.Reading) { r.Pressure = f64(1600) }), nil},
		{"light is not range-checked", dev(func(r *telemetry.Reading) { r.Light = f64(-1e300) }), nil},
		{"all at their bounds", dev(func(r *telemetry.Reading) {
			r.Temperature, r.Humidity, r.Pressure = f64(80), f64(100), f64(600)
		}), nil},

		{"temperature just below -40", dev(func(r *telemetry.Reading) { r.Temperature = f64(-40.01) }),
			[]string{"temperature", "-40.01"}},
		{"temperature just above 80", dev(func(r *telemetry.Reading) { r.Temperature = f64(80.01) }),
			[]string{"temperature", "80.01"}},
		{"humidity just below 0", dev(func(r *telemetry.Reading) { r.Humidity = f64(-0.5) }),
			[]string{"humidity", "-0.5"}},
		{"humidity just above 100", dev(func(r *telemetry.Reading) { r.Humidity = f64(100.1) }),
			[]string{"humidity", "100.1"}},
		{"pressure just below 600", dev(func(r *telemetry.Reading) { r.Pressure = f64(599.9) }),
			[]string{"pressure", "599.9"}},
		{"pressure just above 1600", dev(func(r *telemetry.Reading) { r.Pressure = f64(1600.1) }),
			[]string{"pressure", "1600.1"}},
		{"one bad metric among good ones", dev(func(r *telemetry.Reading) {
			r.Temperature, r.Humidity, r.Pressure = f64(20), f64(150), f64(1000)
		}), []string{"humidity", "150"}},

		{"temperature NaN", dev(func(r *telemetry.Reading) { r.Temperature = f64(math.NaN()) }),
			[]string{"temperature", "finite"}},
		{"humidity +Inf", dev(func(r *telemetry.Reading) { r.Humidity = f64(math.Inf(1)) }),
			[]string{"humidity", "finite"}},
		{"pressure -Inf", dev(func(r *telemetry.Reading) { r.Pressure = f64(math.Inf(-1)) }),
			[]string{"pressure", "finite"}},
		{"light NaN", dev(func(r *telemetry.Reading) { r.Light = f64(math.NaN()) }),
			[]string{"light", "finite"}},
		{"temperature +Inf from a huge calibration slope",
			hugeSlope.Apply(dev(func(r *telemetry.Reading) { r.Temperature = f64(25) })),
			[]string{"temperature", "finite"}},

		{"missing device id", telemetry.Reading{Temperature: f64(20)}, []string{"device id"}},
		{"device id with a slash (more in TestCheckDeviceID)", telemetry.Reading{DeviceID: "a/b"}, []string{"device id", `'/'`}},

		{"a decode problem fails with its text",
			telemetry.Reading{DeviceID: "d", Problem: "temperature: not a number"},
			[]string{"temperature: not a number"}},
		{"a decode problem wins over good values",
			telemetry.Reading{DeviceID: "d", Temperature: f64(20), Problem: "item 3 is not a JSON object"},
			[]string{"item 3 is not a JSON object"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := telemetry.DefaultLimits().Validate(tt.r)
			if tt.want == nil {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, telemetry.ErrInvalid)
			for _, s := range tt.want {
				assert.Contains(t, err.Error(), s)
			}
		})
	}
}

// A decoded payload with a bad field is rejected by validation, naming it.
func TestLimitsValidateDecoded(t *testing.T) {
	tests := []struct {
		name, payload, want string
	}{
		{"word for a number", `{"deviceId":"d","temperature":"hot"}`, "temperature"},
		{"number out of float range", `{"deviceId":"d","hPa":1e400}`, "hPa"},
		{"number for the device id", `{"deviceId":7,"temperature":20}`, "deviceId"},
		{"simulator fault: 999 °C", `{"deviceId":"d","temperature":999}`, "temperature 999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := telemetry.Decode([]byte(tt.payload))
			require.NoError(t, err)
			require.Len(t, rs, 1)
			err = telemetry.DefaultLimits().Validate(rs[0])
			require.Error(t, err)
			assert.ErrorIs(t, err, telemetry.ErrInvalid)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestLimitsCustomRange(t *testing.T) {
	l := telemetry.DefaultLimits()
	l.Temperature = telemetry.Range{Min: 0, Max: 50}
	require.NoError(t, l.Check())
	assert.NoError(t, l.Validate(telemetry.Reading{DeviceID: "d", Temperature: f64(50)}))
	err := l.Validate(telemetry.Reading{DeviceID: "d", Temperature: f64(-1)})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "0..50", "the reason shows the configured range")
}

func TestLimitsCheck(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(*telemetry.Limits)
		errSub string // "" when the limits are sound
	}{
		{"default limits", func(l *telemetry.Limits) {}, ""},
		{"a single-value range", func(l *telemetry.Limits) { l.Humidity = telemetry.Range{Min: 50, Max: 50} }, ""},
		{"min above max", func(l *telemetry.Limits) { l.Temperature = telemetry.Range{Min: 80, Max: -40} }, "temperature"},
		{"NaN min", func(l *telemetry.Limits) { l.Humidity.Min = math.NaN() }, "humidity"},
		{"NaN max", func(l *telemetry.Limits) { l.Pressure.Max = math.NaN() }, "pressure"},
		{"infinite max", func(l *telemetry.Limits) { l.Temperature.Max = math.Inf(1) }, "temperature"},
		{"infinite min", func(l *telemetry.Limits) { l.Pressure.Min = math.Inf(-1) }, "pressure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := telemetry.DefaultLimits()
			tt.edit(&l)
			err := l.Check()
			if tt.errSub == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.errSub)
		})
	}
	t.Run("default limits are the original's", func(t *testing.T) {
		assert.Equal(t, telemetry.Limits{
			Temperature: telemetry.Range{Min: -40, Max: 80},
			Humidity:    telemetry.Range{Min: 0, Max: 100},
			Pressure:    telemetry.Range{Min: 600, Max: 1600},
		}, telemetry.DefaultLimits())
	})
}
