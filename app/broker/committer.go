package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

const (
	// pendingMax bounds the publishes waiting for a commit and those in one
	// commit. Past it, publishers' reads wait: memory stays bounded when
	// the disk is slower than the network.
	pendingMax = 4096
	// removalMax does the same for acknowledged records waiting for their
	// deletion; past it, subscribers' reads wait.
	removalMax = 4096
)

// errStopped is what publishes still waiting get when the broker stops.
var errStopped = errors.New("broker stopped")

// pending is a QoS ≥ 1 PUBLISH on its way to the disk.
type pending struct {
	cl *mqtt.Client
	pk packets.Packet // the key is set once stored
	// Exactly one of these: box forwards and acknowledges a pipelined
	// publish once it is stored; done tells a waiting OnPublish.
	box  *outbox
	done chan error
}

// committer is the only writer of the queue. It stores whatever arrived
// while the previous commit ran, and deletes what subscribers acknowledged
// meanwhile, in one transaction: many publishes, from one connection or
// many, share one fsync, and no connection's reads wait for the disk.
type committer struct {
	queue    *queue
	ledger   *ledger
	log      *slog.Logger
	in       chan *pending
	removals chan uint64
	boxes    sync.WaitGroup // outboxes' goroutines
}

func newCommitter(q *queue, l *ledger, log *slog.Logger) *committer {
	return &committer{
		queue:    q,
		ledger:   l,
		log:      log,
		in:       make(chan *pending, pendingMax),
		removals: make(chan uint64, removalMax),
	}
}

// submit queues p for the next commit, waiting while the queue is full.
func (c *committer) submit(ctx context.Context, p *pending) error {
	select {
	case c.in <- p:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("submit: %w", errStopped)
	}
}

// store submits a publish and waits until it is committed; it returns the
// packet with its key set.
func (c *committer) store(ctx context.Context, cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	p := &pending{cl: cl, pk: pk, done: make(chan error, 1)}
	if err := c.submit(ctx, p); err != nil {
		return pk, err
	}
	select {
	case err := <-p.done:
		return p.pk, err
	case <-ctx.Done():
		return pk, fmt.Errorf("store: %w", errStopped)
	}
}

// remove schedules the deletion of an acknowledged record. A subscriber's
// PUBACK need not wait for it: a deletion lost in a crash only causes a
// duplicate. Once the broker stops the key is dropped, for the same reason.
func (c *committer) remove(ctx context.Context, key uint64) {
	select {
	case c.removals <- key:
	case <-ctx.Done():
	}
}

// run commits until ctx ends. It then fails the publishes still queued
// (their connections are gone, and without a PUBACK they are sent again)
// and makes the deletions still queued.
func (c *committer) run(ctx context.Context) {
	defer c.boxes.Wait()
	for {
		select {
		case p := <-c.in:
			c.commit(c.drain([]*pending{p}), c.drainRemovals(nil))
		case k := <-c.removals:
			c.commit(c.drain(nil), c.drainRemovals([]uint64{k}))
		case <-ctx.Done():
			for batch := c.drain(nil); len(batch) > 0; batch = c.drain(nil) {
				c.fail(batch, errStopped)
			}
			for keys := c.drainRemovals(nil); len(keys) > 0; keys = c.drainRemovals(nil) {
				c.commit(nil, keys)
			}
			return
		}
	}
}

// drain appends the publishes queued, without waiting, up to pendingMax.
func (c *committer) drain(batch []*pending) []*pending {
	for len(batch) < pendingMax {
		select {
		case p := <-c.in:
			batch = append(batch, p)
		default:
			return batch
		}
	}
	return batch
}

// drainRemovals appends the deletions queued, without waiting, up to
// removalMax.
func (c *committer) drainRemovals(keys []uint64) []uint64 {
	for len(keys) < removalMax {
		select {
		case k := <-c.removals:
			keys = append(keys, k)
		default:
			return keys
		}
	}
	return keys
}

// commit writes batch and deletes removals in one transaction, then, in
// arrival order, enters each message in the ledger and lets it go on: a
// pipelined one to its connection's outbox, a waiting one back to mochi.
func (c *committer) commit(batch []*pending, removals []uint64) {
	ms := make([]message, len(batch))
	for i, p := range batch {
		ms[i] = message{Topic: p.pk.TopicName, Payload: p.pk.Payload, QoS: p.pk.FixedHeader.Qos, Retain: p.pk.FixedHeader.Retain}
	}
	keys, err := c.queue.write(ms, removals)
	if err != nil {
		// mochi drops rejected packets silently, so this is the one place
		// the failure is reported.
		c.log.Error("publishes not stored, closing their connections; acknowledged messages stay stored and will be replayed",
			"publishes", len(batch), "acknowledged", len(removals), "error", err)
		c.fail(batch, err)
		return
	}
	for i, p := range batch {
		// The publisher marks the entry busy until mochi has offered it to
		// the subscribers, so the replayer does not offer it first.
		c.ledger.add(keys[i], p.pk.TopicName, p.cl)
		setKey(&p.pk, keys[i])
		if p.done != nil {
			p.done <- nil
			continue
		}
		p.box.push(p.pk, &c.boxes)
	}
}

// fail gives up on batch: no PUBACK, and the publishers' connections are
// closed so that they send again.
func (c *committer) fail(batch []*pending, err error) {
	for _, p := range batch {
		if p.done != nil {
			p.done <- err
			continue
		}
		p.cl.Stop(err)
		p.box.release()
	}
}
