package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/enviromon/enviromon/app/alert"
	"github.com/enviromon/enviromon/app/notify"
	"github.com/enviromon/enviromon/app/pipeline"
	"github.com/enviromon/enviromon/app/telemetry"
)

// startAlerts wires alert evaluation: the rules and state in store, raises
// and clears to the -alerts-output binding (or the log) and to the
// dashboard through live. It returns the service for the API and the
// notifier that feeds each commit's devices to the evaluator; the sweep
// lists devices through a.proc once it exists.
func (a *app) startAlerts(ctx context.Context, cfg config, in infra, store pipeline.Store, live *notify.Binding) (*alert.Service, pipeline.Notifier, error) {
	svc := alert.NewService(alertStore{store}, time.Now)
	var senders []alert.Sender
	var out notify.Invoker
	if cfg.AlertsOutput != "" && in.openOutput != nil {
		var err error
		if out, err = in.openOutput(ctx, cfg.AlertsOutput); err != nil {
			return nil, nil, fmt.Errorf("alerts output: %w", err)
		}
	}
	if out != nil {
		senders = append(senders, alert.Binding{Invoker: out})
	} else {
		a.log.Info("alerts are logged: no alerts output binding", "alertsOutput", cfg.AlertsOutput)
		senders = append(senders, alert.Log{Log: a.log})
	}
	if live != nil {
		senders = append(senders, alert.BestEffort{Sender: alert.SenderFunc(func(ctx context.Context, al alert.Alert) error {
			return live.Broadcast(ctx, notify.AlertTarget, al)
		})})
	}
	ev := alert.NewEvaluator(svc, deviceLister{a}, a.log, senders...)
	a.goRun("alerts", func() error { return ev.Run(ctx) })
	return svc, alertFeed{ev}, nil
}

// alertFeed hands each commit's devices to the evaluator, without blocking.
type alertFeed struct{ ev *alert.Evaluator }

var _ pipeline.Notifier = alertFeed{}

func (f alertFeed) Notify(_ context.Context, devices []telemetry.Summary) {
	out := make([]alert.Device, len(devices))
	for i, d := range devices {
		out[i] = alert.DeviceOf(d)
	}
	f.ev.Observe(out)
}

// deviceLister pages through the pipeline's devices for the sweep.
type deviceLister struct{ a *app }

func (l deviceLister) DevicePage(ctx context.Context, after string, limit int) ([]alert.Device, string, error) {
	if l.a.proc == nil {
		return nil, "", nil
	}
	page, next, err := l.a.proc.DevicePage(ctx, after, limit)
	out := make([]alert.Device, len(page))
	for i, s := range page {
		out[i] = alert.DeviceOf(s)
	}
	return out, next, err
}

// notifiers hands each commit to several notifiers.
type notifiers []pipeline.Notifier

func (n notifiers) Notify(ctx context.Context, devices []telemetry.Summary) {
	for _, x := range n {
		x.Notify(ctx, devices)
	}
}

// alertStore adapts the pipeline's store to the alert package's port.
type alertStore struct{ s pipeline.Store }

var _ alert.Store = alertStore{}

func (s alertStore) BulkGet(ctx context.Context, keys []string) (map[string]alert.Entry, error) {
	got, err := s.s.BulkGet(ctx, keys)
	out := make(map[string]alert.Entry, len(got))
	for k, e := range got {
		out[k] = alert.Entry{Value: e.Value, ETag: e.ETag}
	}
	return out, err
}

func (s alertStore) Set(ctx context.Context, key string, value []byte, etag string) error {
	return conflict(s.s.Set(ctx, key, value, etag))
}

func (s alertStore) Delete(ctx context.Context, key string, etag string) error {
	return conflict(s.s.Delete(ctx, key, etag))
}

func conflict(err error) error {
	if errors.Is(err, pipeline.ErrConflict) {
		return fmt.Errorf("%w: %w", alert.ErrConflict, err)
	}
	return err
}
