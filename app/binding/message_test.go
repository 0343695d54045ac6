package binding

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestMessage(t *testing.T) {
	enq := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	created := time.Date(2026, 11, 30, 1, 2, 3, 456e6, time.UTC)
	tests := []struct {
		name                string
		meta                map[string]string
		wantDevice, wantMsg string
		wantAt, wantCreated time.Time
	}{
		{"nothing", nil, "", "", time.Time{}, time.Time{}},
		{"mqtt topic", map[string]string{"topic": "devices/dev42/messages/events/"}, "dev42", "", time.Time{}, time.Time{}},
		{"mqtt topic without the last slash", map[string]string{"topic": "devices/dev42/messages/events"}, "dev42", "", time.Time{}, time.Time{}},
		{"mqtt topic with properties", map[string]string{"topic": "devices/d-1/messages/events/%24.ct=json"}, "d-1", "", time.Time{}, time.Time{}},
		// A topic's device id is taken as it is: the pipeline checks it by
		// IoT Hub's rules and refuses it there, as for every transport.
		{"mqtt topic id with a space, for the pipeline to refuse", map[string]string{"topic": "devices/a b/messages/events/"}, "a b", "", time.Time{}, time.Time{}},
		{"mqtt topic id not ASCII", map[string]string{"topic": "devices/café/messages/events/"}, "café", "", time.Time{}, time.Time{}},
		{"mqtt topic id with a % is not unescaped", map[string]string{"topic": "devices/a%2Fb/messages/events/"}, "a%2Fb", "", time.Time{}, time.Time{}},
		{"other topic", map[string]string{"topic": "sensors/dev42"}, "", "", time.Time{}, time.Time{}},
		{"topic without events", map[string]string{"topic": "devices/dev42/twin"}, "", "", time.Time{}, time.Time{}},
		{"topic of another events path", map[string]string{"topic": "devices/dev42/messages/eventsx/"}, "", "", time.Time{}, time.Time{}},
		{"event hubs", map[string]string{"iothub-connection-device-id": "hub-dev", "message-id": "m-1",
			"iothub-enqueuedtime": enq.Format(time.RFC3339Nano), "x-opt-sequence-number": "9"}, "hub-dev", "m-1", enq, time.Time{}},
		{"sequence when no message id", map[string]string{"x-opt-sequence-number": "9"}, "", "seq:9", time.Time{}, time.Time{}},
		{"sidecar headers are canonicalised", map[string]string{"Iothub-Connection-Device-Id": "h", "Message-Id": "m",
			"X-Opt-Enqueued-Time": enq.Format(time.RFC3339), "Iothub-Creation-Time-Utc": "2026-11-30T01:02:03.456Z"}, "h", "m", enq, created},
		{"authenticated id wins over topic", map[string]string{"iothub-connection-device-id": "real", "topic": "devices/fake/messages/events/"}, "real", "", time.Time{}, time.Time{}},
		{"bad time is ignored", map[string]string{"iothub-enqueuedtime": "yesterday", "iothub-creation-time-utc": "soon"}, "", "", time.Time{}, time.Time{}},
		{"bag gives message id and creation time", map[string]string{
			"topic": "devices/d1/messages/events/%24.mid=abc&iothub-creation-time-utc=2026-11-30T01%3A02%3A03.456Z"}, "d1", "abc", time.Time{}, created},
		{"bag's $.ctime", map[string]string{"topic": "devices/d1/messages/events/$.ctime=2026-11-30T01:02:03.456Z"}, "d1", "", time.Time{}, created},
		{"metadata message id wins over the bag's", map[string]string{"message-id": "meta",
			"topic": "devices/d1/messages/events/%24.mid=abc"}, "d1", "meta", time.Time{}, time.Time{}},
		{"bag's message id wins over the sequence number", map[string]string{"x-opt-sequence-number": "9",
			"topic": "devices/d1/messages/events/%24.mid=abc"}, "d1", "abc", time.Time{}, time.Time{}},
		{"metadata creation time wins over the bag's", map[string]string{"iothub-creation-time-utc": "2026-11-30T01:02:03.456Z",
			"topic": "devices/d1/messages/events/iothub-creation-time-utc=2020-01-01T00%3A00%3A00Z"}, "d1", "", time.Time{}, created},
		{"bad metadata creation time falls back to the bag", map[string]string{"iothub-creation-time-utc": "soon",
			"topic": "devices/d1/messages/events/iothub-creation-time-utc=2026-11-30T01%3A02%3A03.456Z"}, "d1", "", time.Time{}, created},
		{"offset with a raw +", map[string]string{
			"topic": "devices/d1/messages/events/iothub-creation-time-utc=2026-11-30T02:02:03.456+01:00"}, "d1", "", time.Time{}, created},
		{"creation time without its Z is UTC", map[string]string{"iothub-creation-time-utc": "2026-11-30T01:02:03.456"}, "", "", time.Time{}, created},
		{"bad escape in the bag loses only its pair", map[string]string{
			"topic": "devices/d1/messages/events/%24.mid=a%zz&iothub-creation-time-utc=2026-11-30T01%3A02%3A03.456Z"}, "d1", "", time.Time{}, created},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Message([]byte("x"), tt.meta)
			assert.Equal(t, tt.wantDevice, m.DeviceID)
			assert.Equal(t, tt.wantMsg, m.MessageID)
			assert.True(t, tt.wantAt.Equal(m.EnqueuedAt), "enqueued %v", m.EnqueuedAt)
			assert.True(t, tt.wantCreated.Equal(m.CreatedAt), "created %v", m.CreatedAt)
			assert.Equal(t, "x", string(m.Payload))
		})
	}
}

