package telemetry_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/telemetry"
)

// f64 returns a pointer to v, for readings and calibrations in tables.
func f64(v float64) *float64 { return &v }

func TestDecodeAliases(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    telemetry.Reading
	}{
		{"deviceId", `{"deviceId":"d1"}`, telemetry.Reading{DeviceID: "d1"}},
		{"DeviceId", `{"DeviceId":"d1"}`, telemetry.Reading{DeviceID: "d1"}},
		{"temperature", `{"temperature":21.5}`, telemetry.Reading{Temperature: f64(21.5)}},
		{"Temperature", `{"Temperature":21.5}`, telemetry.Reading{Temperature: f64(21.5)}},
		{"Celsius", `{"Celsius":21.5}`, telemetry.Reading{Temperature: f64(21.5)}},
		{"humidity", `{"humidity":64}`, telemetry.Reading{Humidity: f64(64)}},
		{"Humidity", `{"Humidity":64}`, telemetry.Reading{Humidity: f64(64)}},
		{"pressure", `{"pressure":1013.25}`, telemetry.Reading{Pressure: f64(1013.25)}},
		{"Pressure", `{"Pressure":1013.25}`, telemetry.Reading{Pressure: f64(1013.25)}},
		{"hPa", `{"hPa":1013.25}`, telemetry.Reading{Pressure: f64(1013.25)}},
		{"HPa", `{"HPa":1013.25}`, telemetry.Reading{Pressure: f64(1013.25)}},
		{"light", `{"light":300}`, telemetry.Reading{Light: f64(300)}},
		{"Light", `{"Light":300}`, telemetry.Reading{Light: f64(300)}},
		{"geo", `{"geo":"Sydney"}`, telemetry.Reading{Geo: "Sydney"}},
		{"Geo", `{"Geo":"Sydney"}`, telemetry.Reading{Geo: "Sydney"}},
		{"messageId", `{"messageId":"m1"}`, telemetry.Reading{MessageID: "m1"}},
		{"Id", `{"Id":"m1"}`, telemetry.Reading{MessageID: "m1"}},
		{"alias names are case-sensitive: an unknown spelling is ignored",
			`{"DEVICEID":"d1","celsius":5,"hpa":900,"ID":"m1"}`, telemetry.Reading{}},

		// First present alias wins, in alias order, whatever the document order.
		{"deviceId before DeviceId", `{"DeviceId":"b","deviceId":"a"}`, telemetry.Reading{DeviceID: "a"}},
		{"temperature before Temperature", `{"Temperature":2,"temperature":1}`, telemetry.Reading{Temperature: f64(1)}},
		{"temperature before Celsius", `{"Celsius":3,"temperature":1}`, telemetry.Reading{Temperature: f64(1)}},
		{"Temperature before Celsius", `{"Celsius":3,"Temperature":2}`, telemetry.Reading{Temperature: f64(2)}},
		{"humidity before Humidity", `{"Humidity":2,"humidity":1}`, telemetry.Reading{Humidity: f64(1)}},
		{"pressure before all others", `{"HPa":4,"hPa":3,"Pressure":2,"pressure":1}`, telemetry.Reading{Pressure: f64(1)}},
		{"Pressure before hPa", `{"HPa":4,"hPa":3,"Pressure":2}`, telemetry.Reading{Pressure: f64(2)}},
		{"hPa before HPa", `{"HPa":4,"hPa":3}`, telemetry.Reading{Pressure: f64(3)}},
		{"light before Light", `{"Light":2,"light":1}`, telemetry.Reading{Light: f64(1)}},
		{"geo before Geo", `{"Geo":"b","geo":"a"}`, telemetry.Reading{Geo: "a"}},
		{"messageId before Id", `{"Id":"b","messageId":"a"}`, telemetry.Reading{MessageID: "a"}},
		{"a null first alias is missing, so the next one wins",
			`{"temperature":null,"Celsius":7,"deviceId":null,"DeviceId":"d2"}`,
			telemetry.Reading{DeviceID: "d2", Temperature: f64(7)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := telemetry.Decode([]byte(tt.payload))
			require.NoError(t, err)
			require.Len(t, got, 1)
			assert.Equal(t, tt.want, got[0])
		})
	}
}

