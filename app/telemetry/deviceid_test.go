package telemetry_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/telemetry"
)

func TestCheckDeviceID(t *testing.T) {
	tests := []struct {
		name, id string
		want     []string // substrings of the reason; nil when the id is accepted
	}{
		{"letters and digits", "sim-001", nil},
		{"every punctuation IoT Hub allows", "a" + telemetry.DeviceIDPunctuation, nil},
		{"punctuation alone", telemetry.DeviceIDPunctuation, nil},
		{"one character", "x", nil},
		{"128 characters", strings.Repeat("a", 128), nil},
		{"case is kept", "Device-A", nil},
		{"dots inside", "a..b", nil},
		{"three dots", "...", nil},

		{"empty", "", []string{"missing device id"}},
		{"129 characters", strings.Repeat("a", 129), []string{"129 bytes", "at most 128"}},
		{"huge", strings.Repeat("a", 1<<20), []string{"at most 128"}},
		{"dot segment", ".", []string{"dot segment"}},
		{"dot-dot segment", "..", []string{"dot segment"}},
		{"slash", "a/b", []string{`"a/b"`, `'/' (byte 1)`, "letters, digits and - . % _ * ? ! ( ) , : = @ $ '"}},
		{"backslash", `a\b`, []string{`'\\'`}},
		{"space", "Raspberry Pi Web Client", []string{`' ' (byte 9)`}},
		{"hash", "a#1", []string{`'#'`}},
		{"plus", "a+b", []string{`'+'`}},
		{"ampersand", "a&b", []string{`'&'`}},
		{"semicolon", "a;b", []string{`';'`}},
		{"pipe, daprd's key separator", "a||b", []string{`'|'`}},
		{"quote", `a"b`, []string{`'"'`}},
		{"brackets", "a[0]", []string{`'['`}},
		{"tilde", "a~b", []string{`'~'`}},
		{"non-ASCII letter", "café", []string{`'é' (byte 3)`}},
		{"emoji", "dev🔥", []string{`'🔥'`}},
		{"not UTF-8", "dev\xff", []string{"byte 0xff (byte 3)"}},
		{"NUL", "dev\x00", []string{`'\x00'`}},
		{"newline", "dev\nice", []string{`'\n'`}},
		{"DEL", "dev\x7f", []string{`'\x7f'`}},
		{"C1 control", "dev\u0085", []string{`'\u0085'`}},
		{"replacement character", "dev\ufffd", []string{`'�'`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := telemetry.CheckDeviceID(tt.id)
			if tt.want == nil {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, telemetry.ErrInvalid)
			for _, s := range tt.want {
				assert.Contains(t, err.Error(), s)
			}
			assert.Less(t, len(err.Error()), 500, "a hostile id does not blow up the reason")
		})
	}
}

// Every single byte but the allowed ones is refused, alone or inside an id.
func TestCheckDeviceIDBytes(t *testing.T) {
	for b := range 256 {
		c := string(rune(b))
		if b >= 0x80 {
			c = string([]byte{byte(b)})
		}
		allowed := 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
			strings.ContainsRune(telemetry.DeviceIDPunctuation, rune(b))
		for _, id := range []string{"x" + c + "x", c + "x"} {
			assert.Equal(t, allowed, telemetry.CheckDeviceID(id) == nil, "id %q", id)
		}
	}
}