func TestTopicDevice(t *testing.T) {
	tests := []struct{ topic, want string }{
		{"devices/d1/messages/events/", "d1"},
		{"devices/d1/messages/events/%24.mid=abc&iothub-creation-time-utc=2026-11-30T01%3A02%3A03.456Z", "d1"},
		{"devices/d1/messages/events/a/b", "d1"},
		{"devices/d1/messages/events", "d1"},
		{"devices//messages/events/", ""},
		{"devices/d1/messages/devicebound/", ""},
		{"devices/d1", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.topic, func(t *testing.T) {
			assert.Equal(t, tt.want, TopicDevice(tt.topic))
		})
	}
}

func TestProperties(t *testing.T) {
	tests := []struct {
		name, bag string
		want      map[string]string
	}{
		{"empty", "", nil},
		{"only separators", "&&&", nil},
		{"system and application properties", "%24.mid=abc&%24.ct=application%2Fjson&iothub-creation-time-utc=2026-11-30T01%3A02%3A03.456Z",
			map[string]string{"$.mid": "abc", "$.ct": "application/json", "iothub-creation-time-utc": "2026-11-30T01:02:03.456Z"}},
		{"unencoded $ key", "$.mid=abc", map[string]string{"$.mid": "abc"}},
		{"first of repeated keys wins", "k=1&k=2", map[string]string{"k": "1"}},
		{"key without value", "flag&k=v", map[string]string{"flag": "", "k": "v"}},
		{"empty key is skipped", "=v&k=v", map[string]string{"k": "v"}},
		{"= inside a value", "k=a=b", map[string]string{"k": "a=b"}},
		{"bad escape in a value skips the pair", "a=%zz&b=2", map[string]string{"b": "2"}},
		{"bad escape in a key skips the pair", "%g1=1&b=2", map[string]string{"b": "2"}},
		{"truncated escape", "a=%2", nil},
		{"plus stays a plus", "t=01%3A00+01%3A00", map[string]string{"t": "01:00+01:00"}},
		{"escaped separators", "k=a%26b%3Dc", map[string]string{"k": "a&b=c"}},
		{"semicolons are not separators", "a=1;b=2", map[string]string{"a": "1;b=2"}},
		{"escaped non-ASCII", "k=%C3%A9", map[string]string{"k": "é"}},
		{"long bag", strings.Repeat("k=v&", 1000) + "z=1", map[string]string{"k": "v", "z": "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, properties(tt.bag))
		})
	}
}

// FuzzMessage feeds arbitrary topics and metadata: Message must never panic
// and must keep the device id of an IoT Hub topic whatever its bag holds.
func FuzzMessage(f *testing.F) {
	f.Add("%24.mid=abc&iothub-creation-time-utc=2026-11-30T01%3A02%3A03.456Z", "x")
	f.Add("%zz&&=&%", "2026-13-40T99:99:99Z")
	f.Fuzz(func(t *testing.T, bag, created string) {
		m := Message(nil, map[string]string{"topic": "devices/d1/messages/events/" + bag, "iothub-creation-time-utc": created})
		assert.Equal(t, "d1", m.DeviceID)
	})
}
