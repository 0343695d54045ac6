package broker

import (
	"slices"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
)

// holder names one subscriber's in-flight copy of a stored message. mochi
// keys in-flight packets by client id and packet id, and the subscriber's
// PUBACK carries nothing else.
type holder struct {
	client string
	id     uint16
}

// entry is the in-memory view of one stored message.
type entry struct {
	topic string
	// publisher is the connection the message came from, until mochi has
	// offered it to the subscribers: meanwhile nobody holds it, yet it is
	// not idle either.
	publisher *mqtt.Client
	holders   []holder
}

// candidate is a stored message that no subscriber holds in flight.
type candidate struct {
	key   uint64
	topic string
}

// ledger tracks which stored messages are in flight to which subscriber, so
// that a subscriber's PUBACK finds the record to drop and the replayer finds
// the records nobody holds. It is safe for concurrent use.
type ledger struct {
	mu      sync.Mutex
	entries map[uint64]*entry
	order   []uint64 // keys in arrival order; may still list removed keys
	acks    map[holder]uint64
	held    int // entries with at least one holder
}

func newLedger() *ledger {
	return &ledger{entries: map[uint64]*entry{}, acks: map[holder]uint64{}}
}

// add records a stored message; publisher is nil for one loaded at start-up.
func (l *ledger) add(key uint64, topic string, publisher *mqtt.Client) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries[key] = &entry{topic: topic, publisher: publisher}
	l.order = append(l.order, key)
}

// offered marks the message as handed to mochi's subscribers.
func (l *ledger) offered(key uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.entries[key]; ok {
		e.publisher = nil
	}
}

// sent records that h now holds the message stored under key.
func (l *ledger) sent(h holder, key uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.detach(h)
	e, ok := l.entries[key]
	if !ok {
		return // acknowledged by another subscriber meanwhile
	}
	l.acks[h] = key
	if len(e.holders) == 0 {
		l.held++
	}
	e.holders = append(e.holders, h)
}

// unsent records that h holds nothing any more (dropped, expired, or the
// packet id now carries something else).
func (l *ledger) unsent(h holder) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.detach(h)
}

// dropped records that mochi gave up sending the message under key to client.
func (l *ledger) dropped(client string, key uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.entries[key]; ok {
		for _, h := range e.holders {
			if h.client == client {
				l.detach(h)
				return
			}
		}
	}
}

// forget drops everything client holds: its session is gone.
func (l *ledger) forget(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for h := range l.acks {
		if h.client == client {
			l.detach(h)
		}
	}
}

// acked removes the message h held and returns its key, if h held one.
func (l *ledger) acked(h holder) (uint64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	key, ok := l.acks[h]
	if !ok {
		return 0, false
	}
	if e, ok := l.entries[key]; ok {
		for _, other := range e.holders {
			delete(l.acks, other)
		}
		if len(e.holders) > 0 {
			l.held--
		}
		delete(l.entries, key)
	}
	delete(l.acks, h)
	return key, true
}

// detach must be called with mu held.
func (l *ledger) detach(h holder) {
	key, ok := l.acks[h]
	if !ok {
		return
	}
	delete(l.acks, h)
	if e, ok := l.entries[key]; ok && len(e.holders) > 0 {
		e.holders = slices.DeleteFunc(e.holders, func(x holder) bool { return x == h })
		if len(e.holders) == 0 {
			l.held--
		}
	}
}

// idle returns how many stored messages are held or being offered, and, in
// arrival order, the ones that are neither.
func (l *ledger) idle() (busy int, free []candidate) {
	l.mu.Lock()
	defer l.mu.Unlock()
	live := l.order[:0]
	for _, key := range l.order {
		e, ok := l.entries[key]
		if !ok {
			continue
		}
		live = append(live, key)
		// A publisher whose connection died before mochi forwarded the
		// message will never forward it.
		if len(e.holders) > 0 || (e.publisher != nil && !e.publisher.Closed()) {
			busy++
			continue
		}
		free = append(free, candidate{key: key, topic: e.topic})
	}
	l.order = live
	return busy, free
}

// holding returns how many stored messages are in flight to a subscriber,
// without the walk idle takes.
func (l *ledger) holding() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held
}

// len returns how many stored messages are not yet acknowledged.
func (l *ledger) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}
