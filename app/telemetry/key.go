package telemetry

import (
	"crypto/sha256"
	"encoding/hex"
	"hash/fnv"
	"net/url"
	"strconv"
)

// Store keys. Device ids are escaped so that no id can produce a key holding
// daprd's "||" prefix separator or a character Azure Table Storage forbids
// in a RowKey (/ \ # ?).
const (
	devicePrefix      = "device:"
	calibrationPrefix = "calibration:"
	indexPrefix       = "index:devices:"
	registryPrefix    = "registry:"
	historyPrefix     = "history:"
	// IndexShards is how many keys the device index is spread over, so that
	// no single record grows past a store's value size limit.
	IndexShards = 16
)

// DeviceKey is the store key of a device's state.
func DeviceKey(id string) string { return devicePrefix + url.PathEscape(id) }

// CalibrationKey is the store key of a device's calibration record.
func CalibrationKey(id string) string { return calibrationPrefix + url.PathEscape(id) }

// RegistryKey is the store key of a device's identity record: its keys and
// status in the device registry.
func RegistryKey(id string) string { return registryPrefix + url.PathEscape(id) }

// IndexKey is the store key of the index shard that lists id.
func IndexKey(id string) string { return IndexShardKey(Shard(id, IndexShards)) }

// Shard spreads device ids over n (> 0) shards, the same way in every
// process and every version: FNV-1a of the id, modulo n. Index shards,
// dead-letter shards and commit lanes use it.
func Shard(id string, n int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id)) // hash.Hash never fails
	return int(h.Sum32() % uint32(n))
}

// IndexShardKey is the store key of index shard n.
func IndexShardKey(n int) string { return indexPrefix + strconv.Itoa(n) }

// MaxMessageIDLen bounds a message id as kept in a device's recent window;
// IoT Hub's own limit is 128 characters.
const MaxMessageIDLen = 128

// MessageKey is the form of a message id kept for de-duplication: the id
// itself, or a digest of it when it is longer than MaxMessageIDLen, so that
// no device can bloat its record with huge ids.
func MessageKey(id string) string {
	if len(id) <= MaxMessageIDLen {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "sha256:" + hex.EncodeToString(sum[:16])
}