func TestDecodeValues(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    telemetry.Reading
	}{
		{"empty object: every value missing, none zero", `{}`, telemetry.Reading{}},
		{"0.0 is kept as 0, not as missing",
			`{"deviceId":"d","temperature":0.0,"humidity":0,"pressure":0,"light":0}`,
			telemetry.Reading{DeviceID: "d", Temperature: f64(0), Humidity: f64(0), Pressure: f64(0), Light: f64(0)}},
		{"null is missing",
			`{"deviceId":null,"messageId":null,"geo":null,"temperature":null,"humidity":null,"pressure":null,"light":null}`,
			telemetry.Reading{}},
		{"negative and fractional values",
			`{"temperature":-12.75,"pressure":1e3}`,
			telemetry.Reading{Temperature: f64(-12.75), Pressure: f64(1000)}},
		{"Raspberry Pi web simulator: numeric message id becomes its text, no pressure",
			`{"messageId": 42, "deviceId": "Raspberry Pi Web Client", "temperature": 26.52, "humidity": 71.3}`,
			telemetry.Reading{MessageID: "42", DeviceID: "Raspberry Pi Web Client", Temperature: f64(26.52), Humidity: f64(71.3)}},
		{"numeric Id alias",
			`{"Id": 7}`, telemetry.Reading{MessageID: "7"}},
		{"numeric message id beyond int64 keeps its digits",
			`{"messageId": 123456789012345678901234567890}`,
			telemetry.Reading{MessageID: "123456789012345678901234567890"}},
		{"BME280 device with every field",
			`{"DeviceId":"bme-1","Id":"m-9","Geo":"Perth","Celsius":18.5,"Humidity":40,"hPa":1009.2,"Light":12}`,
			telemetry.Reading{DeviceID: "bme-1", MessageID: "m-9", Geo: "Perth",
				Temperature: f64(18.5), Humidity: f64(40), Pressure: f64(1009.2), Light: f64(12)}},
		{"unknown fields are ignored",
			`{"deviceId":"d","firmware":{"v":2},"tags":["a"]}`,
			telemetry.Reading{DeviceID: "d"}},
		{"surrounding whitespace", " \n\t{\"deviceId\":\"d\"}\r\n ", telemetry.Reading{DeviceID: "d"}},
		{"escapes in strings", `{"deviceId":"d\u002d1","geo":"Z\u00fcrich \"old town\"\n","messageId":"m\/1"}`,
			telemetry.Reading{DeviceID: "d-1", Geo: "Zürich \"old town\"\n", MessageID: "m/1"}},
		{"whitespace inside the object", "{ \"deviceId\" : \"d\" ,\n\"temperature\"\t: 1.5 , \"messageId\" : 7 }",
			telemetry.Reading{DeviceID: "d", MessageID: "7", Temperature: f64(1.5)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := telemetry.Decode([]byte(tt.payload))
			require.NoError(t, err)
			require.Len(t, got, 1)
			assert.Equal(t, tt.want, got[0])
		})
	}
}

func TestDecodeProblems(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		field   string // the alias the Problem must name
	}{
		{"temperature is a word", `{"deviceId":"d","temperature":"hot"}`, "temperature"},
		{"temperature is a quoted number", `{"deviceId":"d","temperature":"25"}`, "temperature"},
		{"temperature is true", `{"deviceId":"d","temperature":true}`, "temperature"},
		{"temperature is an object", `{"deviceId":"d","temperature":{}}`, "temperature"},
		{"temperature is an array", `{"deviceId":"d","temperature":[]}`, "temperature"},
		{"Celsius is a word", `{"deviceId":"d","Celsius":"cold"}`, "Celsius"},
		{"humidity is a word", `{"deviceId":"d","humidity":"wet"}`, "humidity"},
		{"Humidity is false", `{"deviceId":"d","Humidity":false}`, "Humidity"},
		{"pressure is an object", `{"deviceId":"d","pressure":{"v":1}}`, "pressure"},
		{"hPa is an array", `{"deviceId":"d","hPa":[1013]}`, "hPa"},
		{"light is a word", `{"deviceId":"d","light":"bright"}`, "light"},
		{"deviceId is a number", `{"deviceId":42}`, "deviceId"},
		{"DeviceId is true", `{"DeviceId":true}`, "DeviceId"},
		{"deviceId is an object", `{"deviceId":{"id":"d"}}`, "deviceId"},
		{"geo is a number", `{"deviceId":"d","geo":5}`, "geo"},
		{"messageId is true", `{"deviceId":"d","messageId":true}`, "messageId"},
		{"Id is an array", `{"deviceId":"d","Id":[1]}`, "Id"},
		{"temperature 1e400 is out of float range", `{"deviceId":"d","temperature":1e400}`, "temperature"},
		{"Celsius -1e400 is out of float range", `{"deviceId":"d","Celsius":-1e400}`, "Celsius"},
		{"humidity 1e309 is out of float range", `{"deviceId":"d","humidity":1e309}`, "humidity"},
		{"pressure 1e400 is out of float range", `{"deviceId":"d","pressure":1e400}`, "pressure"},
		{"light 1e400 is out of float range", `{"deviceId":"d","light":1e400}`, "light"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := telemetry.Decode([]byte(tt.payload))
			require.NoError(t, err, "one bad field is the reading's problem, not the payload's")
			require.Len(t, got, 1)
			assert.Contains(t, got[0].Problem, tt.field)
		})
	}

	t.Run("the other fields still decode beside a bad one", func(t *testing.T) {
		got, err := telemetry.Decode([]byte(`{"deviceId":"d","messageId":"m","temperature":"hot","humidity":50}`))
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, "d", got[0].DeviceID, "the device id is needed to count the rejection")
		assert.Equal(t, "m", got[0].MessageID)
		assert.Nil(t, got[0].Temperature)
		assert.Equal(t, f64(50), got[0].Humidity)
	})
	t.Run("a number of 100,000 digits is clipped in the problem", func(t *testing.T) {
		got, err := telemetry.Decode([]byte(`{"deviceId":"d","temperature":1` + strings.Repeat("0", 100_000) + `}`))
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Contains(t, got[0].Problem, "temperature: 100000")
		assert.Less(t, len(got[0].Problem), 100, "the problem is stored with the rejection")
	})
	t.Run("every bad field is named", func(t *testing.T) {
		got, err := telemetry.Decode([]byte(`{"deviceId":1,"humidity":"x","pressure":1e400}`))
		require.NoError(t, err)
		require.Len(t, got, 1)
		for _, field := range []string{"deviceId", "humidity", "pressure"} {
			assert.Contains(t, got[0].Problem, field)
		}
		assert.Contains(t, got[0].Problem, "1e400")
	})
}

