package broker

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLedgerAcks(t *testing.T) {
	app, mon := holder{client: "app", id: 1}, holder{client: "mon", id: 1}
	tests := []struct {
		name    string
		steps   func(l *ledger)
		ack     holder
		removed uint64 // key the ack removes; 0 for none
		idle    []uint64
		held    int // messages still in flight to a subscriber
	}{
		{
			name:    "ack removes what the holder was sent",
			steps:   func(l *ledger) { l.sent(app, 2) },
			ack:     app,
			removed: 2,
			idle:    []uint64{1},
		},
		{
			name:    "packet id reused for another message",
			steps:   func(l *ledger) { l.sent(app, 1); l.sent(app, 2) },
			ack:     app,
			removed: 2,
			idle:    []uint64{1},
		},
		{
			name:  "packet id reused for a publisher's PUBACK",
			steps: func(l *ledger) { l.sent(app, 1); l.unsent(app) },
			ack:   app,
			idle:  []uint64{1, 2},
		},
		{
			name: "second subscriber's ack after the first",
			steps: func(l *ledger) {
				l.sent(app, 1)
				l.sent(mon, 1)
				l.acked(mon)
			},
			ack:  app,
			idle: []uint64{2},
		},
		{
			name:  "copy dropped by mochi",
			steps: func(l *ledger) { l.sent(app, 1); l.sent(mon, 2); l.dropped("app", 1) },
			ack:   app,
			idle:  []uint64{1},
			held:  1,
		},
		{
			name:  "session expired",
			steps: func(l *ledger) { l.sent(app, 1); l.sent(mon, 2); l.forget("app") },
			ack:   app,
			idle:  []uint64{1},
			held:  1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLedger()
			l.add(1, "devices/a/messages/events/", nil)
			l.add(2, "devices/b/messages/events/", nil)
			tt.steps(l)

			key, ok := l.acked(tt.ack)

			assert.Equal(t, tt.removed != 0, ok)
			assert.Equal(t, tt.removed, key)
			_, free := l.idle()
			var idle []uint64
			for _, c := range free {
				idle = append(idle, c.key)
			}
			assert.Equal(t, tt.idle, idle)
			assert.Equal(t, tt.held, l.holding())
		})
	}
}
