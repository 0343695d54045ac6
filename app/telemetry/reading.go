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
	"unicode/utf8"
)

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

// Decode parses a payload holding one JSON object or a JSON array of them,
// as UTF-8 text (a leading UTF-8 byte order mark is ignored). A payload
// that is neither, or that is larger than MaxPayload, nests deeper than
// MaxDepth or holds more than MaxReadings items, returns an error wrapping
// ErrPayload that says why; a single bad object or field does not fail the
// others, it sets that Reading's Problem.
func Decode(data []byte) ([]Reading, error) {
	if len(data) > MaxPayload {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrPayload, len(data), MaxPayload)
	}
	data, items, err := jsonText(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPayload, err)
	}
	switch data[0] {
	case '{':
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(data, &obj); err != nil {
			return nil, syntaxError(err)
		}
		return []Reading{decodeObject(obj)}, nil
	case '[':
		if items > MaxReadings {
			if err := json.Unmarshal(data, &struct{}{}); isSyntax(err) {
				return nil, syntaxError(err)
			}
			return nil, fmt.Errorf("%w: %d readings, at most %d", ErrPayload, items, MaxReadings)
		}
		// One parse for the whole array: an item that is not an object is
		// a type error, which encoding/json reports after decoding the
		// rest, leaving that item nil.
		var objs []map[string]json.RawMessage
		if err := json.Unmarshal(data, &objs); isSyntax(err) {
			return nil, syntaxError(err)
		}
		if len(objs) == 0 {
			return nil, fmt.Errorf("%w: empty array", ErrPayload)
		}
		out := make([]Reading, len(objs))
		for i, obj := range objs {
			if obj == nil {
				out[i] = Reading{Problem: fmt.Sprintf("item %d is not a JSON object", i)}
				continue
			}
			out[i] = decodeObject(obj)
		}
		return out, nil
	default:
		r, _ := utf8.DecodeRune(data)
		return nil, fmt.Errorf("%w: it starts with %q", ErrPayload, r)
	}
}

// isSyntax tells a JSON syntax error from encoding/json's other errors.
func isSyntax(err error) bool {
	var typeErr *json.UnmarshalTypeError
	return err != nil && !errors.As(err, &typeErr)
}

// syntaxError wraps encoding/json's error in ErrPayload, with the offset
// where the text went wrong.
func syntaxError(err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Errorf("%w: %v (at byte %d)", ErrPayload, err, syn.Offset)
	}
	return fmt.Errorf("%w: %v", ErrPayload, err)
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
// encoding/json hands a json.RawMessage the value's bytes, never empty,
// without the whitespace around them.
func lookup(obj map[string]json.RawMessage, aliases []string) (string, json.RawMessage, bool) {
	for _, name := range aliases {
		raw, ok := obj[name]
		if !ok || string(raw) == "null" {
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
	switch {
	case !ok:
		return "", nil
	case raw[0] == '"':
		s, err := unquote(raw)
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		return s, nil
	case numbers && isNumber(raw):
		return string(raw), nil
	case numbers:
		return "", fmt.Errorf("%s: not a string or number", name)
	}
	return "", fmt.Errorf("%s: not a string", name)
}

// unquote returns the text of a JSON string. Most strings hold no escape,
// and Decode has checked that the payload is valid JSON and UTF-8, so
// their text is the bytes between the quotes, taken without
// encoding/json's reflection.
func unquote(raw []byte) (string, error) {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1]), nil
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

// isNumber tells a JSON number from JSON's other values by its first byte,
// which is enough in text that encoding/json has checked.
func isNumber(raw []byte) bool {
	return len(raw) > 0 && (raw[0] == '-' || '0' <= raw[0] && raw[0] <= '9')
}

// numberField reads a bare JSON number. A string holding a number ("25") is
// the wrong type for a reading, and is refused.
func numberField(obj map[string]json.RawMessage, aliases []string) (*float64, error) {
	name, raw, ok := lookup(obj, aliases)
	if !ok {
		return nil, nil
	}
	if !isNumber(raw) {
		return nil, fmt.Errorf("%s: not a number", name)
	}
	// JSON's number syntax is a subset of ParseFloat's; the only error left
	// is a value beyond float64's range.
	v, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return nil, fmt.Errorf("%s: %s is not a finite number", name, clip(raw))
	}
	return &v, nil
}

// clip bounds the text of a value quoted in a Problem, which is stored with
// the rejection: a payload may hold a number of 200,000 digits.
func clip(raw []byte) string {
	const keep = 32
	if len(raw) <= keep {
		return string(raw)
	}
	return string(raw[:keep]) + "…"
}
