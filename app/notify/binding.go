package notify

import (
	"context"
	"encoding/json"
	"fmt"
)

// Operations of Dapr's bindings.azure.signalr used here.
const (
	opSend      = "create"
	opNegotiate = "clientNegotiate"
)

// Invoker calls an output binding: in-process, or through the sidecar.
type Invoker interface {
	Invoke(ctx context.Context, operation string, data []byte, metadata map[string]string) ([]byte, error)
}

// Binding sends live updates and negotiates client connections through a
// bindings.azure.signalr output binding, so the same code works against
// Azure SignalR Service and the local one.
type Binding struct {
	Invoker Invoker
}

var _ Sender = Binding{}

// Send broadcasts one invocation to every connected client.
func (b Binding) Send(ctx context.Context, invocation []byte) error {
	if _, err := b.Invoker.Invoke(ctx, opSend, invocation, nil); err != nil {
		return fmt.Errorf("signalr send: %w", err)
	}
	return nil
}

// Negotiation is what a SignalR client needs to connect to the service.
type Negotiation struct {
	URL         string `json:"url"`
	AccessToken string `json:"accessToken"`
}

// Negotiate returns the service URL and an access token for a client. A
// user that is not empty is named in the token (the binding's "user"
// metadata: sub when it signs with the access key, the service's own user
// claim when Azure SignalR mints it), so sends to that user reach the
// connection.
func (b Binding) Negotiate(ctx context.Context, user string) (Negotiation, error) {
	var md map[string]string
	if user != "" {
		md = map[string]string{"user": user}
	}
	out, err := b.Invoker.Invoke(ctx, opNegotiate, nil, md)
	if err != nil {
		return Negotiation{}, fmt.Errorf("signalr negotiate: %w", err)
	}
	var n Negotiation
	if err := json.Unmarshal(out, &n); err != nil || n.URL == "" || n.AccessToken == "" {
		return Negotiation{}, fmt.Errorf("signalr negotiate: unexpected answer %.100q", out)
	}
	return n, nil
}

// InvokerFunc adapts a function to Invoker.
type InvokerFunc func(ctx context.Context, operation string, data []byte, metadata map[string]string) ([]byte, error)

// Invoke calls f.
func (f InvokerFunc) Invoke(ctx context.Context, operation string, data []byte, metadata map[string]string) ([]byte, error) {
	return f(ctx, operation, data, metadata)
}

// AlertTarget is the client method alert raises and clears go to, apart
// from the device updates of Target.
const AlertTarget = "alert"

// Broadcast sends every client one invocation of target with arg as its
// one argument.
func (b Binding) Broadcast(ctx context.Context, target string, arg any) error {
	body, err := json.Marshal(struct {
		Target    string `json:"target"`
		Arguments [1]any `json:"arguments"`
	}{Target: target, Arguments: [1]any{arg}})
	if err != nil {
		return fmt.Errorf("encode %s invocation: %w", target, err)
	}
	return b.Send(ctx, body)
}
