package sim

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// ErrRejected is wrapped by a Sender's error when the receiver answered and
// refused the message for good (an HTTP 4xx): sending it again cannot help.
var ErrRejected = errors.New("rejected")

// Sender delivers one message of a device.
type Sender interface {
	// Send returns nil once the receiver has acknowledged payload (an MQTT
	// PUBACK, an HTTP 2xx). An error wrapping ErrRejected means it was
	// refused for good; any other error may be retried, and the message may
	// or may not have arrived. Send returns an error wrapping ctx.Err() when
	// ctx ends first. Send is safe for concurrent use.
	Send(ctx context.Context, deviceID string, payload []byte) error
}

// SenderFunc lets a function be a Sender, e.g. to feed payloads straight
// into a handler under test without a transport.
type SenderFunc func(ctx context.Context, deviceID string, payload []byte) error

// Send calls f.
func (f SenderFunc) Send(ctx context.Context, deviceID string, payload []byte) error {
	return f(ctx, deviceID, payload)
}

// outcome is how the delivery of one message ended.
type outcome int

const (
	acked     outcome = iota
	rejected          // refused for good, not retried
	failed            // every attempt failed, or the run ended between attempts
	cancelled         // ctx ended during an attempt: it may have arrived
)

// maxBackoff caps the wait between attempts.
const maxBackoff = 2 * time.Second

// deliver sends m with up to attempts tries, waiting backoff, then twice as
// long, and so on between them. Attempts run under ctx; the waits also end
// when stop is done, because a run that is over starts no new attempt.
func deliver(ctx context.Context, stop <-chan struct{}, s Sender, m Message, attempts int, backoff time.Duration) outcome {
	wait := backoff
	for try := 1; ; try++ {
		err := s.Send(ctx, m.DeviceID, m.Payload)
		switch {
		case err == nil:
			return acked
		case ctx.Err() != nil:
			return cancelled
		case errors.Is(err, ErrRejected):
			return rejected
		case try >= attempts:
			return failed
		}
		// Half fixed, half random, so devices that failed together do not
		// retry together.
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return failed
		case <-stop:
			t.Stop()
			return failed
		}
		wait = min(2*wait, maxBackoff)
	}
}
