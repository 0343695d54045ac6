package telemetry

import (
	"errors"
	"fmt"
	"math"
	"strconv"
)

// ErrInvalid is wrapped by every validation failure; the rest of the error
// text is the reason a user sees.
var ErrInvalid = errors.New("invalid reading")

// Range is an inclusive interval of accepted values.
type Range struct {
	Min float64 `json:"min"`
	Max float64 `json:"max"`
}

// Limits are the accepted ranges of calibrated values.
type Limits struct {
	Temperature Range `json:"temperature"`
	Humidity    Range `json:"humidity"`
	Pressure    Range `json:"pressure"`
}

// DefaultLimits are the original system's ranges: −40..80 °C, 0..100 %,
// 600..1600 hPa.
func DefaultLimits() Limits {
	return Limits{
		Temperature: Range{Min: -40, Max: 80},
		Humidity:    Range{Min: 0, Max: 100},
		Pressure:    Range{Min: 600, Max: 1600},
	}
}

// Check returns an error when the limits themselves make no sense.
func (l Limits) Check() error {
	for _, r := range []struct {
		name string
		r    Range
	}{{"temperature", l.Temperature}, {"humidity", l.Humidity}, {"pressure", l.Pressure}} {
		if !finite(r.r.Min) || !finite(r.r.Max) || r.r.Min > r.r.Max {
			return fmt.Errorf("limits: %s range %v..%v is not a finite interval", r.name, r.r.Min, r.r.Max)
		}
	}
	return nil
}

// Validate checks a calibrated reading. A missing value passes; a decode
// problem, a missing or malformed device id, a non-finite value or one
// outside its range fails with an error wrapping ErrInvalid.
func (l Limits) Validate(r Reading) error {
	if err := r.Check(); err != nil {
		return err
	}
	checks := []struct {
		name, unit string
		v          *float64
		r          Range
	}{
		{"temperature", "°C", r.Temperature, l.Temperature},
		{"humidity", "%", r.Humidity, l.Humidity},
		{"pressure", "hPa", r.Pressure, l.Pressure},
	}
	for _, c := range checks {
		if c.v == nil {
			continue
		}
		if !finite(*c.v) {
			return fmt.Errorf("%w: %s is not a finite number", ErrInvalid, c.name)
		}
		if *c.v < c.r.Min || *c.v > c.r.Max {
			return fmt.Errorf("%w: %s %s %s outside %s..%s", ErrInvalid, c.name,
				format(*c.v), c.unit, format(c.r.Min), format(c.r.Max))
		}
	}
	if r.Light != nil && !finite(*r.Light) {
		return fmt.Errorf("%w: light is not a finite number", ErrInvalid)
	}
	return nil
}

// Check returns an error wrapping ErrInvalid when r could not be decoded or
// names no usable device; it does not look at the values.
func (r Reading) Check() error {
	if r.Problem != "" {
		return fmt.Errorf("%w: %s", ErrInvalid, r.Problem)
	}
	return CheckDeviceID(r.DeviceID)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func format(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
