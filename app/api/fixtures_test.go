package api

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The dashboard's fixtures (dashboard/test/fixtures) are the app's own
// answers: TestFixtures runs a fixed scenario (fixture_script_test.go)
// through the HTTP handlers, the pipeline, the alert evaluator and the live
// notifier (fixture_scene_test.go) and keeps every answer the dashboard
// reads. Its unit tests and its dev server read them, so the JavaScript
// never restates the domain. `make fixtures` rewrites them; every `go test`
// checks they are current.
var updateFixtures = flag.Bool("update-fixtures", false, "rewrite dashboard/test/fixtures from the code instead of checking them")

var fixtureDir = filepath.Join("..", "..", "dashboard", "test", "fixtures")

// fixtureNow is the scenario's now: every answer is read at it, and the
// live frames follow it.
var fixtureNow = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

func TestFixtures(t *testing.T) {
	got := makeFixtures(t)
	if *updateFixtures {
		writeFixtures(t, got)
		return
	}
	var stale []string
	for _, name := range sortedKeys(got) {
		was, err := os.ReadFile(filepath.Join(fixtureDir, name))
		switch {
		case os.IsNotExist(err):
			stale = append(stale, name+": missing")
		case err != nil:
			t.Fatal(err)
		case !bytes.Equal(bytes.ReplaceAll(was, []byte("\r\n"), []byte("\n")), got[name]): // a Windows checkout's line ends pass
			stale = append(stale, name+": "+firstDifference(was, got[name]))
		}
	}
	for _, name := range onDisk(t) {
		if _, ok := got[name]; !ok {
			stale = append(stale, name+": no longer generated")
		}
	}
	if len(stale) > 0 {
		t.Fatalf("fixtures are stale: run make fixtures (dashboard/test/fixtures differs from what the code answers)\n\t%s",
			strings.Join(stale, "\n\t"))
	}
}

func writeFixtures(t *testing.T, files map[string][]byte) {
	require.NoError(t, os.MkdirAll(fixtureDir, 0o755))
	for _, name := range onDisk(t) {
		if _, ok := files[name]; !ok {
			require.NoError(t, os.Remove(filepath.Join(fixtureDir, name)))
		}
	}
	for name, b := range files {
		require.NoError(t, os.WriteFile(filepath.Join(fixtureDir, name), b, 0o644))
	}
	t.Logf("wrote %d fixtures to %s", len(files), fixtureDir)
}

// onDisk lists the fixture files present (JSON only: the README stays).
func onDisk(t *testing.T) []string {
	names, err := filepath.Glob(filepath.Join(fixtureDir, "*.json"))
	require.NoError(t, err)
	for i, n := range names {
		names[i] = filepath.Base(n)
	}
	return names
}

// firstDifference names the first line that differs.
func firstDifference(was, now []byte) string {
	a, b := strings.Split(string(was), "\n"), strings.Split(string(now), "\n")
	for i := range max(len(a), len(b)) {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return fmt.Sprintf("line %d is %.120q, the code answers %.120q", i+1, x, y)
		}
	}
	return "differs"
}

// slug is a device id as a file name.
func slug(id string) string { return slugUnsafe.ReplaceAllString(id, "_") }

var slugUnsafe = regexp.MustCompile(`[^A-Za-z0-9._-]`)

func encode(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// layout writes the JSON value raw readably and diffably: the outer two
// levels one member a line where they hold objects or arrays, anything
// deeper (a device's raw values, a history point) on one line.
func layout(buf *bytes.Buffer, raw []byte, depth int) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || (raw[0] != '{' && raw[0] != '[') {
		return json.Compact(buf, raw)
	}
	keys, vals, err := members(raw)
	if err != nil {
		return err
	}
	nested := slices.ContainsFunc(vals, func(v json.RawMessage) bool { return v[0] == '{' || v[0] == '[' })
	if depth >= 2 || !nested {
		return json.Compact(buf, raw)
	}
	closing := map[byte]string{'{': "}", '[': "]"}[raw[0]]
	buf.WriteString(string(raw[0]) + "\n")
	for i, v := range vals {
		buf.WriteString(strings.Repeat("  ", depth+1))
		if keys != nil {
			k, _ := json.Marshal(keys[i])
			buf.Write(k)
			buf.WriteString(": ")
		}
		if err := layout(buf, v, depth+1); err != nil {
			return err
		}
		if i < len(vals)-1 {
			buf.WriteByte(',')
		}
		buf.WriteByte('\n')
	}
	buf.WriteString(strings.Repeat("  ", depth) + closing)
	return nil
}

// members splits an object or array into its keys (nil for an array) and
// values, in order.
func members(raw []byte) ([]string, []json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return nil, nil, err
	}
	var keys []string
	var vals []json.RawMessage
	for dec.More() {
		if raw[0] == '{' {
			k, err := dec.Token()
			if err != nil {
				return nil, nil, err
			}
			keys = append(keys, k.(string))
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, err
		}
		vals = append(vals, v)
	}
	if raw[0] == '{' && keys == nil {
		keys = []string{}
	}
	return keys, vals, nil
}
