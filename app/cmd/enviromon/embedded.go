package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/enviromon/enviromon/app/binding"
	"github.com/enviromon/enviromon/app/broker"
	"github.com/enviromon/enviromon/app/component"
	"github.com/enviromon/enviromon/app/inprocess"
	"github.com/enviromon/enviromon/app/notify"
	"github.com/enviromon/enviromon/app/pipeline"
	"github.com/enviromon/enviromon/app/registry"
)

// openEmbedded opens the components of cfg.Components in-process, with the
// embedded broker and local SignalR service when configured.
func (a *app) openEmbedded(ctx context.Context, cfg config, getenv func(string) string) (infra, error) {
	var in infra
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return in, fmt.Errorf("data folder: %w", err)
	}
	if cfg.SignalRLocal != "" {
		var err error
		if getenv, err = a.startSignalR(cfg, getenv); err != nil {
			return in, err
		}
	}
	comps, err := component.LoadDir(cfg.Components, component.Options{AppID: cfg.AppID, Getenv: getenv})
	if err != nil {
		return in, err
	}
	for _, c := range comps { // like daprd: an unusable component stops the start, unless its ignoreErrors skips it
		switch err := inprocess.Check(c); {
		case errors.Is(err, inprocess.ErrSkipped):
			a.log.Error("component skipped", "err", err)
			continue
		case err != nil:
			return in, err
		}
		a.log.Info("component", "spec", c.Redacted())
	}
	// As under daprd: NAMESPACE feeds keyPrefix "namespace"; component logs
	// below warn only with -log-level debug.
	opts := []inprocess.Option{inprocess.WithNamespace(getenv("NAMESPACE"))}
	if cfg.LogLevel <= slog.LevelDebug {
		opts = append(opts, inprocess.WithLogLevel(cfg.LogLevel))
	}
	find := func(name string) (component.Component, error) {
		for _, c := range comps {
			if c.Name == name {
				return c, nil
			}
		}
		return component.Component{}, fmt.Errorf("component %q not found in %s", name, cfg.Components)
	}
	// The broker starts once the registry it checks devices against is
	// open (see start); the input binding connects to it as the app's own
	// client.
	var service *broker.Credential
	if cfg.BrokerAddr != "" {
		if service, err = serviceCredential(cfg.AppID); err != nil {
			return in, err
		}
		in.startBroker = func(reg *registry.Registry) error { return a.startBroker(cfg, reg, service) }
	}

	stateComp, err := find(cfg.StateStore)
	if err != nil {
		return in, err
	}
	if err := checkKeyLayout(stateComp, cfg.AppID, getenv("NAMESPACE")); err != nil {
		return in, err
	}
	store, err := inprocess.OpenState(ctx, stateComp, cfg.AppID, a.log, opts...)
	if err != nil {
		return in, err
	}
	a.closers = append(a.closers, namedCloser{"state store", store.Close})
	in.store, in.storeType = store, stateComp.Type

	if cfg.OutputBinding != "" {
		outComp, err := find(cfg.OutputBinding)
		if err != nil {
			return in, err
		}
		in.signalrOrigin = signalrOrigin(outComp) // for the dashboard's CSP
		out, err := inprocess.OpenOutput(ctx, outComp, a.log, opts...)
		switch {
		case errors.Is(err, inprocess.ErrSkipped): // as daprd would: the app runs on without it
			a.log.Error("output binding skipped: no live updates", "err", err)
		case err != nil:
			return in, err
		default:
			a.closers = append(a.closers, namedCloser{"output binding", out.Close})
			in.output = notify.InvokerFunc(func(ctx context.Context, op string, data []byte, md map[string]string) ([]byte, error) {
				resp, _, err := out.Invoke(ctx, op, data, md)
				return resp, err
			})
		}
	}

	in.openOutput = func(ctx context.Context, name string) (notify.Invoker, error) {
		c, err := find(name)
		if err != nil {
			a.log.Warn("no alerts output component", "err", err)
			return nil, nil
		}
		out, err := inprocess.OpenOutput(ctx, c, a.log, opts...)
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, namedCloser{name + " output binding", out.Close})
		return notify.InvokerFunc(func(ctx context.Context, op string, data []byte, md map[string]string) ([]byte, error) {
			resp, _, err := out.Invoke(ctx, op, data, md)
			return resp, err
		}), nil
	}

	inComp, err := find(cfg.InputBinding)
	if err != nil {
		return in, err
	}
	if service != nil {
		inComp = withService(inComp, *service, cfg.BrokerAddr)
	}
	in.startInput = func(ctx context.Context, handle func(context.Context, pipeline.Message) error) error {
		input, err := inprocess.OpenInput(ctx, inComp, a.log, opts...)
		if err != nil {
			return err
		}
		a.input = input.Close
		err = input.Read(ctx, func(ctx context.Context, data []byte, meta map[string]string) ([]byte, error) {
			return nil, handle(ctx, binding.Message(data, meta))
		})
		if err != nil {
			return fmt.Errorf("input binding %s: %w", inComp.Name, err)
		}
		return nil
	}
	return in, nil
}

// startBroker runs the embedded MQTT broker, keeping its durable queue under
// the data folder, letting devices of reg in and the input binding as
// service.
func (a *app) startBroker(cfg config, reg *registry.Registry, service *broker.Credential) error {
	bc := broker.Config{Addr: cfg.BrokerAddr, DataDir: filepath.Join(cfg.DataDir, "broker"), Sync: cfg.BrokerSync,
		HubHost: reg.Host(), Devices: reg, Service: service}
	if err := brokerTLS(cfg, &bc); err != nil {
		return err
	}
	b, err := broker.New(bc, quiet(a.log, "broker"))
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	if err := b.Start(); err != nil {
		return errors.Join(fmt.Errorf("broker: %w", err), b.Close())
	}
	a.closers = append(a.closers, namedCloser{"broker", b.Close})
	a.log.Info("embedded MQTT broker listening", "addr", b.Addr(), "tlsAddr", b.TLSAddr(), "hubHost", reg.Host(), "sync", cfg.BrokerSync)
	return nil
}
