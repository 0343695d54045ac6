package broker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

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

// openQueue opens (or creates) the queue file in dir; sync says whether a
// commit waits for the disk to flush it.
func openQueue(dir string, sync Sync) (*queue, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	// The timeout turns a second broker on the same folder into an error
	// instead of a hang on the file lock.
	db, err := bolt.Open(filepath.Join(dir, "queue.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	db.NoSync = sync == SyncNone
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open queue: %w", err), db.Close())
	}
	return &queue{db: db}, nil
}

// write stores ms and deletes the records under removals (missing ones are
// not an error) in one transaction. It returns the keys of ms, in order,
// once the transaction is committed.
func (q *queue) write(ms []message, removals []uint64) ([]uint64, error) {
	keys := make([]uint64, 0, len(ms))
	err := q.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		for _, k := range removals {
			if err := b.Delete(binary.BigEndian.AppendUint64(nil, k)); err != nil {
				return err
			}
		}
		// Keys only grow: full pages suit an append-only tree.
		b.FillPercent = 1
		for _, m := range ms {
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			if err := b.Put(binary.BigEndian.AppendUint64(nil, seq), encode(m)); err != nil {
				return err
			}
			keys = append(keys, seq)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("write %d, remove %d: %w", len(ms), len(removals), err)
	}
	return keys, nil
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