func TestDecodeArrays(t *testing.T) {
	t.Run("a single object is one reading", func(t *testing.T) {
		got, err := telemetry.Decode([]byte(`{"deviceId":"a","temperature":1}`))
		require.NoError(t, err)
		assert.Equal(t, []telemetry.Reading{{DeviceID: "a", Temperature: f64(1)}}, got)
	})
	t.Run("an array keeps its order", func(t *testing.T) {
		got, err := telemetry.Decode([]byte(`[{"deviceId":"a","temperature":1},{"DeviceId":"b","Celsius":2}]`))
		require.NoError(t, err)
		assert.Equal(t, []telemetry.Reading{
			{DeviceID: "a", Temperature: f64(1)},
			{DeviceID: "b", Temperature: f64(2)},
		}, got)
	})
	t.Run("a non-object item gets a problem, the others decode", func(t *testing.T) {
		got, err := telemetry.Decode([]byte(`[{"deviceId":"a"}, 5, "s", null, [], true, {"deviceId":"z"}]`))
		require.NoError(t, err)
		require.Len(t, got, 7)
		assert.Equal(t, telemetry.Reading{DeviceID: "a"}, got[0])
		assert.Equal(t, telemetry.Reading{DeviceID: "z"}, got[6])
		for i := 1; i <= 5; i++ {
			assert.NotEmpty(t, got[i].Problem, "item %d", i)
			assert.Contains(t, got[i].Problem, "item "+strconv.Itoa(i), "the problem says which item")
		}
	})
	t.Run("a bad field in one item does not touch the others", func(t *testing.T) {
		got, err := telemetry.Decode([]byte(`[{"deviceId":"a","temperature":"hot"},{"deviceId":"b","temperature":3}]`))
		require.NoError(t, err)
		require.Len(t, got, 2)
		assert.Contains(t, got[0].Problem, "temperature")
		assert.Equal(t, telemetry.Reading{DeviceID: "b", Temperature: f64(3)}, got[1])
	})
	t.Run("exactly MaxReadings items decode", func(t *testing.T) {
		got, err := telemetry.Decode(arrayOf(telemetry.MaxReadings))
		require.NoError(t, err)
		assert.Len(t, got, telemetry.MaxReadings)
	})
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
	}{
		{"nil", nil},
		{"empty", []byte("")},
		{"whitespace only", []byte(" \n\t ")},
		{"not JSON", []byte("temperature=21")},
		{"a bare number", []byte("42")},
		{"a string", []byte(`"{\"deviceId\":\"d\"}"`)},
		{"null", []byte("null")},
		{"true", []byte("true")},
		{"an empty array", []byte("[]")},
		{"an empty array with spaces", []byte("[ \n ]")},
		{"a truncated object", []byte(`{"deviceId":"d"`)},
		{"a truncated array", []byte(`[{"deviceId":"d"}`)},
		{"two objects back to back", []byte(`{"deviceId":"a"}{"deviceId":"b"}`)},
		{"an object followed by garbage", []byte(`{"deviceId":"a"} x`)},
		{"invalid JSON inside an array item", []byte(`[{"deviceId":}]`)},
		{"more than MaxReadings items", arrayOf(telemetry.MaxReadings + 1)},
		{"larger than MaxPayload", []byte(`{"deviceId":"` + strings.Repeat("x", telemetry.MaxPayload) + `"}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := telemetry.Decode(tt.payload)
			require.Error(t, err)
			assert.ErrorIs(t, err, telemetry.ErrPayload)
			assert.Nil(t, got)
		})
	}
}

// arrayOf returns a JSON array of n small readings.
func arrayOf(n int) []byte {
	var b strings.Builder
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"deviceId":"d","messageId":` + strconv.Itoa(i) + `,"temperature":20}`)
	}
	b.WriteByte(']')
	return []byte(b.String())
}
