package main

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"

	"github.com/enviromon/enviromon/app/metrics"
	"github.com/enviromon/enviromon/app/notify"
	"github.com/enviromon/enviromon/app/pipeline"
	"github.com/enviromon/enviromon/app/tracing"
)

// observability is the app's metrics and tracing. It is made before the
// pipeline that feeds it, and reads the pipeline and the notifier at
// scrape time, once start has made them.
type observability struct {
	metrics *metrics.Registry
	tracing *tracing.Provider
}

// observe makes the app's metrics registry and tracer provider; the
// provider flushes its spans when the app closes, after everything else.
func (a *app) observe(ctx context.Context, getenv func(string) string, log *slog.Logger) (observability, error) {
	tp, err := tracing.New(ctx, getenv)
	if err != nil {
		return observability{}, err
	}
	a.closers = append(a.closers, namedCloser{"tracing", tp.Close})
	if tp.Enabled() {
		log.Info("tracing: exporting spans over OTLP/HTTP", "endpoint", tp.Endpoint)
	}
	reg := metrics.New(metrics.Sources{
		Pipeline: func() pipeline.Snapshot { return a.proc.Metrics().Snapshot() },
		Online:   func() int { return a.proc.Online() },
		Notifier: appNotifier{a},
	})
	return observability{metrics: reg, tracing: tp}, nil
}

// provider is the tracer provider for what traces per request, nil when
// tracing is off: nothing is then done per request at all.
func (o observability) provider() trace.TracerProvider {
	if !o.tracing.Enabled() {
		return nil
	}
	return o.tracing
}

// pipeline is the pipeline's store and options: histograms always, spans
// around commits and store calls when tracing is on.
func (o observability) pipeline(store pipeline.Store) (pipeline.Store, []pipeline.Option) {
	opts := []pipeline.Option{pipeline.WithObserver(o.metrics)}
	if !o.tracing.Enabled() {
		return store, opts
	}
	return tracing.Store(store, o.tracing), append(opts, pipeline.WithTracer(tracing.NewSpans(o.tracing)))
}

// notifier is the notifier's options: a span per live update when tracing
// is on.
func (o observability) notifier() []notify.Option {
	if !o.tracing.Enabled() {
		return nil
	}
	return []notify.Option{notify.WithTracer(tracing.NewSpans(o.tracing))}
}

// deliveries is h with a span per in-process input binding delivery when
// tracing is on.
func (o observability) deliveries(binding string, h func(context.Context, pipeline.Message) error) func(context.Context, pipeline.Message) error {
	if !o.tracing.Enabled() {
		return h
	}
	return tracing.Deliveries(o.tracing, binding, h)
}

// appNotifier reads the app's notifier, none without live updates.
type appNotifier struct{ a *app }

func (n appNotifier) Sends() int64 {
	if n.a.notifier == nil {
		return 0
	}
	return n.a.notifier.Sends()
}

func (n appNotifier) Failures() int64 {
	if n.a.notifier == nil {
		return 0
	}
	return n.a.notifier.Failures()
}

// runProcessor runs the processor until the app closes. close stops it
// before the rest (once the HTTP servers have answered their requests), so
// that its lanes commit what they hold and answer its callers, the input
// binding's handlers included, while the store is still open.
func (a *app) runProcessor(ctx context.Context) {
	procCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	a.stopProcessor = func() { stop(); <-done }
	a.goRun("processor", func() error { defer close(done); return a.proc.Run(procCtx) })
}
