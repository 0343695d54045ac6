// Package binding turns what a Dapr input binding delivers (a payload and
// its metadata, in-process or through the sidecar) into a pipeline.Message.
package binding

import (
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
	keyMessageID    = "message-id"
	keySequence     = "x-opt-sequence-number"
	keyTopic        = "topic" // MQTT
)

// Message builds the pipeline message for one delivery. The device identity
// comes from IoT Hub's authenticated id, else from an MQTT topic of IoT
// Hub's layout devices/{id}/messages/events/...; the message id from
// message-id, else the Event Hubs sequence number; the enqueue time from
// IoT Hub's or Event Hubs' timestamp.
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
	m := pipeline.Message{Payload: data, DeviceID: get(keyDeviceID), MessageID: get(keyMessageID)}
	if m.DeviceID == "" {
		m.DeviceID = TopicDevice(get(keyTopic))
	}
	if m.MessageID == "" {
		if seq := get(keySequence); seq != "" {
			m.MessageID = "seq:" + seq
		}
	}
	for _, k := range []string{keyEnqueuedTime, keyOptEnqueued} {
		if t, ok := parseTime(get(k)); ok {
			m.EnqueuedAt = t
			break
		}
	}
	return m
}

// TopicDevice returns the device id of an IoT Hub style MQTT topic,
// devices/{id}/messages/events/..., or "" for any other topic.
func TopicDevice(topic string) string {
	rest, ok := strings.CutPrefix(topic, "devices/")
	if !ok {
		return ""
	}
	id, tail, ok := strings.Cut(rest, "/")
	if !ok || !strings.HasPrefix(tail, "messages/events") {
		return ""
	}
	return id
}

func parseTime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999 -0700 MST", time.RFC1123} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
