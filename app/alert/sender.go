package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
)

// Invoker calls an output binding: in-process, or through the sidecar.
type Invoker interface {
	Invoke(ctx context.Context, operation string, data []byte, metadata map[string]string) ([]byte, error)
}

// Binding delivers alerts to an output binding with operation "create" and
// the alert as the JSON body: bindings.http posts it to a URL; Event Grid,
// SMTP and the like take the same invocation, swapped by YAML.
type Binding struct {
	Invoker Invoker
}

var _ Sender = Binding{}

// Send invokes the binding with a.
func (b Binding) Send(ctx context.Context, a Alert) error {
	body, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode alert: %w", err)
	}
	if _, err := b.Invoker.Invoke(ctx, "create", body, nil); err != nil {
		return fmt.Errorf("alert binding: %w", err)
	}
	return nil
}

// Log delivers alerts to a log, at info: where they go with no binding.
type Log struct {
	Log *slog.Logger
}

var _ Sender = Log{}

// Send logs a.
func (l Log) Send(ctx context.Context, a Alert) error {
	l.Log.InfoContext(ctx, "alert "+string(a.State), "ruleId", a.RuleID, "deviceId", a.DeviceID,
		"metric", a.Metric, "since", a.Since, "value", a.Value)
	return nil
}

// BestEffort is a sender whose failures are logged and not kept for a
// later try: the dashboard's live feed, which reads the alert list again
// whenever it reconnects. The other senders' transitions stay in the
// state's outbox until they took them.
type BestEffort struct {
	Sender
}

// SenderFunc adapts a function to Sender.
type SenderFunc func(ctx context.Context, a Alert) error

// Send calls f.
func (f SenderFunc) Send(ctx context.Context, a Alert) error { return f(ctx, a) }
