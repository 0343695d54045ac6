package inprocess

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync/atomic"

	"github.com/dapr/components-contrib/bindings"
	contribmd "github.com/dapr/components-contrib/metadata"

	"github.com/enviromon/enviromon/app/component"
)

// Handler processes one message from an input binding: its payload and the
// metadata the binding passes (bindings.mqtt3: "topic"; Event Hubs: the IoT
// Hub device id, enqueued time and message id). A nil error acknowledges
// the message. Handlers run concurrently.
//
// What an error does depends on the binding. bindings.mqtt3 calls the
// handler again with the same message every 5 s, up to backOffMaxRetries
// more times (default 0; -1 retries forever), and then leaves the message
// unacknowledged: the broker sends it again only when the binding
// reconnects with the same consumerID and cleanSession false. So bad input
// must be answered with nil (and counted), not an error.
type Handler func(ctx context.Context, data []byte, metadata map[string]string) ([]byte, error)

// errClosed refuses deliveries that arrive after Close.
var errClosed = errors.New("input closed")

// Input is an input binding run in-process.
type Input struct {
	name    string
	binding bindings.InputBinding
	closed  atomic.Bool
}

// OpenInput creates and initialises the input binding c, within
// c.InitTimeout. Component logs go to log (nil discards them). It fails
// even when c sets ignoreErrors: the app cannot run without its input
// binding. Close it when done.
func OpenInput(ctx context.Context, c component.Component, log *slog.Logger, opts ...Option) (*Input, error) {
	k, err := lookup(c)
	if err != nil {
		return nil, required(c, "input binding", err)
	}
	if k.input == nil {
		return nil, fmt.Errorf("component %q: %s is not an input binding", c.Name, c.Type)
	}
	set := newSettings(opts)
	b := k.input(newKitLogger(log, c.Name, set.logLevel))
	if err := initialize(ctx, c, log, func(ctx context.Context) error { return b.Init(ctx, bindingMetadata(c)) }, b.Close); err != nil {
		return nil, required(c, "input binding", err)
	}
	return &Input{name: c.Name, binding: b}, nil
}

// Read starts delivering messages to h and returns once the binding is
// subscribed; deliveries go on in the binding's goroutines until ctx is
// done or Close is called. The ctx h receives is done when Read's is.
func (in *Input) Read(ctx context.Context, h Handler) error {
	err := in.binding.Read(ctx, func(cctx context.Context, r *bindings.ReadResponse) ([]byte, error) {
		if in.closed.Load() {
			return nil, errClosed
		}
		// The binding's own context is not tied to Read's (mqtt3 passes
		// context.Background()), so end the handler's with either.
		hctx, cancel := context.WithCancel(cctx)
		defer cancel()
		stop := context.AfterFunc(ctx, cancel)
		defer stop()
		return h(hctx, r.Data, r.Metadata)
	})
	if err != nil {
		return fmt.Errorf("read %s: %w", in.name, err)
	}
	return nil
}

// Close stops deliveries and disconnects. Messages not yet acknowledged
// stay with the source to be delivered again.
func (in *Input) Close() error {
	in.closed.Store(true)
	if err := in.binding.Close(); err != nil {
		return fmt.Errorf("close %s: %w", in.name, err)
	}
	return nil
}

// bindingMetadata is what daprd passes to a binding's Init.
func bindingMetadata(c component.Component) bindings.Metadata {
	return bindings.Metadata{Base: contribmd.Base{Name: c.Name, Properties: maps.Clone(c.Metadata)}}
}
