package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/enviromon/enviromon/app/api"
	"github.com/enviromon/enviromon/app/binding"
	"github.com/enviromon/enviromon/app/broker"
	"github.com/enviromon/enviromon/app/component"
	"github.com/enviromon/enviromon/app/inprocess"
	"github.com/enviromon/enviromon/app/pipeline"
)

// app is the running product: what start opened, in the order close undoes.
type app struct {
	log      *slog.Logger
	httpAddr string
	proc     *pipeline.Processor

	input   func() error       // closes the input binding, first of all
	cancel  context.CancelFunc // stops the background loops
	wg      sync.WaitGroup
	server  *http.Server
	closers []namedCloser // closed last, in reverse order
}

type namedCloser struct {
	name  string
	close func() error
}

// start wires and starts everything in embedded mode. On error, what was
// started is stopped again.
func start(ctx context.Context, cfg config, getenv func(string) string, log *slog.Logger) (a *app, err error) {
	a = &app{log: log}
	defer func() {
		if err != nil {
			err = errors.Join(err, a.close())
		}
	}()
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.cancel = cancel

	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return a, fmt.Errorf("data folder: %w", err)
	}
	comps, err := component.LoadDir(cfg.Components, component.Options{AppID: cfg.AppID, Getenv: getenv})
	if err != nil {
		return a, err
	}
	find := func(name string) (component.Component, error) {
		for _, c := range comps {
			if c.Name == name {
				return c, nil
			}
		}
		return component.Component{}, fmt.Errorf("component %q not found in %s", name, cfg.Components)
	}

	if cfg.BrokerAddr != "" {
		b, err := broker.New(broker.Config{Addr: cfg.BrokerAddr, DataDir: filepath.Join(cfg.DataDir, "broker")}, log.With("component", "broker"))
		if err != nil {
			return a, fmt.Errorf("broker: %w", err)
		}
		if err := b.Start(); err != nil {
			return a, fmt.Errorf("broker: %w", err)
		}
		a.closers = append(a.closers, namedCloser{"broker", b.Close})
		log.Info("embedded MQTT broker listening", "addr", b.Addr())
	}

	stateComp, err := find(cfg.StateStore)
	if err != nil {
		return a, err
	}
	store, err := inprocess.OpenState(ctx, stateComp, cfg.AppID, log)
	if err != nil {
		return a, err
	}
	a.closers = append(a.closers, namedCloser{"state store", store.Close})

	a.proc, err = pipeline.New(store, cfg.Pipeline, pipeline.WithLogger(log))
	if err != nil {
		return a, err
	}
	a.goRun("processor", func() error { return a.proc.Run(runCtx) })

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return a, fmt.Errorf("listen: %w", err)
	}
	a.httpAddr = ln.Addr().String()
	deps := api.Deps{
		Ingest: a.proc, Devices: a.proc, Calibrations: a.proc, Log: log,
		Metrics: func() pipeline.Snapshot { return a.proc.Metrics().Snapshot() },
		Ready: map[string]api.Check{"state": func(ctx context.Context) error {
			_, err := store.BulkGet(ctx, []string{"readiness-probe"})
			return err
		}},
	}
	if cfg.Dashboard != "" {
		deps.Dashboard = http.Dir(cfg.Dashboard)
	}
	a.server = &http.Server{Handler: api.NewRouter(deps), ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute}
	a.goRun("http", func() error {
		if err := a.server.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})

	inComp, err := find(cfg.InputBinding)
	if err != nil {
		return a, err
	}
	in, err := inprocess.OpenInput(ctx, inComp, log)
	if err != nil {
		return a, err
	}
	a.input = in.Close
	if err := in.Read(runCtx, func(ctx context.Context, data []byte, meta map[string]string) ([]byte, error) {
		_, err := a.proc.Process(ctx, binding.Message(data, meta))
		return nil, err
	}); err != nil {
		return a, fmt.Errorf("input binding %s: %w", inComp.Name, err)
	}

	if cfg.Simulate > 0 {
		a.goRun("simulator", func() error { return simulate(runCtx, cfg, log) })
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

// close stops input first, so nothing new arrives, then the HTTP server,
// the loops, and the components, in reverse order of opening.
func (a *app) close() error {
	var errs []error
	if a.input != nil {
		if err := a.input(); err != nil {
			errs = append(errs, fmt.Errorf("close input binding: %w", err))
		}
		a.input = nil
	}
	if a.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := a.server.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
		cancel()
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
