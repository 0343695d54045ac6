package broker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// batchDelay is how long a write waits for other publishers to join its
// transaction and fsync. Each connection sends its next PUBLISH only after
// the previous PUBACK, so it also bounds one device's rate: bbolt's 10 ms
// default would cap that near 100 messages/s, while 0 leaves concurrent
// publishers queueing for the writer lock one fsync each (BenchmarkPublish).
const batchDelay = time.Millisecond

// removeBatch caps the acknowledged records deleted in one transaction.
const removeBatch = 1000

var (
	bucket = []byte("messages")

	errNotFound = errors.New("message not found")
	errCorrupt  = errors.New("corrupt record")
)

// message is one stored QoS ≥ 1 PUBLISH.
type message struct {
	Topic   string
	Payload []byte
	QoS     byte
	Retain  bool
}

// queue keeps every QoS ≥ 1 publish on disk from before its PUBACK until a
// subscriber acknowledges it. Keys are big-endian sequence numbers, so a
// cursor walks the records in publish order.
type queue struct {
	db *bolt.DB
}

// openQueue opens (or creates) the queue file in dir.
func openQueue(dir string) (*queue, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	// The timeout turns a second broker on the same folder into an error
	// instead of a hang on the file lock.
	db, err := bolt.Open(filepath.Join(dir, "queue.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	db.MaxBatchDelay = batchDelay
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open queue: %w", err), db.Close())
	}
	return &queue{db: db}, nil
}

// put stores m and returns its key once it is on disk. Concurrent callers
// share one transaction and one fsync.
func (q *queue) put(m message) (uint64, error) {
	value := encode(m)
	var key uint64
	// Batch may run the function more than once; only the last run counts.
	err := q.db.Batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		key = seq
		return b.Put(binary.BigEndian.AppendUint64(nil, seq), value)
	})
	if err != nil {
		return 0, fmt.Errorf("put: %w", err)
	}
	return key, nil
}

// get returns the message stored under key, or errNotFound.
func (q *queue) get(key uint64) (message, error) {
	var m message
	err := q.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucket).Get(binary.BigEndian.AppendUint64(nil, key))
		if v == nil {
			return errNotFound
		}
		var err error
		m, err = decode(v)
		return err
	})
	if err != nil {
		return message{}, fmt.Errorf("get %d: %w", key, err)
	}
	return m, nil
}

// remove deletes the records under keys; missing keys are not an error.
func (q *queue) remove(keys []uint64) error {
	err := q.db.Batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		for _, k := range keys {
			if err := b.Delete(binary.BigEndian.AppendUint64(nil, k)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("remove: %w", err)
	}
	return nil
}

// each calls fn for every record in publish order. A record that does not
// decode is passed with errCorrupt and left in place.
func (q *queue) each(fn func(key uint64, m message, err error)) error {
	return q.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			if len(k) != 8 {
				fn(0, message{}, fmt.Errorf("key %x: %w", k, errCorrupt))
				return nil
			}
			m, err := decode(v)
			fn(binary.BigEndian.Uint64(k), m, err)
			return nil
		})
	})
}

// collect deletes acknowledged records in the background until ctx ends,
// then deletes whatever is still queued. A subscriber's PUBACK must not wait
// for an fsync, and a deletion lost in a crash only causes a duplicate.
func (q *queue) collect(ctx context.Context, keys <-chan uint64, log *slog.Logger) {
	for {
		select {
		case k := <-keys:
			q.removeLogged(drain([]uint64{k}, keys), log)
		case <-ctx.Done():
			for {
				batch := drain(nil, keys)
				if len(batch) == 0 {
					return
				}
				q.removeLogged(batch, log)
			}
		}
	}
}

func (q *queue) removeLogged(keys []uint64, log *slog.Logger) {
	if err := q.remove(keys); err != nil {
		log.Warn("acknowledged messages stay stored and will be replayed", "count", len(keys), "error", err)
	}
}

// drain appends the keys that are ready without blocking, up to removeBatch.
func drain(batch []uint64, keys <-chan uint64) []uint64 {
	for len(batch) < removeBatch {
		select {
		case k := <-keys:
			batch = append(batch, k)
		default:
			return batch
		}
	}
	return batch
}

func (q *queue) close() error {
	if err := q.db.Close(); err != nil {
		return fmt.Errorf("close queue: %w", err)
	}
	return nil
}

// The record layout is: version, QoS, flags, uvarint topic length, topic,
// payload.
const (
	recordVersion = 1
	flagRetain    = 1
)

func encode(m message) []byte {
	b := make([]byte, 0, 3+binary.MaxVarintLen64+len(m.Topic)+len(m.Payload))
	var flags byte
	if m.Retain {
		flags |= flagRetain
	}
	b = append(b, recordVersion, m.QoS, flags)
	b = binary.AppendUvarint(b, uint64(len(m.Topic)))
	b = append(b, m.Topic...)
	return append(b, m.Payload...)
}

// decode copies out of v, which bbolt only lends for the transaction.
func decode(v []byte) (message, error) {
	if len(v) < 4 || v[0] != recordVersion || v[1] > 2 {
		return message{}, errCorrupt
	}
	n, w := binary.Uvarint(v[3:])
	if w <= 0 || n > uint64(len(v)-3-w) {
		return message{}, errCorrupt
	}
	rest := v[3+w:]
	return message{
		Topic:   string(rest[:n]),
		Payload: append([]byte{}, rest[n:]...),
		QoS:     v[1],
		Retain:  v[2]&flagRetain != 0,
	}, nil
}
