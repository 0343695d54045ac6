package telemetry

import (
	"errors"
	"fmt"
	"math"
)

// ErrCalibration is returned when a calibration record holds a value that is
// not a finite number.
var ErrCalibration = errors.New("invalid calibration")

// Calibration is one device's linear correction per metric:
// calibrated = value * slope + intercept. A nil part leaves the value as it is.
type Calibration struct {
	TemperatureSlope      *float64 `json:"temperatureSlope,omitempty"`
	TemperatureYIntercept *float64 `json:"temperatureYIntercept,omitempty"`
	HumiditySlope         *float64 `json:"humiditySlope,omitempty"`
	HumidityYIntercept    *float64 `json:"humidityYIntercept,omitempty"`
	PressureSlope         *float64 `json:"pressureSlope,omitempty"`
	PressureYIntercept    *float64 `json:"pressureYIntercept,omitempty"`
}

// Apply returns r with its temperature, humidity and pressure calibrated.
// Light is not calibrated. r is not modified.
func (c Calibration) Apply(r Reading) Reading {
	r.Temperature = linear(r.Temperature, c.TemperatureSlope, c.TemperatureYIntercept)
	r.Humidity = linear(r.Humidity, c.HumiditySlope, c.HumidityYIntercept)
	r.Pressure = linear(r.Pressure, c.PressureSlope, c.PressureYIntercept)
	return r
}

func linear(v, slope, intercept *float64) *float64 {
	if v == nil || slope == nil || intercept == nil {
		return v
	}
	out := *v**slope + *intercept
	return &out
}

// Validate returns an error wrapping ErrCalibration naming the first field
// that is NaN or infinite.
func (c Calibration) Validate() error {
	fields := []struct {
		name string
		v    *float64
	}{
		{"temperatureSlope", c.TemperatureSlope},
		{"temperatureYIntercept", c.TemperatureYIntercept},
		{"humiditySlope", c.HumiditySlope},
		{"humidityYIntercept", c.HumidityYIntercept},
		{"pressureSlope", c.PressureSlope},
		{"pressureYIntercept", c.PressureYIntercept},
	}
	for _, f := range fields {
		if f.v != nil && (math.IsNaN(*f.v) || math.IsInf(*f.v, 0)) {
			return fmt.Errorf("%w: %s is not a finite number", ErrCalibration, f.name)
		}
	}
	return nil
}
