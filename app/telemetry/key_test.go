package telemetry_test

import (
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/stretchr/testify/assert"

	"github.com/enviromon/enviromon/app/telemetry"
)

// hostileIDs are device ids that would break a store key if used raw.
var hostileIDs = []string{
	"a||b", "||", "a|", "|b", "|||",
	"a/b", "/", "../../etc/passwd",
	`a\b`, `\\server\share`,
	"a#b", "#",
	"a?b", "?x=1",
	"%7C%7C", "%2F", "%", "%%",
	"a b", " ", "日本語", "emoji 🌡",
	"tab\there", "nul\x00", "del\x7f", "c1\u0085", "bad\xffutf8",
	"device:other", "calibration:x", "index:devices:3", "registry:x",
}

func TestKeysHaveNoForbiddenCharacters(t *testing.T) {
	forbidden := []string{"||", "/", `\`, "#", "?"}
	keyFuncs := []struct {
		name string
		key  func(string) string
	}{
		{"DeviceKey", telemetry.DeviceKey},
		{"CalibrationKey", telemetry.CalibrationKey},
		{"RegistryKey", telemetry.RegistryKey},
		{"HistoryKey", func(id string) string { return telemetry.HistoryKey(id, time.Date(2025, 3, 1, 7, 30, 0, 0, time.UTC)) }},
	}
	for _, kf := range keyFuncs {
		for _, id := range hostileIDs {
			t.Run(kf.name+" "+strconv.Quote(id), func(t *testing.T) {
				k := kf.key(id)
				for _, f := range forbidden {
					assert.NotContains(t, k, f)
				}
				assert.False(t, strings.ContainsFunc(k, unicode.IsControl), "control character in %q", k)
				assert.True(t, strings.IndexFunc(k, func(r rune) bool { return r > unicode.MaxASCII }) < 0,
					"non-ASCII in %q", k)
			})
		}
	}
}

func TestKeysAreDistinct(t *testing.T) {
	ids := append([]string{
		"a", "A", "", "a|b", "a%7Cb", "a%257Cb", "a/b", "a%2Fb", "a b", "a%20b", "a+b",
		"Raspberry Pi Web Client", "raspberry pi web client",
	}, hostileIDs...)
	seen := make(map[string]string)
	for _, id := range ids {
		for _, k := range []string{telemetry.DeviceKey(id), telemetry.CalibrationKey(id), telemetry.RegistryKey(id)} {
			if prev, dup := seen[k]; dup && prev != id {
				t.Errorf("ids %q and %q share key %q", prev, id, k)
			}
			seen[k] = id
		}
		assert.NotEqual(t, telemetry.DeviceKey(id), telemetry.CalibrationKey(id))
	}
}

func TestIndexKey(t *testing.T) {
	shards := make(map[string]bool, telemetry.IndexShards)
	for n := range telemetry.IndexShards {
		shards[telemetry.IndexShardKey(n)] = true
	}
	used := make(map[string]bool)
	ids := append([]string{}, hostileIDs...)
	for i := range 1000 {
		ids = append(ids, "sim-"+strconv.Itoa(i))
	}
	for _, id := range ids {
		k := telemetry.IndexKey(id)
		assert.True(t, shards[k], "IndexKey(%q) = %q is not one of the %d shards", id, k, telemetry.IndexShards)
		assert.Equal(t, k, telemetry.IndexKey(id), "IndexKey(%q) is not stable", id)
		used[k] = true
	}
	assert.Len(t, used, telemetry.IndexShards, "1000 devices spread over every shard")

	// The index is stored: a device must map to the same shard in every
	// release, or devices already listed vanish from the snapshot.
	golden := []struct{ id, key string }{
		{"Raspberry Pi Web Client", "index:devices:1"},
		{"sim-001", "index:devices:6"},
		{"", "index:devices:5"},
	}
	for _, g := range golden {
		t.Run("golden "+strconv.Quote(g.id), func(t *testing.T) {
			assert.Equal(t, g.key, telemetry.IndexKey(g.id))
		})
	}
}

func TestMessageKeyBoundsLongIDs(t *testing.T) {
	short := strings.Repeat("m", telemetry.MaxMessageIDLen)
	assert.Equal(t, short, telemetry.MessageKey(short), "ids within the limit are kept as they are")
	long1, long2 := strings.Repeat("a", 10_000), strings.Repeat("a", 9_999)+"b"
	assert.LessOrEqual(t, len(telemetry.MessageKey(long1)), telemetry.MaxMessageIDLen)
	assert.Equal(t, telemetry.MessageKey(long1), telemetry.MessageKey(long1), "stable, so a redelivery is recognised")
	assert.NotEqual(t, telemetry.MessageKey(long1), telemetry.MessageKey(long2))
}
