package inprocess

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/dapr/components-contrib/bindings"

	"github.com/enviromon/enviromon/app/component"
)

// Output is an output binding run in-process.
type Output struct {
	name    string
	binding bindings.OutputBinding
	ops     []bindings.OperationKind
}

// OpenOutput creates and initialises the output binding c, within
// c.InitTimeout. Component logs go to log (nil discards them). When its
// type cannot run here or its Init fails and c sets ignoreErrors, the
// error wraps ErrSkipped: the app may go on without it, as daprd would.
// Close it when done.
func OpenOutput(ctx context.Context, c component.Component, log *slog.Logger, opts ...Option) (*Output, error) {
	k, err := lookup(c)
	if err != nil {
		return nil, optional(c, err)
	}
	if k.output == nil {
		return nil, fmt.Errorf("component %q: %s is not an output binding", c.Name, c.Type)
	}
	set := newSettings(opts)
	b := k.output(newKitLogger(log, c.Name, set.logLevel))
	if err := initialize(ctx, c, log, func(ctx context.Context) error { return b.Init(ctx, bindingMetadata(c)) }, b.Close); err != nil {
		return nil, optional(c, err)
	}
	return &Output{name: c.Name, binding: b, ops: b.Operations()}, nil
}

// Invoke runs operation (such as "create", or SignalR's "clientNegotiate")
// with data and per-request metadata, and returns the binding's answer.
// An operation the binding does not list is refused, as daprd does.
func (o *Output) Invoke(ctx context.Context, operation string, data []byte, metadata map[string]string) ([]byte, map[string]string, error) {
	op := bindings.OperationKind(operation)
	if !slices.Contains(o.ops, op) {
		return nil, nil, fmt.Errorf("invoke %s: operation %q not supported (supported: %v)", o.name, operation, o.ops)
	}
	resp, err := o.binding.Invoke(ctx, &bindings.InvokeRequest{Operation: op, Data: data, Metadata: metadata})
	if err != nil {
		return nil, nil, fmt.Errorf("invoke %s %s: %w", o.name, operation, err)
	}
	if resp == nil {
		return nil, nil, nil
	}
	return resp.Data, resp.Metadata, nil
}

// Close releases the binding's connections.
func (o *Output) Close() error {
	if err := o.binding.Close(); err != nil {
		return fmt.Errorf("close %s: %w", o.name, err)
	}
	return nil
}
