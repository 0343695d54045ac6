package pipeline

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/telemetry"
)

// A payload that is not telemetry is refused as a whole: acknowledged (no
// error, so no endless redelivery), dead-lettered, counted, and said why.
func TestProcessRefusesPayloads(t *testing.T) {
	tests := []struct {
		name, payload, transportID string
		want                       string // a substring of the reason
		countedOn                  string // the device it is counted on; "" for none
	}{
		{"truncated", `{"deviceId":"d1"`, "", "unexpected end of JSON input", ""},
		{"trailing data", `{"deviceId":"d1"} {}`, "", "after top-level value", ""},
		{"NaN", `{"deviceId":"d1","temperature":NaN}`, "", "invalid character 'N'", ""},
		{"UTF-16", "{\x00}\x00", "", "UTF-16", ""},
		{"too deep", strings.Repeat("[", 1000), "", "nested deeper than 32", ""},
		{"counted on the transport's device", `nope`, "dev-1", "it starts with 'n'", "dev-1"},
		{"not counted on a transport id IoT Hub would refuse", `nope`, "dev 1", "it starts with 'n'", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := start(t, newMemStore(), Config{})
			for range 2 { // a redelivery is refused the same way
				res, err := p.Process(t.Context(), Message{Payload: []byte(tt.payload), DeviceID: tt.transportID, MessageID: "m1"})
				require.NoError(t, err)
				require.ErrorIs(t, res.Refused, telemetry.ErrPayload)
				assert.Contains(t, res.Refused.Error(), tt.want)
				if res.Duplicates == 1 { // counted on a device, which remembers m1
					continue
				}
				assert.Equal(t, Result{Rejected: 1, Reasons: res.Reasons, Refused: res.Refused}, res)
				require.Len(t, res.Reasons, 1)
				assert.Contains(t, res.Reasons[0], tt.want)
			}
			rejected, err := p.Rejected(t.Context())
			require.NoError(t, err)
			require.Len(t, rejected, 1, "dead-lettered once")
			assert.Contains(t, rejected[0].Reason, tt.want)
			assert.Equal(t, tt.countedOn, rejected[0].DeviceID)
			devices, _, err := p.DevicePage(t.Context(), "", 10)
			require.NoError(t, err)
			if tt.countedOn == "" {
				assert.Empty(t, devices, "no device is created")
				return
			}
			require.Len(t, devices, 1)
			assert.Equal(t, tt.countedOn, devices[0].DeviceID)
			assert.Equal(t, int64(1), devices[0].Rejected)
		})
	}
}

// A device id against IoT Hub's rules is refused whichever transport
// brings it: the reading is acknowledged, dead-lettered with the reason and
// creates no device; the others of its message are not touched.
func TestProcessRefusesDeviceIDs(t *testing.T) {
	long := strings.Repeat("a", telemetry.MaxDeviceIDLen+1)
	tests := []struct {
		name, payload, transportID string
		want                       string
	}{
		{"a slash in the payload", `{"deviceId":"a/b","temperature":20}`, "", `holds '/'`},
		{"a space in the payload", `{"deviceId":"a b","temperature":20}`, "", `holds ' '`},
		{"a hash in the payload", `{"deviceId":"a#b","temperature":20}`, "", `holds '#'`},
		{"non-ASCII in the payload", `{"deviceId":"café","temperature":20}`, "", `holds 'é'`},
		{"an escaped control character in the payload", `{"deviceId":"a\u0000","temperature":20}`, "", `holds '\x00'`},
		{"129 characters in the payload", `{"deviceId":"` + long + `","temperature":20}`, "", "at most 128"},
		{"a transport id with a space (MQTT, Event Hubs)", `{"temperature":20}`, "dev 1", `holds ' '`},
		{"a transport id of 129 characters", `{"temperature":20}`, long, "at most 128"},
		{"a non-ASCII transport id", `{"temperature":20}`, "dév", `holds 'é'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := start(t, newMemStore(), Config{})
			for range 2 {
				res, err := p.Process(t.Context(), Message{Payload: []byte(tt.payload), DeviceID: tt.transportID, MessageID: "m1"})
				require.NoError(t, err, "acknowledged, not redelivered forever")
				assert.NoError(t, res.Refused, "the payload is telemetry; its reading is invalid")
				assert.Equal(t, 1, res.Rejected)
				require.Len(t, res.Reasons, 1)
				assert.Contains(t, res.Reasons[0], tt.want)
			}
			rejected, err := p.Rejected(t.Context())
			require.NoError(t, err)
			require.NotEmpty(t, rejected)
			assert.Contains(t, rejected[0].Reason, tt.want)
			devices, _, err := p.DevicePage(t.Context(), "", 10)
			require.NoError(t, err)
			assert.Empty(t, devices, "no device is created")
			assert.Equal(t, int64(2), p.Metrics().Snapshot().Rejected)
		})
	}

	t.Run("a huge payload id beside the transport's is quoted in part", func(t *testing.T) {
		p := start(t, newMemStore(), Config{})
		res, err := p.Process(t.Context(), Message{DeviceID: "dev-1",
			Payload: []byte(`{"deviceId":"` + strings.Repeat("x", 100_000) + `","temperature":20}`)})
		require.NoError(t, err)
		require.Len(t, res.Reasons, 1)
		assert.Contains(t, res.Reasons[0], `but the transport authenticated "dev-1"`)
		assert.Less(t, len(res.Reasons[0]), 400, "the reason is stored with the rejection")
	})
	t.Run("the other readings of a batch are kept", func(t *testing.T) {
		p := start(t, newMemStore(), Config{})
		res, err := p.Process(t.Context(), Message{Payload: []byte(
			`[{"deviceId":"ok-1","temperature":20},{"deviceId":"no/1","temperature":20},{"deviceId":"ok-2","temperature":20}]`)})
		require.NoError(t, err)
		assert.Equal(t, 2, res.Accepted)
		assert.Equal(t, 1, res.Rejected)
		assert.Equal(t, int64(1), device(t, p, "ok-1").Count)
		assert.Equal(t, int64(1), device(t, p, "ok-2").Count)
	})
	t.Run("every id IoT Hub allows is accepted and read back", func(t *testing.T) {
		p := start(t, newMemStore(), Config{})
		for _, id := range []string{telemetry.DeviceIDPunctuation, "a%2Fb", "a%b", "?", "'$'", strings.Repeat("Z", 128)} {
			res, err := p.Process(t.Context(), Message{Payload: []byte(`{"temperature":20}`), DeviceID: id})
			require.NoError(t, err)
			assert.Equal(t, 1, res.Accepted, id)
			assert.Equal(t, id, device(t, p, id).DeviceID)
		}
	})
}

// The refusal of a whole payload is how a caller tells it from readings
// that are merely invalid; it never reaches a context or store error.
func TestRefusedIsOnlyForPayloads(t *testing.T) {
	p := start(t, newMemStore(), Config{})
	res, err := p.Process(context.Background(), Message{Payload: []byte(`[{"deviceId":"d"},{"deviceId":"d","temperature":999}]`)})
	require.NoError(t, err)
	assert.NoError(t, res.Refused)
	assert.Equal(t, 1, res.Accepted)
	assert.Equal(t, 1, res.Rejected)
}
