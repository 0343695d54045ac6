package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/trace"

	"github.com/enviromon/enviromon/app/api"
	"github.com/enviromon/enviromon/app/notify"
	"github.com/enviromon/enviromon/app/pipeline"
	"github.com/enviromon/enviromon/app/registry"
)

// app is the running product: what start opened, in the order close undoes.
type app struct {
	log      *slog.Logger
	httpAddr string
	proc     *pipeline.Processor
	notifier *notify.Notifier // nil without live updates
	// stopProcessor stops the processor and waits for its lanes to drain.
	stopProcessor func()

	input   func() error         // closes the input binding, first of all
	tracing trace.TracerProvider // nil without tracing
	cancel  context.CancelFunc   // stops the background loops
	wg      sync.WaitGroup
	servers []server      // shut down after the input
	closers []namedCloser // closed last, in reverse order
}

// server is an HTTP server and what must close before its graceful
// shutdown can finish (long-lived streams that never go idle).
type server struct {
	srv    *http.Server
	before func() error
}

type namedCloser struct {
	name  string
	close func() error
}

// infra is what a mode provides to the common pipeline: embedded mode
// opens components in-process, sidecar mode talks to daprd.
type infra struct {
	store     pipeline.Store
	storeType string         // the state component's type, e.g. state.sqlite; "" if unknown
	output    notify.Invoker // nil without live updates
	// signalrOrigin is the origin of the SignalR endpoint the output
	// component hands browsers, when the app reads it (embedded mode).
	signalrOrigin string
	// routes adds HTTP routes (the sidecar's input binding route).
	routes func(r *gin.Engine, handle func(context.Context, pipeline.Message) error)
	// startBroker starts the embedded broker with the device registry
	// (embedded mode, with -broker).
	startBroker func(reg *registry.Registry) error
	// openOutput opens another output binding by component name (the
	// alerts'); nil, nil when embedded mode finds no such component.
	openOutput func(ctx context.Context, name string) (notify.Invoker, error)
	// startInput starts in-process input delivery (embedded mode).
	startInput func(ctx context.Context, handle func(context.Context, pipeline.Message) error) error
}

// start wires and starts everything. On error, what was started is stopped
// again.
func start(ctx context.Context, cfg config, getenv func(string) string, log *slog.Logger) (a *app, err error) {
	a = &app{log: log}
	defer func() {
		if err != nil {
			err = errors.Join(err, a.close())
		}
	}()
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.cancel = cancel
	obs, err := a.observe(ctx, getenv, log) // observe.go: metrics and tracing
	if err != nil {
		return a, err
	}
	a.tracing = obs.provider()

	// The HTTP listener comes first: daprd looks for the app port, and the
	// local SignalR service must know the dashboard's origin.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return a, fmt.Errorf("listen: %w", err)
	}
	a.httpAddr = ln.Addr().String()
	if cfg.Pprof != "" {
		if err := a.startPprof(cfg.Pprof); err != nil {
			return a, err
		}
	}

	var in infra
	if cfg.sidecar {
		in, err = a.openSidecar(ctx, cfg, getenv)
	} else {
		in, err = a.openEmbedded(ctx, cfg, getenv)
	}
	if err != nil {
		return a, err
	}
	reg, err := newRegistry(cfg, in.store)
	if err != nil {
		return a, err
	}
	if in.startBroker != nil {
		if err := in.startBroker(reg); err != nil {
			return a, err
		}
	}

	store, opts := obs.pipeline(in.store)
	opts = append(opts, pipeline.WithLogger(log))
	var live *notify.Binding
	if in.output != nil {
		live = &notify.Binding{Invoker: in.output}
		if a.notifier, err = notify.New(live, cfg.NotifyRate, log, obs.notifier()...); err != nil {
			return a, err
		}
		a.goRun("notifier", func() error { return a.notifier.Run(runCtx) })
	}
	alerts, feed, err := a.startAlerts(runCtx, cfg, in, store, live) // alerts.go
	if err != nil {
		return a, err
	}
	if a.notifier != nil {
		opts = append(opts, pipeline.WithNotifier(notifiers{a.notifier, feed}))
	} else {
		opts = append(opts, pipeline.WithNotifier(feed))
	}
	if cfg.Pipeline.Lanes == 0 {
		cfg.Pipeline.Lanes = lanesFor(in.storeType)
		log.Info("commit lanes", "lanes", cfg.Pipeline.Lanes, "stateType", in.storeType)
	}
	a.proc, err = pipeline.New(store, cfg.Pipeline, opts...)
	if err != nil {
		return a, err
	}
	a.runProcessor(runCtx)
	handle := func(ctx context.Context, m pipeline.Message) error {
		_, err := a.proc.Process(ctx, m)
		return err
	}

	deps := api.Deps{
		Ingest: a.proc, Devices: a.proc, Calibrations: a.proc, Alerts: alerts, Log: log, AllowedOrigins: cfg.CORSOrigins,
		Metrics: obs.metrics, Tracing: obs.provider(),
		Ready: map[string]api.Check{"state": func(ctx context.Context) error {
			_, err := in.store.BulkGet(ctx, []string{"readiness-probe"})
			return err
		}},
	}
	if live != nil {
		deps.Negotiate = live
	}
	if deps.Auth, err = a.authenticator(runCtx, cfg); err != nil {
		return a, err
	}
	deps.WriteRole, deps.TrustedProxies, deps.NegotiatePerMinute = cfg.AuthRole, cfg.TrustedProxies, cfg.NegotiatePerMinute
	deps.ConnectSources = connectSources(cfg, in.signalrOrigin)
	deps.Registry, deps.DeviceAuth = reg, reg
	if deps.RequireDeviceAuth = loopbackOnly(a.httpAddr) != nil; !deps.RequireDeviceAuth {
		log.Warn("HTTP ingest accepts anonymous devices: the app listens on loopback only", "addr", a.httpAddr)
	}
	if cfg.Dashboard != "" {
		deps.Dashboard = http.Dir(cfg.Dashboard)
	}
	if in.routes != nil {
		deps.Extra = func(r *gin.Engine) { in.routes(r, handle) }
	}
	a.serve("http", ln, api.NewRouter(deps), nil)

	if in.startInput != nil {
		if err := in.startInput(runCtx, obs.deliveries(cfg.InputBinding, handle)); err != nil {
			return a, err
		}
	}
	if cfg.Simulate > 0 {
		a.goRun("simulator", func() error { return simulate(runCtx, cfg, reg, log) })
	}
	return a, nil
}

