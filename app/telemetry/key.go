package telemetry

import (
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
	// IndexShards is how many keys the device index is spread over, so that
	// no single record grows past a store's value size limit.
	IndexShards = 16
)

// DeviceKey is the store key of a device's state.
func DeviceKey(id string) string { return devicePrefix + url.PathEscape(id) }

// CalibrationKey is the store key of a device's calibration record.
func CalibrationKey(id string) string { return calibrationPrefix + url.PathEscape(id) }

// IndexKey is the store key of the index shard that lists id.
func IndexKey(id string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id)) // hash.Hash never fails
	return IndexShardKey(int(h.Sum32() % IndexShards))
}

// IndexShardKey is the store key of index shard n.
func IndexShardKey(n int) string { return indexPrefix + strconv.Itoa(n) }
