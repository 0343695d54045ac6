package telemetry

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Payload bounds: IoT Hub's device-to-cloud message limit, how many
// readings one payload may carry, and how deeply it may nest arrays and
// objects. A reading needs two levels (an array of objects); the rest is
// room for unknown fields of a device's own, while the limit keeps hostile
// nesting away from encoding/json's recursion, which only stops at 10,000.
const (
	MaxPayload  = 256 << 10
	MaxReadings = 1000
	MaxDepth    = 32
)

// ErrPayload is returned by Decode when a payload is not telemetry at all.
var ErrPayload = errors.New("payload is not a JSON object or array of objects")

// utf8BOM is the byte order mark some Windows tools write before UTF-8
// text; RFC 8259 lets a parser ignore it, and Decode does.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// jsonText checks what encoding/json does not before it parses data: that
// it is UTF-8 (not UTF-16 or binary) and nests no deeper than MaxDepth. It
// returns data without a UTF-8 byte order mark and JSON whitespace around
// it, and the number of top-level array items when data is an array (the
// commas outside strings at depth 1, plus one; exact only for valid JSON).
//
// It is one pass over the bytes, skipping string text in bulk, so the
// rules cost little beside the parse that follows.
func jsonText(data []byte) ([]byte, int, error) {
	data = trimSpace(bytes.TrimPrefix(data, utf8BOM))
	switch {
	case len(data) == 0:
		return nil, 0, errors.New("empty")
	case bytes.HasPrefix(data, []byte{0xFE, 0xFF}) || bytes.HasPrefix(data, []byte{0xFF, 0xFE}):
		return nil, 0, errors.New("UTF-16 text (byte order mark); only UTF-8 is accepted")
	case data[0] == 0 || len(data) > 1 && data[1] == 0:
		// JSON text starts with an ASCII character, which UTF-16 and UTF-32
		// write beside a zero byte.
		return nil, 0, errors.New("UTF-16 or UTF-32 text (zero bytes); only UTF-8 is accepted")
	}
	depth, commas := 0, 0
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '"':
			end, err := stringEnd(data, i+1)
			if err != nil {
				return nil, 0, err
			}
			i = end
		case '{', '[':
			if depth++; depth > MaxDepth {
				return nil, 0, fmt.Errorf("nested deeper than %d levels", MaxDepth)
			}
		case '}', ']':
			depth--
		case ',':
			if depth == 1 {
				commas++
			}
		default:
			if c >= utf8.RuneSelf {
				size, err := runeSize(data, i)
				if err != nil {
					return nil, 0, err
				}
				i += size - 1
			}
		}
	}
	return data, commas + 1, nil
}

// stringEnd returns the index of the quote that closes the string whose
// text starts at data[i] (len(data) when it is not closed), checking that
// the text is UTF-8.
func stringEnd(data []byte, i int) (int, error) {
	// Most of a payload is string text without escapes: skip it in bulk.
	if j := bytes.IndexByte(data[i:], '"'); j >= 0 {
		run := data[i : i+j]
		if bytes.IndexByte(run, '\\') < 0 && utf8.Valid(run) {
			return i + j, nil
		}
	}
	for ; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			return i, nil
		case c == '\\':
			if i+1 < len(data) && data[i+1] < utf8.RuneSelf {
				i++ // an escaped quote does not end the string
			}
		case c >= utf8.RuneSelf:
			size, err := runeSize(data, i)
			if err != nil {
				return 0, err
			}
			i += size - 1
		}
	}
	return i, nil
}

// runeSize returns the length of the UTF-8 sequence at data[i], or an error
// when there is none.
func runeSize(data []byte, i int) (int, error) {
	r, size := utf8.DecodeRune(data[i:])
	if r == utf8.RuneError && size == 1 {
		return 0, fmt.Errorf("not UTF-8 (byte %#x at offset %d); only UTF-8 is accepted", data[i], i)
	}
	return size, nil
}

// trimSpace trims JSON's whitespace (space, tab, CR, LF) and nothing else:
// bytes.TrimSpace would also take Unicode spaces, which JSON does not allow.
func trimSpace(b []byte) []byte {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}
