package dapr

import (
	"context"
	"fmt"

	"github.com/dapr/go-sdk/client"

	"github.com/enviromon/enviromon/app/notify"
)

// BindingClient is the part of the go-sdk client.Client that Output uses.
type BindingClient interface {
	InvokeBinding(ctx context.Context, in *client.InvokeBindingRequest) (*client.BindingEvent, error)
}

// Output is a sidecar output binding, such as bindings.azure.signalr.
type Output struct {
	client BindingClient
	name   string
}

var _ notify.Invoker = (*Output)(nil)

// NewOutput returns the output binding named binding (the Component's
// metadata.name) reached through c.
func NewOutput(c BindingClient, binding string) *Output {
	return &Output{client: c, name: binding}
}

// Invoke runs operation on the binding and returns what it answered.
func (o *Output) Invoke(ctx context.Context, operation string, data []byte, metadata map[string]string) ([]byte, error) {
	resp, err := o.client.InvokeBinding(traced(ctx), &client.InvokeBindingRequest{
		Name:      o.name,
		Operation: operation,
		Data:      data,
		Metadata:  metadata,
	})
	if err != nil {
		return nil, fmt.Errorf("output binding: %w", err)
	}
	if resp == nil {
		return nil, nil
	}
	return resp.Data, nil
}
