// Package alert is the domain of threshold and offline alerts: rules and
// their validation, the per rule and device episode state machine (pending,
// firing, cleared, with hysteresis), and the service that keeps rules and
// alert state in a state store with ETag first-write-wins, so that each
// raise and clear is delivered once however many replicas evaluate.
package alert

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Errors of the package; callers match them with errors.Is.
var (
	// ErrInvalid is a rule (or request) that does not validate.
	ErrInvalid = errors.New("invalid alert rule")
	// ErrNotFound is a rule or an alert that does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists is a rule created under an id already taken.
	ErrExists = errors.New("already exists")
)

// Metric is a calibrated value a threshold rule watches.
type Metric string

// The metrics of a device.
const (
	Temperature Metric = "temperature"
	Humidity    Metric = "humidity"
	Pressure    Metric = "pressure"
	Light       Metric = "light"
	// Offline is the metric alerts of offline rules carry.
	Offline Metric = "offline"
)

// Metrics are the metrics a threshold rule may name.
var Metrics = []Metric{Temperature, Humidity, Pressure, Light}

// MaxDuration bounds "for" and "offlineFor".
const MaxDuration = 30 * 24 * time.Hour

// DefaultHysteresis is the share of the threshold's magnitude by which a
// value must be back past the threshold to clear, when a rule sets no
// hysteresis of its own; minHysteresis is its floor, so that a threshold
// at 0 (0 °C) still has a band.
const (
	DefaultHysteresis = 0.02
	minHysteresis     = 0.1
)

// Rule is one alert rule: a threshold rule (Metric with Above or Below, and
// For) or an offline rule (OfflineFor), for one device or, with DeviceID
// empty, for every device.
type Rule struct {
	ID     string   `json:"id"`
	Metric Metric   `json:"metric,omitempty"`
	Above  *float64 `json:"above,omitempty"`
	Below  *float64 `json:"below,omitempty"`
	// For is how long the condition must hold before the alert fires.
	For Duration `json:"for,omitzero"`
	// Hysteresis, when set, is the absolute margin past the threshold a
	// value must reach to clear; else DefaultHysteresis of |threshold|.
	Hysteresis *float64 `json:"hysteresis,omitempty"`
	OfflineFor Duration `json:"offlineFor,omitzero"`
	DeviceID   string   `json:"deviceId,omitempty"`
	// Created ties alert state to this instance of the rule: state left by
	// a deleted rule of the same id is not taken over. Set by the service.
	Created time.Time `json:"created,omitzero"`
}

var ruleID = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// Validate reports every problem of r, each wrapping ErrInvalid.
func (r Rule) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...))
	}
	if !ruleID.MatchString(r.ID) || r.ID == "." || r.ID == ".." {
		bad("id %q: 1 to 64 ASCII letters, digits, '-', '_' or '.'", r.ID)
	}
	if len(r.DeviceID) > 128 {
		bad("deviceId: at most 128 characters")
	}
	if r.OfflineFor != 0 {
		if r.Metric != "" || r.Above != nil || r.Below != nil || r.For != 0 || r.Hysteresis != nil {
			bad("an offline rule (offlineFor) takes no metric, above, below, for or hysteresis")
		}
		if r.OfflineFor < 0 || time.Duration(r.OfflineFor) > MaxDuration {
			bad("offlineFor %s: must be positive and at most %s", r.OfflineFor, MaxDuration)
		}
		return errors.Join(errs...)
	}
	switch {
	case r.Metric == "":
		bad("metric missing: one of %s, or offlineFor for an offline rule", metricNames())
	case !r.Metric.known():
		bad("unknown metric %q: one of %s", r.Metric, metricNames())
	}
	switch {
	case r.Above != nil && r.Below != nil:
		bad("both above and below: one rule takes one of them")
	case r.Above == nil && r.Below == nil:
		bad("neither above nor below: a threshold rule takes one of them")
	case r.Above != nil && !finite(*r.Above), r.Below != nil && !finite(*r.Below):
		bad("threshold must be a finite number")
	}
	if r.For < 0 || time.Duration(r.For) > MaxDuration {
		bad("for %s: must be 0 or positive, at most %s", r.For, MaxDuration)
	}
	if r.Hysteresis != nil && (!finite(*r.Hysteresis) || *r.Hysteresis < 0) {
		bad("hysteresis must be a finite number ≥ 0")
	}
	return errors.Join(errs...)
}

// Applies reports whether r watches device id.
func (r Rule) Applies(id string) bool { return r.DeviceID == "" || r.DeviceID == id }

// offline reports whether r is an offline rule.
func (r Rule) offline() bool { return r.OfflineFor > 0 }

// margin is how far past the threshold a value must be to clear.
func (r Rule) margin(threshold float64) float64 {
	if r.Hysteresis != nil {
		return *r.Hysteresis
	}
	return max(math.Abs(threshold)*DefaultHysteresis, minHysteresis)
}

func (m Metric) known() bool {
	for _, k := range Metrics {
		if m == k {
			return true
		}
	}
	return false
}

func metricNames() string {
	names := make([]string, len(Metrics))
	for i, m := range Metrics {
		names[i] = string(m)
	}
	return strings.Join(names, ", ")
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// Duration is a time.Duration written in JSON as a string: Go's form
// ("90s", "5m", "1h30m") or ISO 8601's ("PT5M", "P1DT2H").
type Duration time.Duration

// String writes d in Go's form.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes d as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return strconv.AppendQuote(nil, d.String()), nil }

// UnmarshalJSON reads a Go or ISO 8601 duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] != '"' {
		return fmt.Errorf("%w: duration %s: want a string such as \"5m\" or \"PT5M\"", ErrInvalid, b)
	}
	s, err := strconv.Unquote(string(b))
	if err != nil {
		return fmt.Errorf("%w: duration %s: %w", ErrInvalid, b, err)
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

var iso = regexp.MustCompile(`^P(?:(\d{1,5})D)?(?:T(?:(\d{1,6})H)?(?:(\d{1,8})M)?(?:(\d{1,10}(?:\.\d{1,9})?)S)?)?$`)

// ParseDuration reads a Go duration ("5m") or an ISO 8601 one of days,
// hours, minutes and seconds ("PT5M", "P1DT12H"); an error wraps ErrInvalid.
func ParseDuration(s string) (time.Duration, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	m := iso.FindStringSubmatch(strings.ToUpper(s))
	if m == nil || s == "P" || strings.HasSuffix(strings.ToUpper(s), "T") {
		return 0, fmt.Errorf("%w: duration %q: want Go's form (\"90s\", \"5m\", \"1h30m\") or ISO 8601's (\"PT5M\")", ErrInvalid, s)
	}
	var d time.Duration
	for i, unit := range []time.Duration{24 * time.Hour, time.Hour, time.Minute} {
		if m[i+1] != "" {
			n, err := strconv.ParseInt(m[i+1], 10, 32)
			if err != nil {
				return 0, fmt.Errorf("%w: duration %q: %w", ErrInvalid, s, err)
			}
			d += time.Duration(n) * unit
		}
	}
	if m[4] != "" {
		f, _ := strconv.ParseFloat(m[4], 64) // the pattern admits only numbers
		d += time.Duration(f * float64(time.Second))
	}
	return d, nil
}
