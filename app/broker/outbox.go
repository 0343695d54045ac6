package broker

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// outbox finishes one connection's pipelined QoS 1 publishes once they are
// stored: mochi acknowledges and forwards each as if it had just arrived,
// in the order the PUBLISHes arrived ([MQTT-4.6.0-2]). It runs a goroutine
// of its own while it has work, so that a client that stops reading stalls
// its own PUBACKs and not everybody's commits.
type outbox struct {
	server *mqtt.Server
	cl     *mqtt.Client
	// slots holds one token per publish accepted and not yet acknowledged:
	// a full window makes this connection's reads wait.
	slots chan struct{}

	mu      sync.Mutex
	ready   []packets.Packet // stored, in arrival order
	running bool
}

// reserve takes a slot in the window, waiting while it is full.
func (o *outbox) reserve(ctx context.Context) error {
	select {
	case o.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("reserve: %w", errStopped)
	}
}

// release gives back a slot.
func (o *outbox) release() { <-o.slots }

// push hands over a stored publish, starting the goroutine (counted in wg)
// if none runs.
func (o *outbox) push(pk packets.Packet, wg *sync.WaitGroup) {
	o.mu.Lock()
	o.ready = append(o.ready, pk)
	start := !o.running
	o.running = true
	o.mu.Unlock()
	if start {
		wg.Go(o.flush)
	}
}

// flush finishes publishes until none is ready.
func (o *outbox) flush() {
	for {
		o.mu.Lock()
		batch := o.ready
		o.ready = nil
		if len(batch) == 0 {
			o.running = false
			o.mu.Unlock()
			return
		}
		o.mu.Unlock()
		for _, pk := range batch {
			o.finish(pk)
			o.release()
		}
	}
}

// finish has mochi process the stored publish as it would have on arrival
// had the hook let it through: PUBACK with mochi's reason code and
// accounting, then the copies to the subscribers, under the publisher's
// name so that no-local subscriptions and retained messages stay right.
// The key makes the hook let it pass this time.
//
// If the connection is gone mochi writes no PUBACK and forwards nothing;
// the ledger then sees a closed publisher and the replayer offers the
// message instead, so the error needs no handling here. mochi keeps one
// packet id space per client for both directions: should it have sent
// this client, as a subscriber, a copy under the same id since the
// PUBLISH arrived, it drops that copy now, and the ledger, told through
// OnQosPublish of the PUBACK, lets the replayer offer it again.
func (o *outbox) finish(pk packets.Packet) {
	if o.server.InjectPacket(o.cl, pk) == nil {
		// It counted the packet as received a second time.
		atomic.AddInt64(&o.server.Info.PacketsReceived, -1)
		atomic.AddInt64(&o.server.Info.MessagesReceived, -1)
	}
}

// outboxes holds the outbox of each connection that has pipelined a
// publish, until it disconnects.
type outboxes struct {
	server *mqtt.Server
	window int

	mu    sync.Mutex
	boxes map[*mqtt.Client]*outbox
}

func newOutboxes(server *mqtt.Server) *outboxes {
	// mochi announces this receive maximum to MQTT 5 clients; a client that
	// keeps to it never waits for a slot.
	return &outboxes{server: server, window: max(1, int(server.Options.Capabilities.ReceiveMaximum)), boxes: map[*mqtt.Client]*outbox{}}
}

// get returns cl's outbox, creating it on first use.
func (b *outboxes) get(cl *mqtt.Client) *outbox {
	b.mu.Lock()
	defer b.mu.Unlock()
	o, ok := b.boxes[cl]
	if !ok {
		o = &outbox{server: b.server, cl: cl, slots: make(chan struct{}, b.window)}
		b.boxes[cl] = o
	}
	return o
}

// drop forgets cl's outbox: cl reads no more. Publishes already handed
// over still finish, or fail on the closed connection.
func (b *outboxes) drop(cl *mqtt.Client) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.boxes, cl)
}
