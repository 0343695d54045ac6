package pipeline

import (
	"context"
	"errors"
	"time"

	"github.com/enviromon/enviromon/app/telemetry"
)

// ErrConflict is returned by a Store when an ETag first-write-wins check
// fails: the key changed since it was read, or an insert found the key
// already present. It is the only error the pipeline retries as a conflict.
var ErrConflict = errors.New("etag conflict")

// Entry is a stored value with the ETag it was read at.
type Entry struct {
	Value []byte
	ETag  string
}

// Store is a key-value state store with ETag first-write-wins concurrency.
// Keys are the application's own keys; any prefix the store or the sidecar
// adds is the adapter's business.
type Store interface {
	// BulkGet reads keys in as few round trips as the store allows. Keys that
	// do not exist are absent from the result; that is not an error.
	BulkGet(ctx context.Context, keys []string) (map[string]Entry, error)
	// Set writes value under key. With etag "" the key must not exist yet
	// (an insert); otherwise the stored ETag must equal etag. A failed check
	// returns an error wrapping ErrConflict; any other error is returned
	// wrapped as it is and must not be treated as a conflict.
	Set(ctx context.Context, key string, value []byte, etag string) error
	// Delete removes key. With etag "" it deletes unconditionally; otherwise a
	// stale etag returns ErrConflict. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string, etag string) error
}

// Write is one item of a batch write.
type Write struct {
	Key   string
	Value []byte
	ETag  string // "" for an insert, as in Store.Set
}

// BatchStore is a Store that can also write several keys in one atomic
// transaction, which saves a commit (and an fsync) per key on stores such as
// SQLite. SetBatch writes every item or none, with Store.Set's ETag rules per
// item. A failed check of any item returns ErrConflict without saying which,
// so the caller falls back to single writes to find out. A store that cannot
// do this atomically returns errors.ErrUnsupported.
type BatchStore interface {
	Store
	SetBatch(ctx context.Context, items []Write) error
}

// SampleKeys returns keys of every kind the app writes: for each of two
// devices (a and b) its state record first, then its calibration, its
// identity in the device registry and a history record; and the keys
// devices share (index and dead-letter shards). The app checks a state store's key layout against
// them at start-up.
func SampleKeys(a, b string) (devices [2][]string, shared []string) {
	for i, id := range []string{a, b} {
		devices[i] = []string{telemetry.DeviceKey(id), telemetry.CalibrationKey(id), telemetry.RegistryKey(id),
			telemetry.HistoryKey(id, sampleHour)}
	}
	for n := range telemetry.IndexShards {
		shared = append(shared, telemetry.IndexShardKey(n))
	}
	for n := range rejectedShards {
		shared = append(shared, rejectedShardKey(n))
	}
	return devices, shared
}

// sampleHour is the hour of the sample history keys; any hour has the
// same layout.
var sampleHour = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
