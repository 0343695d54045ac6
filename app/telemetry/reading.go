// Package telemetry holds Enviromon's domain: readings and how they are
// decoded, calibrated and validated, and the per-device state they update.
// It imports only the standard library.
package telemetry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// Payload bounds: IoT Hub's device-to-cloud message limit, and how many
// readings one payload may carry.
const (
	MaxPayload  = 256 << 10
	MaxReadings = 1000
)

// ErrPayload is returned by Decode when a payload is not telemetry at all.
var ErrPayload = errors.New("payload is not a JSON object or array of objects")

// Reading is one telemetry message from a device. A missing value is nil,
// never zero: 0.0 °C is a real temperature.
type Reading struct {
	DeviceID    string
	MessageID   string
	Geo         string
	Temperature *float64
	Humidity    *float64
	Pressure    *float64
	Light       *float64
	// Problem says why the reading could not be decoded (a field of the wrong
	// type, a number out of float range); empty when it decoded cleanly.
	Problem string
}

// Field aliases of the original system; the first one present wins.
var (
	deviceIDAliases    = []string{"deviceId", "DeviceId"}
	messageIDAliases   = []string{"messageId", "Id"}
	geoAliases         = []string{"geo", "Geo"}
	temperatureAliases = []string{"temperature", "Temperature", "Celsius"}
	humidityAliases    = []string{"humidity", "Humidity"}
	pressureAliases    = []string{"pressure", "Pressure", "hPa", "HPa"}
	lightAliases       = []string{"light", "Light"}
)

// Decode parses a payload holding one JSON object or a JSON array of them.
// A payload that is neither returns an error wrapping ErrPayload; a single
// bad object or field does not fail the others, it sets that Reading's
// Problem.
func Decode(data []byte) ([]Reading, error) {
	if len(data) > MaxPayload {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrPayload, len(data), MaxPayload)
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrPayload)
	}
	switch data[0] {
	case '{':
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(data, &obj); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrPayload, err)
		}
		return []Reading{decodeObject(obj)}, nil
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(data, &items); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrPayload, err)
		}
		if len(items) == 0 {
			return nil, fmt.Errorf("%w: empty array", ErrPayload)
		}
		if len(items) > MaxReadings {
			return nil, fmt.Errorf("%w: %d readings, at most %d", ErrPayload, len(items), MaxReadings)
		}
		out := make([]Reading, len(items))
		for i, item := range items {
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(item, &obj); err != nil || obj == nil {
				out[i] = Reading{Problem: fmt.Sprintf("item %d is not a JSON object", i)}
				continue
			}
			out[i] = decodeObject(obj)
		}
		return out, nil
	default:
		return nil, ErrPayload
	}
}

func decodeObject(obj map[string]json.RawMessage) Reading {
	var r Reading
	var problems []string
	note := func(err error) {
		if err != nil {
			problems = append(problems, err.Error())
		}
	}
	var err error
	r.DeviceID, err = stringField(obj, deviceIDAliases, false)
	note(err)
	r.MessageID, err = stringField(obj, messageIDAliases, true)
	note(err)
	r.Geo, err = stringField(obj, geoAliases, false)
	note(err)
	r.Temperature, err = numberField(obj, temperatureAliases)
	note(err)
	r.Humidity, err = numberField(obj, humidityAliases)
	note(err)
	r.Pressure, err = numberField(obj, pressureAliases)
	note(err)
	r.Light, err = numberField(obj, lightAliases)
	note(err)
	if len(problems) > 0 {
		r.Problem = problems[0]
		for _, p := range problems[1:] {
			r.Problem += "; " + p
		}
	}
	return r
}

// lookup returns the raw value of the first alias present and not null.
func lookup(obj map[string]json.RawMessage, aliases []string) (string, json.RawMessage, bool) {
	for _, name := range aliases {
		raw, ok := obj[name]
		if !ok {
			continue
		}
		if string(bytes.TrimSpace(raw)) == "null" {
			continue
		}
		return name, raw, true
	}
	return "", nil, false
}

// stringField reads a string; with numbers true a JSON number is taken as
// its literal text (the Raspberry Pi simulator sends numeric message ids).
func stringField(obj map[string]json.RawMessage, aliases []string, numbers bool) (string, error) {
	name, raw, ok := lookup(obj, aliases)
	if !ok {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	if numbers {
		var n json.Number
		if err := json.Unmarshal(raw, &n); err == nil {
			return n.String(), nil
		}
		return "", fmt.Errorf("%s: not a string or number", name)
	}
	return "", fmt.Errorf("%s: not a string", name)
}

func numberField(obj map[string]json.RawMessage, aliases []string) (*float64, error) {
	name, raw, ok := lookup(obj, aliases)
	if !ok {
		return nil, nil
	}
	// json.Number also accepts a string holding a number ("25"); a string is
	// the wrong type for a reading, so only a bare JSON number is taken.
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil || bytes.HasPrefix(bytes.TrimSpace(raw), []byte(`"`)) {
		return nil, fmt.Errorf("%s: not a number", name)
	}
	v, err := strconv.ParseFloat(n.String(), 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return nil, fmt.Errorf("%s: %s is not a finite number", name, n.String())
	}
	return &v, nil
}
