package telemetry

import "time"

// Summary is the public shape of a device, the same in the HTTP API and in
// live notifications: camelCase, calibrated values at the top level, a
// missing value as null and 0 as 0.
type Summary struct {
	DeviceID      string    `json:"deviceId"`
	Geo           string    `json:"geo,omitempty"`
	Temperature   *float64  `json:"temperature"`
	Humidity      *float64  `json:"humidity"`
	Pressure      *float64  `json:"pressure"`
	Light         *float64  `json:"light"`
	Raw           Values    `json:"raw"`
	Count         int64     `json:"count"`
	Rejected      int64     `json:"rejected"`
	LastRejection string    `json:"lastRejection,omitempty"`
	FirstSeen     time.Time `json:"firstSeen"`
	LastSeen      time.Time `json:"lastSeen"`
	MessageID     string    `json:"messageId,omitempty"`
	SchemaVersion int       `json:"schemaVersion"`
}

// Summary returns d's public shape.
func (d Device) Summary() Summary {
	return Summary{
		DeviceID:      d.ID,
		Geo:           d.Geo,
		Temperature:   d.Calibrated.Temperature,
		Humidity:      d.Calibrated.Humidity,
		Pressure:      d.Calibrated.Pressure,
		Light:         d.Light,
		Raw:           d.Raw,
		Count:         d.Count,
		Rejected:      d.Rejected,
		LastRejection: d.LastRejection,
		FirstSeen:     d.FirstSeen,
		LastSeen:      d.LastSeen,
		MessageID:     d.MessageID,
		SchemaVersion: d.SchemaVersion,
	}
}
