package broker

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// keyPrefix marks a packet whose message is already stored. The key rides in
// Connect.ClientIdentifier: mochi copies that field into every copy of a
// packet (one per subscriber, the in-flight copy, the retained copy) but
// never encodes it for a PUBLISH, and never decodes one into it, so a client
// can neither see nor forge it.
const keyPrefix = "enviromon-queue:"

func setKey(pk *packets.Packet, key uint64) {
	pk.Connect.ClientIdentifier = keyPrefix + strconv.FormatUint(key, 10)
}

func keyOf(pk packets.Packet) (uint64, bool) {
	s, ok := strings.CutPrefix(pk.Connect.ClientIdentifier, keyPrefix)
	if !ok {
		return 0, false
	}
	key, err := strconv.ParseUint(s, 10, 64)
	return key, err == nil
}

// errPipelined tells mochi to leave a pipelined publish to the hook.
var errPipelined = fmt.Errorf("pipelined: %w", packets.ErrRejectPacket)

// hook stores QoS ≥ 1 publishes before mochi acknowledges them and follows
// their in-flight copies until a subscriber acknowledges one.
type hook struct {
	mqtt.HookBase
	ctx     context.Context // ends when the broker stops
	commits *committer
	boxes   *outboxes
	ledger  *ledger
	wake    func() // asks the replayer to offer messages nobody holds
}

var _ mqtt.Hook = (*hook)(nil)

// ID names the hook in mochi's logs.
func (h *hook) ID() string { return "enviromon-durable" }

// Provides lists the events the hook handles.
func (h *hook) Provides(b byte) bool {
	return bytes.Contains([]byte{
		mqtt.OnPublish,
		mqtt.OnPublished,
		mqtt.OnPublishDropped,
		mqtt.OnQosPublish,
		mqtt.OnQosComplete,
		mqtt.OnQosDropped,
		mqtt.OnSubscribed,
		mqtt.OnClientExpired,
		mqtt.OnDisconnect,
	}, []byte{b})
}

// OnPublish runs before mochi writes the PUBACK (or PUBREC): the message
// must be on disk before the device may forget it.
//
// A client's QoS 1 publish is taken off mochi's hands (rejected, so mochi
// does nothing more) and pipelined: the connection reads on while the
// committer stores it together with whatever else arrived, and its outbox
// then has mochi acknowledge and forward it. Anything else (QoS 2, whose
// PUBREC mochi must own, or an in-process publish) waits here for its
// commit. A publish that cannot be stored gets no acknowledgement, and its
// connection is closed so that the device sends it again.
func (h *hook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Qos == 0 {
		return pk, nil
	}
	if _, ok := keyOf(pk); ok {
		return pk, nil // a replay, or a pipelined publish now stored
	}
	if !cl.Net.Inline {
		// mochi has just discarded whatever it had in flight to this client
		// under the same packet id.
		h.ledger.unsent(holder{client: cl.ID, id: pk.PacketID})
	}
	if pk.FixedHeader.Qos == 1 && !cl.Net.Inline {
		if err := h.pipeline(cl, pk); err != nil {
			cl.Stop(err)
		}
		return pk, errPipelined
	}
	stored, err := h.commits.store(h.ctx, cl, pk)
	if err != nil {
		cl.Stop(err)
		return pk, fmt.Errorf("store: %w", packets.ErrRejectPacket)
	}
	return stored, nil
}

// pipeline queues a QoS 1 publish for the committer, waiting only while
// this connection's window or the committer's queue is full.
func (h *hook) pipeline(cl *mqtt.Client, pk packets.Packet) error {
	// A topic alias belongs to the connection and is resolved by now;
	// finishing the publish later must not set it again, over a newer one.
	pk.Properties.TopicAlias, pk.Properties.TopicAliasFlag = 0, false
	box := h.boxes.get(cl)
	if err := box.reserve(h.ctx); err != nil {
		return err
	}
	if err := h.commits.submit(h.ctx, &pending{cl: cl, pk: pk, box: box}); err != nil {
		box.release()
		return err
	}
	return nil
}

// OnPublished runs once mochi has offered the message to the subscribers.
func (h *hook) OnPublished(_ *mqtt.Client, pk packets.Packet) {
	if key, ok := keyOf(pk); ok {
		h.ledger.offered(key)
	}
}

// OnPublishDropped runs when a subscriber's write queue was full; mochi has
// rolled back the in-flight copy.
func (h *hook) OnPublishDropped(cl *mqtt.Client, pk packets.Packet) {
	if key, ok := keyOf(pk); ok {
		h.ledger.dropped(cl.ID, key)
		h.wake()
	}
}

// OnQosPublish runs whenever mochi puts a packet in a client's in-flight
// store, which is what the client's acknowledgement will refer to.
func (h *hook) OnQosPublish(cl *mqtt.Client, pk packets.Packet, _ int64, _ int) {
	at := holder{client: cl.ID, id: pk.PacketID}
	if key, ok := keyOf(pk); ok && pk.FixedHeader.Type == packets.Publish {
		h.ledger.sent(at, key)
		return
	}
	h.ledger.unsent(at) // e.g. the PUBACK owed to this client as a publisher
}

// OnQosComplete runs on a subscriber's PUBACK (or PUBCOMP).
func (h *hook) OnQosComplete(cl *mqtt.Client, pk packets.Packet) {
	if key, ok := h.ledger.acked(holder{client: cl.ID, id: pk.PacketID}); ok {
		h.commits.remove(h.ctx, key)
		h.wake()
	}
}

// OnQosDropped runs when mochi discards an in-flight copy: it expired, or the
// client's session ended.
func (h *hook) OnQosDropped(cl *mqtt.Client, pk packets.Packet) {
	if cl.IsTakenOver() {
		return // the new connection inherited the in-flight copies
	}
	h.ledger.unsent(holder{client: cl.ID, id: pk.PacketID})
	h.wake()
}

// OnSubscribed lets the replayer offer stored messages to the new filters.
func (h *hook) OnSubscribed(*mqtt.Client, packets.Packet, []byte) { h.wake() }

// OnDisconnect runs once cl's connection has stopped reading.
func (h *hook) OnDisconnect(cl *mqtt.Client, _ error, _ bool) { h.boxes.drop(cl) }

// OnClientExpired runs when a disconnected session expires together with
// its in-flight copies.
func (h *hook) OnClientExpired(cl *mqtt.Client) {
	h.ledger.forget(cl.ID)
	h.wake()
}
