// Package binding turns what a Dapr input binding delivers (a payload and
// its metadata, in-process or through the sidecar) into a pipeline.Message.
package binding

import (
	"net/url"
	"strings"
	"time"

	"github.com/enviromon/enviromon/app/pipeline"
)

// Metadata keys the bindings set. Through the sidecar they arrive as HTTP
// headers, Go-canonicalised, so lookups ignore case.
const (
	keyDeviceID     = "iothub-connection-device-id" // Event Hubs: IoT Hub's authenticated device
	keyEnqueuedTime = "iothub-enqueuedtime"
	keyOptEnqueued  = "x-opt-enqueued-time"
	keyCreationTime = "iothub-creation-time-utc" // set by the device: an application property
	keyMessageID    = "message-id"
	keySequence     = "x-opt-sequence-number"
	keyTopic        = "topic" // MQTT
)

// Keys of an IoT Hub MQTT topic's property bag. Devices set the creation
// time as the application property iothub-creation-time-utc; the Azure IoT
// SDKs send it as the system property $.ctime.
const (
	bagMessageID    = "$.mid"
	bagCreationTime = "$.ctime"
)

// Message builds the pipeline message for one delivery. The device identity
// comes from IoT Hub's authenticated id, else from an MQTT topic of IoT
// Hub's layout devices/{id}/messages/events/{property_bag}; the message id
// from message-id, else the bag's $.mid, else the Event Hubs sequence
// number; the enqueue time from IoT Hub's or Event Hubs' timestamp; the
// creation time from iothub-creation-time-utc in the metadata, else in the
// bag (or the bag's $.ctime).
func Message(data []byte, meta map[string]string) pipeline.Message {
	get := func(key string) string {
		if v, ok := meta[key]; ok {
			return v
		}
		for k, v := range meta {
			if strings.EqualFold(k, key) {
				return v
			}
		}
		return ""
	}
	id, bag, _ := splitTopic(get(keyTopic))
	props := properties(bag)
	m := pipeline.Message{Payload: data, DeviceID: get(keyDeviceID), MessageID: get(keyMessageID)}
	if m.DeviceID == "" {
		m.DeviceID = id
	}
	if m.MessageID == "" {
		m.MessageID = props[bagMessageID]
	}
	if m.MessageID == "" {
		if seq := get(keySequence); seq != "" {
			m.MessageID = "seq:" + seq
		}
	}
	m.EnqueuedAt = firstTime(get(keyEnqueuedTime), get(keyOptEnqueued))
	m.CreatedAt = firstTime(get(keyCreationTime), props[keyCreationTime], props[bagCreationTime])
	return m
}

// TopicDevice returns the device id of an IoT Hub style MQTT topic,
// devices/{id}/messages/events/{property_bag}, or "" for any other topic.
func TopicDevice(topic string) string {
	id, _, _ := splitTopic(topic)
	return id
}

// splitTopic splits an IoT Hub style MQTT topic into its device id and its
// property bag (still URL-encoded, "" when there is none); ok is false, and
// both are "", for any other topic.
func splitTopic(topic string) (id, bag string, ok bool) {
	rest, ok := strings.CutPrefix(topic, "devices/")
	if !ok {
		return "", "", false
	}
	id, tail, ok := strings.Cut(rest, "/")
	if !ok || id == "" {
		return "", "", false
	}
	if tail == "messages/events" {
		return id, "", true
	}
	bag, ok = strings.CutPrefix(tail, "messages/events/")
	if !ok {
		return "", "", false
	}
	return id, bag, true
}

// properties decodes the property bag of an IoT Hub MQTT topic, pairs of
// URL-encoded key=value joined by &, such as
// %24.mid=abc&iothub-creation-time-utc=2026-11-30T01%3A02%3A03Z. A device
// controls the bag, so nothing in it is trusted to be well formed: a pair
// with a bad escape or an empty key is skipped, a key without = has an
// empty value, and the first of repeated keys wins. A + stays a +, as IoT
// Hub reads it, so an unescaped time zone offset survives. The result is
// nil for an empty bag.
func properties(bag string) map[string]string {
	var props map[string]string
	for pair := range strings.SplitSeq(bag, "&") {
		k, v, _ := strings.Cut(pair, "=")
		key, err := url.PathUnescape(k)
		if err != nil || key == "" {
			continue
		}
		value, err := url.PathUnescape(v)
		if err != nil {
			continue
		}
		if _, seen := props[key]; seen {
			continue
		}
		if props == nil {
			props = make(map[string]string)
		}
		props[key] = value
	}
	return props
}

// firstTime returns the first of values that parses as a time, or the zero
// time.
func firstTime(values ...string) time.Time {
	for _, v := range values {
		if t, ok := parseTime(v); ok {
			return t
		}
	}
	return time.Time{}
}

func parseTime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	layouts := []string{
		time.RFC3339Nano,
		"2006-01-02T15:04:05.999999999", // a UTC creation time written without its Z
		"2006-01-02 15:04:05.999999999 -0700 MST",
		time.RFC1123,
	}
	for _, layout := range layouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
