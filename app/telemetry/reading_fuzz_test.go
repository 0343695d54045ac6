package telemetry_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/telemetry"
)

// FuzzDecode checks Decode against a plain reading of the rules: a payload
// decodes exactly when it is UTF-8 (after an optional byte order mark)
// JSON text of an object or of 1 to MaxReadings items, at most MaxPayload
// bytes and MaxDepth levels deep; every error wraps ErrPayload; no
// reading without a Problem holds a non-finite value; and a plain device
// id string reads as encoding/json reads it. The hostile corpus of the
// HTTP API seeds it.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"messageId": 42, "deviceId": "Raspberry Pi Web Client", "temperature": 26.5, "humidity": 71}`,
		`{"DeviceId":"bme","Id":"m","Geo":"Perth","Celsius":-3,"Humidity":40,"hPa":1009.2,"Light":12}`,
		`[{"deviceId":"a","temperature":0},{"deviceId":"b","HPa":900}]`,
		`[{"deviceId":"a"}, 5, "s", null, [], true]`,
		`{"deviceId":"d","temperature":1e400,"humidity":-1e309,"pressure":"1e400","light":"NaN"}`,
		`{"deviceId":"d","temperature":"25","humidity":"Infinity","pressure":true}`,
		`{"deviceId":42,"messageId":{},"geo":[]}`,
		`{"deviceId":"\u0000\ud800","temperature":4.9e-324}`,
		`{"deviceId":"a\"b\\","geo":"\"[[[["}`,
		`[]`, `{}`, `null`, `42`, `"x"`, ``, ` `, `[`, `{`, `[[[[{}]]]]`,
		"\xef\xbb\xbf{}", "{\"deviceId\":\"\xff\"}",
	} {
		f.Add([]byte(seed))
	}
	for _, body := range hostileCorpus(f) {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := telemetry.Decode(data)
		want := acceptable(data)
		if err != nil {
			if !errors.Is(err, telemetry.ErrPayload) {
				t.Fatalf("error %v does not wrap ErrPayload", err)
			}
			if got != nil {
				t.Fatalf("readings %v returned with error %v", got, err)
			}
			if want {
				t.Fatalf("refused a payload within the rules: %v", err)
			}
			return
		}
		if !want {
			t.Fatalf("decoded a payload against the rules into %d readings", len(got))
		}
		if len(got) == 0 || len(got) > telemetry.MaxReadings {
			t.Fatalf("%d readings without an error", len(got))
		}
		for i, r := range got {
			if r.Problem != "" {
				continue
			}
			for name, v := range map[string]*float64{
				"temperature": r.Temperature, "humidity": r.Humidity,
				"pressure": r.Pressure, "light": r.Light,
			} {
				if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
					t.Fatalf("reading %d: %s is %v without a problem", i, name, *v)
				}
			}
		}
		// The fast path for plain strings reads as encoding/json does.
		if obj, ok := parse(data).(map[string]any); ok && got[0].Problem == "" {
			if id, ok := obj["deviceId"].(string); ok && got[0].DeviceID != id {
				t.Fatalf("device id %q, encoding/json reads %q", got[0].DeviceID, id)
			}
		}
	})
}

var bom = []byte("\xef\xbb\xbf")

// acceptable says whether data is telemetry by the rules Decode documents,
// read with encoding/json alone.
func acceptable(data []byte) bool {
	if len(data) > telemetry.MaxPayload {
		return false
	}
	switch v := parse(data).(type) {
	case map[string]any:
		return depth(v) <= telemetry.MaxDepth
	case []any:
		return len(v) > 0 && len(v) <= telemetry.MaxReadings && depth(v) <= telemetry.MaxDepth
	}
	return false
}

// parse reads UTF-8 JSON text after an optional byte order mark, nil when
// it is not.
func parse(data []byte) any {
	data = bytes.TrimPrefix(data, bom)
	if !utf8.Valid(data) || !json.Valid(data) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // 1e400 is valid JSON
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil // deeper than encoding/json's own limit
	}
	return v
}

// depth is how many arrays and objects v nests.
func depth(v any) int {
	deepest := 0
	switch v := v.(type) {
	case map[string]any:
		for _, e := range v {
			deepest = max(deepest, depth(e))
		}
	case []any:
		for _, e := range v {
			deepest = max(deepest, depth(e))
		}
	default:
		return 0
	}
	return deepest + 1
}

// hostileCorpus returns the bodies of the HTTP API's hostile corpus
// (app/api/testdata/hostile), decompressing the .gz ones.
func hostileCorpus(t testing.TB) [][]byte {
	t.Helper()
	dir := filepath.Join("..", "api", "testdata", "hostile")
	files, err := os.ReadDir(dir)
	require.NoError(t, err)
	var bodies [][]byte
	for _, file := range files {
		if file.Name() == "cases.txt" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, file.Name()))
		require.NoError(t, err)
		if strings.HasSuffix(file.Name(), ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			require.NoError(t, err)
			data, err = io.ReadAll(zr)
			require.NoError(t, err)
		}
		bodies = append(bodies, data)
	}
	require.GreaterOrEqual(t, len(bodies), 50, "the corpus in %s", dir)
	return bodies
}
