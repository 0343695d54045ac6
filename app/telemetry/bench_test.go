package telemetry_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/enviromon/enviromon/app/telemetry"
)

// BenchmarkDecode measures decoding one reading, a batch of 100 (an
// Event Hubs body) and one reading padded to MaxPayload (the cost per byte
// of the checks on the text), the per-message CPU cost before any I/O.
func BenchmarkDecode(b *testing.B) {
	one := `{"deviceId":"sim-001","messageId":"sim-001-42","temperature":21.37,"humidity":55.2,"pressure":1012.8}`
	items := make([]string, 100)
	for i := range items {
		items[i] = fmt.Sprintf(`{"DeviceId":"sim-%03d","Id":%d,"Celsius":21.5,"Humidity":55,"hPa":1012.8}`, i, i)
	}
	batch := "[" + strings.Join(items, ",") + "]"
	head := `{"deviceId":"sim-001","temperature":21.37,"pad":"`
	maxSize := head + strings.Repeat("x", telemetry.MaxPayload-len(head)-2) + `"}`
	for _, c := range []struct{ name, payload string }{{"one", one}, {"batch-100", batch}, {"max-size", maxSize}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.payload)))
			for b.Loop() {
				if _, err := telemetry.Decode([]byte(c.payload)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
