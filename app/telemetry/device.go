package telemetry

import (
	"slices"
	"time"
)

// SchemaVersion is the version of the stored Device record written now.
const SchemaVersion = 1

// Values are the temperature, humidity and pressure of one reading.
type Values struct {
	Temperature *float64 `json:"temperature"`
	Humidity    *float64 `json:"humidity"`
	Pressure    *float64 `json:"pressure"`
}

// Device is the stored state of one device. It is what the state store
// holds under the device's key and what a commit replaces whole.
type Device struct {
	ID            string    `json:"deviceId"`
	Geo           string    `json:"geo,omitempty"`
	Raw           Values    `json:"raw"`
	Calibrated    Values    `json:"calibrated"`
	Light         *float64  `json:"light,omitempty"`
	Count         int64     `json:"count"`
	Rejected      int64     `json:"rejected"`
	LastRejection string    `json:"lastRejection,omitempty"`
	FirstSeen     time.Time `json:"firstSeen"`
	LastSeen      time.Time `json:"lastSeen"`
	// ReadingsAt is the time of the message whose readings are shown. An
	// invalid message advances LastSeen but shows nothing, so LastSeen cannot
	// tell whether a late valid message is newer than the readings on show.
	ReadingsAt    time.Time `json:"readingsAt,omitzero"`
	MessageID     string    `json:"messageId,omitempty"`
	SchemaVersion int       `json:"schemaVersion"`
	// Recent holds the ids of the latest messages applied, oldest first, so
	// that a redelivered message is recognised in the same ETag write that
	// would count it.
	Recent []string `json:"recent,omitempty"`
	// Pending is the device's history not yet in its hour records, a
	// minute each, oldest first (see Pend).
	Pending []MinuteBuckets `json:"pending,omitempty"`
}

// Input is one message for a device, prepared for Apply: decoded,
// calibrated and validated outside the commit loop, so that a retry after a
// conflict re-applies it without doing that work again.
type Input struct {
	DeviceID   string
	MessageID  string // "" when neither payload nor transport gave one
	Raw        Reading
	Calibrated Reading
	Invalid    error     // nil when the reading is valid
	At         time.Time // enqueue time, else receive time
}

// Outcome is what Apply did with an Input.
type Outcome int

// Outcomes of Apply. The zero value is none of them: not applied (yet).
const (
	_ Outcome = iota
	Accepted
	Rejected
	Duplicate
)

// String names the outcome.
func (o Outcome) String() string {
	switch o {
	case Accepted:
		return "accepted"
	case Rejected:
		return "rejected"
	case Duplicate:
		return "duplicate"
	default:
		return "unapplied"
	}
}

// Apply records in on d. A message id already in the recent window is a
// Duplicate and changes nothing. An invalid input raises Rejected and keeps
// its reason; a valid one raises Count and, unless it is older than what d
// already shows (ReadingsAt), replaces the latest readings. window bounds
// Recent.
func (d *Device) Apply(in Input, window int) Outcome {
	if in.MessageID != "" && slices.Contains(d.Recent, in.MessageID) {
		return Duplicate
	}
	if d.ID == "" {
		d.ID = in.DeviceID
	}
	d.SchemaVersion = SchemaVersion
	if d.FirstSeen.IsZero() || in.At.Before(d.FirstSeen) {
		d.FirstSeen = in.At
	}
	if !in.At.Before(d.LastSeen) {
		d.LastSeen = in.At
	}
	if in.MessageID != "" && window > 0 {
		// Always a new array: Device is copied by value, and appending into
		// a backing array shared with a copy would rewrite the copy's ids.
		keep := d.Recent[max(0, len(d.Recent)-window+1):]
		d.Recent = append(slices.Clip(keep), in.MessageID)
	}
	if in.Invalid != nil {
		d.Rejected++
		d.LastRejection = in.Invalid.Error()
		return Rejected
	}
	d.Count++
	if !in.At.Before(d.ReadingsAt) {
		d.ReadingsAt = in.At
		d.Raw = values(in.Raw)
		d.Calibrated = values(in.Calibrated)
		d.Light = in.Calibrated.Light
		d.MessageID = in.MessageID
		if in.Raw.Geo != "" {
			d.Geo = in.Raw.Geo
		}
	}
	return Accepted
}

func values(r Reading) Values {
	return Values{Temperature: r.Temperature, Humidity: r.Humidity, Pressure: r.Pressure}
}
