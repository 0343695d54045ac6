// Package sim simulates environment-monitoring devices: it generates
// BME280-like telemetry, some of it deliberately invalid or redelivered, sends
// it through a Sender at a fixed rate and counts exactly what was
// acknowledged, so tests can compare the pipeline's counts with the truth.
//
// The package imports only the standard library; the MQTT and HTTP senders
// live in the sub-packages of the same names.
package sim

import (
	"errors"
	"fmt"
	"time"
)

// ErrConfig is wrapped by every error Config.Validate returns.
var ErrConfig = errors.New("invalid config")

// Shape is the JSON layout of a message.
type Shape string

const (
	// ShapeBME280 is a BME280 device: string message id, temperature,
	// humidity and pressure, e.g.
	// {"deviceId":"sim-001","messageId":"sim-001-42","temperature":21.37,"humidity":55.2,"pressure":1012.8}.
	ShapeBME280 Shape = "bme280"
	// ShapePi is the Azure Raspberry Pi web simulator: numeric message id,
	// temperature 20..32 °C and humidity 60..80 %, no pressure.
	ShapePi Shape = "pi"
)

// Config describes a simulation run. The zero value of a field means its
// default where one is named.
type Config struct {
	Devices int     // number of devices, at least 1
	Prefix  string  // device id prefix; "" means "sim-"
	Rate    float64 // messages per second per device, above 0
	// IDs, when set, names the devices instead of Prefix, device i taking
	// IDs[i-1], e.g. the identity an IoT Hub connection string is for.
	// There must be Devices of them, distinct and not empty.
	IDs []string
	// Duration stops the run after this long; Count stops each device after
	// this many sends (repeats included). Zero means no limit; with both zero
	// the run lasts until its context is done.
	Duration time.Duration
	Count    int
	Invalid  float64 // share of new messages made invalid, 0..1
	Repeat   float64 // share of sends that re-send an acknowledged message, 0..1
	Shape    Shape   // "" means ShapeBME280
	Light    bool    // add a light (lux) reading
	Seed     uint64  // the same seed gives every device the same sequence

	Attempts int           // tries per send, the first included; 0 means 4
	Backoff  time.Duration // wait before the second try, doubling up to 2 s; 0 means 100 ms

	// Progress, when set, is called with the counts so far every
	// ProgressEvery (0 means 5 s) while the run lasts, from one goroutine.
	Progress      func(Stats)
	ProgressEvery time.Duration
}

// withDefaults returns c with its zero-means-default fields filled in.
func (c Config) withDefaults() Config {
	if c.Prefix == "" {
		c.Prefix = "sim-"
	}
	if c.Shape == "" {
		c.Shape = ShapeBME280
	}
	if c.Attempts == 0 {
		c.Attempts = 4
	}
	if c.Backoff == 0 {
		c.Backoff = 100 * time.Millisecond
	}
	if c.ProgressEvery == 0 {
		c.ProgressEvery = 5 * time.Second
	}
	return c
}

// Validate reports the first field out of range, wrapping ErrConfig.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Devices < 1:
		return fmt.Errorf("%w: devices %d, want at least 1", ErrConfig, c.Devices)
	case !(c.Rate > 0):
		return fmt.Errorf("%w: rate %g, want above 0", ErrConfig, c.Rate)
	case c.Duration < 0:
		return fmt.Errorf("%w: duration %s is negative", ErrConfig, c.Duration)
	case c.Count < 0:
		return fmt.Errorf("%w: count %d is negative", ErrConfig, c.Count)
	case !(c.Invalid >= 0 && c.Invalid <= 1):
		return fmt.Errorf("%w: invalid share %g, want 0..1", ErrConfig, c.Invalid)
	case !(c.Repeat >= 0 && c.Repeat <= 1):
		return fmt.Errorf("%w: repeat share %g, want 0..1", ErrConfig, c.Repeat)
	case c.Shape != ShapeBME280 && c.Shape != ShapePi:
		return fmt.Errorf("%w: shape %q, want %q or %q", ErrConfig, c.Shape, ShapeBME280, ShapePi)
	case c.Attempts < 1:
		return fmt.Errorf("%w: attempts %d, want at least 1", ErrConfig, c.Attempts)
	case c.Backoff < 0 || c.ProgressEvery < 0:
		return fmt.Errorf("%w: negative backoff or progress interval", ErrConfig)
	case len(c.IDs) > 0 && len(c.IDs) != c.Devices:
		return fmt.Errorf("%w: %d device ids for %d devices", ErrConfig, len(c.IDs), c.Devices)
	}
	seen := make(map[string]bool, len(c.IDs))
	for _, id := range c.IDs {
		if id == "" || seen[id] {
			return fmt.Errorf("%w: device id %q empty or repeated", ErrConfig, id)
		}
		seen[id] = true
	}
	return nil
}

// id names device i (1-based) of c: from IDs when given, else with DeviceID.
func (c Config) id(i int) string {
	if len(c.IDs) > 0 {
		return c.IDs[i-1]
	}
	return DeviceID(c.Prefix, i, c.Devices)
}

// DeviceID names device i (1-based) of n: the prefix and i zero-padded to
// at least three digits, wider when n needs it, so ids sort in order.
func DeviceID(prefix string, i, n int) string {
	width := max(3, len(fmt.Sprint(n)))
	return fmt.Sprintf("%s%0*d", prefix, width, i)
}
