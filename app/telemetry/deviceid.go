package telemetry

import (
	"fmt"
	"unicode/utf8"
)

// MaxDeviceIDLen is IoT Hub's limit on device id length.
const MaxDeviceIDLen = 128

// DeviceIDPunctuation is what IoT Hub allows in a device id besides ASCII
// letters and digits.
const DeviceIDPunctuation = "-.%_*?!(),:=@$'"

// spacedPunctuation is DeviceIDPunctuation as the reasons list it.
const spacedPunctuation = "- . % _ * ? ! ( ) , : = @ $ '"

// deviceIDByte marks the bytes a device id may hold.
var deviceIDByte = func() (ok [256]bool) {
	for c := '0'; c <= '9'; c++ {
		ok[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		ok[c], ok[c-'a'+'A'] = true, true
	}
	for _, c := range DeviceIDPunctuation {
		ok[c] = true
	}
	return ok
}()

// CheckDeviceID returns an error wrapping ErrInvalid, with the reason, when
// id is not a device id by IoT Hub's rules: 1 to 128 ASCII letters, digits
// and DeviceIDPunctuation. The ids "." and ".." are refused too, which
// those characters would allow: no URL can name them in
// GET /api/devices/{id}, since clients resolve them as dot segments.
func CheckDeviceID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: missing device id", ErrInvalid)
	case len(id) > MaxDeviceIDLen:
		return fmt.Errorf("%w: device id is %d bytes long, at most %d", ErrInvalid, len(id), MaxDeviceIDLen)
	case id == "." || id == "..":
		return fmt.Errorf("%w: device id %q is a URL dot segment", ErrInvalid, id)
	}
	for i := 0; i < len(id); i++ {
		if deviceIDByte[id[i]] {
			continue
		}
		r, size := utf8.DecodeRuneInString(id[i:])
		what := fmt.Sprintf("%q", r)
		if r == utf8.RuneError && size == 1 {
			what = fmt.Sprintf("byte %#x", id[i])
		}
		return fmt.Errorf("%w: device id %q holds %s (byte %d); IoT Hub allows only ASCII letters, digits and %s",
			ErrInvalid, id, what, i, spacedPunctuation)
	}
	return nil
}
