package telemetry_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/telemetry"
)

// nest returns n arrays around inner.
func nest(n int, inner string) string {
	return strings.Repeat("[", n) + inner + strings.Repeat("]", n)
}

func TestDecodeText(t *testing.T) {
	reading := `{"deviceId":"d","temperature":20}`
	tests := []struct {
		name    string
		payload string
		want    string // a substring of the error; "" when the payload decodes
	}{
		{"a UTF-8 byte order mark is ignored", "\xef\xbb\xbf" + reading, ""},
		{"a byte order mark and whitespace", "\xef\xbb\xbf \n" + reading + "\n", ""},
		{"UTF-8 in strings", `{"deviceId":"d","geo":"Zürich 東京 🌡"}`, ""},
		{"escaped quotes and brackets in strings do not count as nesting",
			`{"deviceId":"d","geo":"\"[[[[{{{{` + strings.Repeat("[", 100) + `\\"}`, ""},
		{"deep but legal: an array of objects nested to the limit",
			`[{"deviceId":"d","x":` + nest(telemetry.MaxDepth-2, "1") + `}]`, ""},
		{"a UTF-8 byte order mark alone", "\xef\xbb\xbf", "empty"},
		{"two UTF-8 byte order marks", "\xef\xbb\xbf\xef\xbb\xbf" + reading, `it starts with '\ufeff'`},

		{"UTF-16 LE with a byte order mark", "\xff\xfe{\x00}\x00", "UTF-16"},
		{"UTF-16 BE with a byte order mark", "\xfe\xff\x00{\x00}", "UTF-16"},
		{"UTF-16 LE without a byte order mark", "{\x00\"\x00d\x00\"\x00}\x00", "UTF-16 or UTF-32"},
		{"UTF-16 BE without a byte order mark", "\x00{\x00\"\x00d\x00\"\x00}", "UTF-16 or UTF-32"},
		{"UTF-32 LE", "{\x00\x00\x00}\x00\x00\x00", "UTF-16 or UTF-32"},
		{"Latin-1 in a string", "{\"deviceId\":\"caf\xe9\"}", "not UTF-8 (byte 0xe9 at offset 16)"},
		{"a UTF-16 surrogate written as UTF-8", "{\"geo\":\"\xed\xa0\x80\"}", "not UTF-8"},
		{"overlong UTF-8", "{\"geo\":\"\xc0\xaf\"}", "not UTF-8"},
		{"binary", "\x1f\x8b\x08\x00\x00\x00\x00\x00", "not UTF-8"},

		{"one level too deep", `[{"deviceId":"d","x":` + nest(telemetry.MaxDepth-1, "1") + `}]`, "nested deeper than 32 levels"},
		{"100,000 levels", nest(100_000, ""), "nested deeper than 32 levels"},
		{"40,000 unclosed levels", strings.Repeat(`{"a":`, 40_000), "nested deeper than 32 levels"},

		{"NaN", `{"deviceId":"d","temperature":NaN}`, "invalid character 'N'"},
		{"Infinity", `{"deviceId":"d","temperature":Infinity}`, "invalid character 'I'"},
		{"-Infinity", `{"deviceId":"d","temperature":-Infinity}`, "invalid character 'I' in numeric literal"},
		{"trailing garbage", reading + "garbage", "after top-level value (at byte 34)"},
		{"trailing comma", `[` + reading + `,]`, "invalid character ']'"},
		{"two arrays", `[` + reading + `][` + reading + `]`, "after top-level value"},
		{"truncated", reading[:20], "unexpected end of JSON input"},
		{"a raw control character in a string", "{\"deviceId\":\"d\x01\"}", "invalid character '\\x01' in string literal"},
		{"a no-break space around the object", "\u00a0" + reading, "it starts with"},
		{"a single quote string", `{'deviceId':'d'}`, "invalid character '\\''"},
		{"a bare string", `"d"`, `it starts with '"'`},
		{"too many items, one of them broken", "[" + strings.Repeat("{},", telemetry.MaxReadings) + "{]", "invalid character ']'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := telemetry.Decode([]byte(tt.payload))
			if tt.want == "" {
				require.NoError(t, err)
				require.NotEmpty(t, got)
				assert.Empty(t, got[0].Problem)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, telemetry.ErrPayload)
			assert.Contains(t, err.Error(), tt.want)
			assert.Nil(t, got)
		})
	}
}

// The limits are the payload's, whatever its layout.
func TestDecodeLimits(t *testing.T) {
	pad := func(n int) []byte {
		head := `{"deviceId":"d","pad":"`
		return []byte(head + strings.Repeat("x", n-len(head)-2) + `"}`)
	}
	got, err := telemetry.Decode(pad(telemetry.MaxPayload))
	require.NoError(t, err, "exactly MaxPayload bytes")
	assert.Equal(t, "d", got[0].DeviceID)

	_, err = telemetry.Decode(pad(telemetry.MaxPayload + 1))
	assert.ErrorContains(t, err, "262145 bytes, at most 262144")

	_, err = telemetry.Decode(arrayOf(telemetry.MaxReadings + 1))
	assert.ErrorContains(t, err, "1001 readings, at most 1000")
}
