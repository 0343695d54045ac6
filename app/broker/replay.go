package broker

import (
	"context"
	"errors"
	"log/slog"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

const (
	// replayWindow caps the stored messages in flight at once, so that a
	// large backlog is fed to a subscriber as fast as it acknowledges
	// instead of overflowing its write queue.
	replayWindow = 1000
	// replayPause spaces replay rounds: drops and acknowledgements wake the
	// replayer much more often than a round is worth running.
	replayPause = 20 * time.Millisecond
	// replayTick catches what no hook reports, e.g. a subscriber whose
	// in-flight quota was full.
	replayTick = time.Second
)

// replayer offers stored messages that no subscriber holds in flight (left
// from before a restart, published while nobody subscribed, or dropped by
// mochi) to the current subscribers. It injects them like a publish, so the
// tagged copies are followed by the hook exactly like live ones.
type replayer struct {
	server *mqtt.Server
	client *mqtt.Client // the inline client replays are injected through
	queue  *queue
	ledger *ledger
	log    *slog.Logger
	wakeC  chan struct{}
}

func newReplayer(server *mqtt.Server, q *queue, l *ledger, log *slog.Logger) *replayer {
	return &replayer{
		server: server,
		client: server.NewClient(nil, "local", "enviromon-replay", true),
		queue:  q,
		ledger: l,
		log:    log,
		wakeC:  make(chan struct{}, 1),
	}
}

// wake asks for a round without blocking; wakes during a round coalesce.
func (r *replayer) wake() {
	select {
	case r.wakeC <- struct{}{}:
	default:
	}
}

// run replays until ctx ends.
func (r *replayer) run(ctx context.Context) {
	tick := time.NewTicker(replayTick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.wakeC:
			// Subscribers holding a full window leave no room: skip the walk
			// over every stored message, which a busy broker would otherwise
			// take on each acknowledgement.
			if r.ledger.holding() >= replayWindow {
				continue
			}
		case <-tick.C:
		}
		r.round()
		select {
		case <-ctx.Done():
			return
		case <-time.After(replayPause):
		}
	}
}

// round injects the idle messages that have a QoS ≥ 1 subscriber, oldest
// first, while the window has room.
func (r *replayer) round() {
	busy, free := r.ledger.idle()
	room := replayWindow - busy
	subscribed := map[string]bool{}
	for _, c := range free {
		if room <= 0 {
			return
		}
		ok, seen := subscribed[c.topic]
		if !seen {
			ok = r.subscribed(c.topic)
			subscribed[c.topic] = ok
		}
		if !ok {
			continue
		}
		m, err := r.queue.get(c.key)
		if errors.Is(err, errNotFound) {
			continue // acknowledged meanwhile
		}
		if err != nil {
			r.log.Warn("stored message not replayed", "key", c.key, "error", err)
			continue
		}
		pk := packets.Packet{
			FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: m.QoS},
			TopicName:   m.Topic,
			Payload:     m.Payload,
			PacketID:    1, // never sent; a QoS > 0 packet must carry one
		}
		// Not retained again: an old message must not replace the retained
		// value of its topic.
		setKey(&pk, c.key)
		if err := r.server.InjectPacket(r.client, pk); err != nil {
			r.log.Warn("stored message not replayed", "key", c.key, "error", err)
			continue
		}
		room--
	}
}

// subscribed reports whether a client subscription with QoS ≥ 1 matches
// topic: only such a subscriber acknowledges, and anything less would be
// replayed forever.
func (r *replayer) subscribed(topic string) bool {
	subs := r.server.Topics.Subscribers(topic)
	for _, s := range subs.Subscriptions {
		if s.Qos > 0 {
			return true
		}
	}
	for _, group := range subs.Shared {
		for _, s := range group {
			if s.Qos > 0 {
				return true
			}
		}
	}
	return false
}