// goRun runs fn until the app closes; an error is logged once here.
func (a *app) goRun(name string, fn func() error) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := fn(); err != nil {
			a.log.Error("stopped with an error", "part", name, "err", err)
		}
	}()
}

// serve runs an HTTP server on ln until the app closes; before, if not
// nil, is called first when it shuts down.
func (a *app) serve(name string, ln net.Listener, h http.Handler, before func() error) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute,
		Protocols: serverProtocols(), HTTP2: &http.HTTP2Config{MaxConcurrentStreams: maxStreams}}
	a.servers = append(a.servers, server{srv: srv, before: before})
	a.goRun(name, func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
}

// maxStreams is how many requests one HTTP/2 connection carries at once.
// daprd (app-protocol h2c) holds a binding delivery open until the app's
// group commit answers it, so the commit's size is bounded by the deliveries
// in flight: over HTTP/1.1 daprd opens at most 1024 connections to the app.
const maxStreams = 10000

// serverProtocols are HTTP/1.1, for browsers and probes, and HTTP/2 without
// TLS (h2c, prior knowledge), for daprd with app-protocol h2c, on one port.
func serverProtocols() *http.Protocols {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return &p
}

// close stops input first, so nothing new arrives, then the HTTP servers,
// the loops, and the components, in reverse order of opening.
func (a *app) close() error {
	var errs []error
	if a.input != nil {
		if err := a.input(); err != nil {
			errs = append(errs, fmt.Errorf("close input binding: %w", err))
		}
		a.input = nil
	}
	for _, s := range a.servers {
		if s.before != nil {
			if err := s.before(); err != nil {
				errs = append(errs, err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := s.srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
		cancel()
	}
	a.servers = nil
	if a.stopProcessor != nil {
		a.stopProcessor() // commits what the lanes hold while the store is open
		a.stopProcessor = nil
	}
	if a.cancel != nil {
		a.cancel()
	}
	a.wg.Wait()
	for i := len(a.closers) - 1; i >= 0; i-- {
		if err := a.closers[i].close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", a.closers[i].name, err))
		}
	}
	a.closers = nil
	return errors.Join(errs...)
}
