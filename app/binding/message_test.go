package binding

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestMessage(t *testing.T) {
	enq := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name                string
		meta                map[string]string
		wantDevice, wantMsg string
		wantAt              time.Time
	}{
		{"nothing", nil, "", "", time.Time{}},
		{"mqtt topic", map[string]string{"topic": "devices/dev42/messages/events/"}, "dev42", "", time.Time{}},
		{"mqtt topic with properties", map[string]string{"topic": "devices/d-1/messages/events/%24.ct=json"}, "d-1", "", time.Time{}},
		{"other topic", map[string]string{"topic": "sensors/dev42"}, "", "", time.Time{}},
		{"topic without events", map[string]string{"topic": "devices/dev42/twin"}, "", "", time.Time{}},
		{"event hubs", map[string]string{"iothub-connection-device-id": "hub-dev", "message-id": "m-1",
			"iothub-enqueuedtime": enq.Format(time.RFC3339Nano), "x-opt-sequence-number": "9"}, "hub-dev", "m-1", enq},
		{"sequence when no message id", map[string]string{"x-opt-sequence-number": "9"}, "", "seq:9", time.Time{}},
		{"sidecar headers are canonicalised", map[string]string{"Iothub-Connection-Device-Id": "h", "Message-Id": "m",
			"X-Opt-Enqueued-Time": enq.Format(time.RFC3339)}, "h", "m", enq},
		{"authenticated id wins over topic", map[string]string{"iothub-connection-device-id": "real", "topic": "devices/fake/messages/events/"}, "real", "", time.Time{}},
		{"bad time is ignored", map[string]string{"iothub-enqueuedtime": "yesterday"}, "", "", time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Message([]byte("x"), tt.meta)
			assert.Equal(t, tt.wantDevice, m.DeviceID)
			assert.Equal(t, tt.wantMsg, m.MessageID)
			assert.True(t, tt.wantAt.Equal(m.EnqueuedAt), "%v", m.EnqueuedAt)
			assert.Equal(t, "x", string(m.Payload))
		})
	}
}
