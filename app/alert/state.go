package alert

import (
	"time"

	"github.com/enviromon/enviromon/app/telemetry"
)

// Phase is where an alert's episode stands. The zero value is unset.
type Phase string

// Phases an alert reports.
const (
	Firing  Phase = "firing"
	Cleared Phase = "cleared"
)

// Alert is the latest episode of one rule on one device: raised (firing)
// or cleared since a time, with the value that did it. It is what the API
// lists and what each raise and clear delivers.
type Alert struct {
	RuleID   string    `json:"ruleId"`
	DeviceID string    `json:"deviceId"`
	Metric   Metric    `json:"metric"`
	State    Phase     `json:"state"`
	Since    time.Time `json:"since"`
	// Value is the metric's value at the raise or clear; for an offline
	// rule, the seconds since the device was last seen.
	Value          *float64   `json:"value"`
	AcknowledgedAt *time.Time `json:"acknowledgedAt,omitempty"`
}

// State is what the store keeps per rule and device: the time the rule's
// condition began to hold, while it waits out the rule's For, and the
// latest episode.
type State struct {
	RuleCreated  time.Time `json:"ruleCreated"`
	PendingSince time.Time `json:"pendingSince,omitzero"`
	// Seen is the newest LastSeen a threshold rule's transition was judged
	// on: an older reading (a stale read, another replica's late commit)
	// is not judged again.
	Seen  time.Time `json:"seen,omitzero"`
	Alert *Alert    `json:"alert,omitempty"`
	// Outbox holds the raises and clears not yet delivered, oldest first:
	// written with the transition, in the same ETag write, and emptied once
	// every sender took them. A replica that crashed or found the binding
	// down leaves them for the next evaluation after Lease.
	Outbox []Alert `json:"outbox,omitempty"`
	// Lease is until when the replica that wrote or took over the outbox
	// delivers it; another takes it over only afterwards.
	Lease time.Time `json:"lease,omitzero"`
}

// maxOutbox bounds the undelivered transitions kept per rule and device:
// past it the oldest are dropped (and logged), so a binding down for days
// cannot grow a state record without end.
const maxOutbox = 32

// Device is what rules are evaluated on: a device's latest calibrated
// values (a metric without a value is absent) and when it was last seen.
type Device struct {
	ID       string
	Values   map[Metric]float64
	LastSeen time.Time
}

// DeviceOf is what rules judge of a device as the pipeline shows it: its
// id, when it was last seen, and its calibrated values.
func DeviceOf(s telemetry.Summary) Device {
	d := Device{ID: s.DeviceID, LastSeen: s.LastSeen, Values: make(map[Metric]float64, 4)}
	for m, v := range map[Metric]*float64{Temperature: s.Temperature, Humidity: s.Humidity, Pressure: s.Pressure, Light: s.Light} {
		if v != nil {
			d.Values[m] = *v
		}
	}
	return d
}

// Step evaluates r on d at now, from the state cur. It returns the next
// state, whether it differs from cur (a write is due), and the alert to
// deliver when the step raised or cleared one, else nil.
//
// A threshold rule raises when its condition (value > above, or < below)
// has held, at each evaluation, for r.For; it clears only once the value
// is back past the threshold by the rule's margin (hysteresis), so a value
// hovering at the threshold raises once and does not flap. An offline
// rule raises once the device has not been seen for r.OfflineFor and
// clears when it is seen again. Each episode raises once and clears once:
// a firing alert is not raised again, a cleared one not cleared again.
func Step(r Rule, cur State, d Device, now time.Time) (next State, changed bool, delivered *Alert) {
	if !cur.RuleCreated.Equal(r.Created) {
		// State left by a deleted rule of the same id is not taken over.
		changed = cur.Alert != nil || !cur.PendingSince.IsZero()
		cur = State{RuleCreated: r.Created}
	}
	if !r.offline() && d.LastSeen.Before(cur.Seen) {
		return cur, changed, nil
	}
	next, changed, delivered = step(r, cur, d, now, changed)
	if changed && !r.offline() && d.LastSeen.After(next.Seen) {
		next.Seen = d.LastSeen
	}
	return next, changed, delivered
}

func step(r Rule, cur State, d Device, now time.Time, changed bool) (next State, _ bool, delivered *Alert) {
	next = cur
	if next.Alert != nil {
		a := *next.Alert
		next.Alert = &a // never write through into cur
	}
	firing := next.Alert != nil && next.Alert.State == Firing
	metric, value, raise, clear, ok := r.condition(d, now)
	if !ok {
		return next, changed, nil // no value to judge: nothing changes
	}
	switch {
	case firing && clear:
		next.Alert.State, next.Alert.Since, next.Alert.Value = Cleared, now, &value
		return next, true, copyAlert(next.Alert)
	case firing:
		return next, changed, nil
	case !raise:
		if !next.PendingSince.IsZero() {
			next.PendingSince = time.Time{}
			changed = true
		}
		return next, changed, nil
	case next.PendingSince.IsZero() && r.For > 0:
		next.PendingSince = now
		return next, true, nil
	case now.Sub(next.PendingSince) < time.Duration(r.For):
		return next, changed, nil
	}
	next.PendingSince = time.Time{}
	next.Alert = &Alert{RuleID: r.ID, DeviceID: d.ID, Metric: metric, State: Firing, Since: now, Value: &value}
	return next, true, copyAlert(next.Alert)
}

// condition reads d for r: the metric and value judged, whether the value
// raises (the condition holds) and whether it clears (back past the
// hysteresis margin). ok is false when d has no value for r's metric.
func (r Rule) condition(d Device, now time.Time) (m Metric, v float64, raise, clear, ok bool) {
	if r.offline() {
		if d.LastSeen.IsZero() {
			return Offline, 0, false, false, false
		}
		away := now.Sub(d.LastSeen)
		over := away > time.Duration(r.OfflineFor)
		return Offline, away.Round(time.Second).Seconds(), over, !over, true
	}
	v, ok = d.Values[r.Metric]
	if !ok {
		return r.Metric, 0, false, false, false
	}
	if r.Above != nil {
		t := *r.Above
		return r.Metric, v, v > t, v <= t-r.margin(t), true
	}
	t := *r.Below
	return r.Metric, v, v < t, v >= t+r.margin(t), true
}

// same reports whether a and b are one transition: the same rule, device,
// phase and time.
func (a Alert) same(b Alert) bool {
	return a.RuleID == b.RuleID && a.DeviceID == b.DeviceID && a.State == b.State && a.Since.Equal(b.Since)
}

func copyAlert(a *Alert) *Alert {
	c := *a
	return &c
}
