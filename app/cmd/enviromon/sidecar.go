package main

import (
	"context"
	"fmt"
	"net"
	"time"

	daprclient "github.com/dapr/go-sdk/client"
	"github.com/gin-gonic/gin"

	"github.com/enviromon/enviromon/app/dapr"
	"github.com/enviromon/enviromon/app/notify"
	"github.com/enviromon/enviromon/app/pipeline"
)

// sidecarConnectTimeout bounds the wait for daprd at start-up: under
// `dapr run` both start together.
const sidecarConnectTimeout = 60 * time.Second

// openSidecar connects to the Dapr sidecar: state and the output binding go
// through its gRPC API, and it delivers the input binding to POST /<name>.
func (a *app) openSidecar(ctx context.Context, cfg config, getenv func(string) string) (infra, error) {
	var in infra
	var err error
	if in.storeType, err = a.sidecarKeyLayout(cfg, getenv); err != nil {
		return in, err
	}
	addr := getenv("DAPR_GRPC_ENDPOINT")
	if addr == "" {
		addr = net.JoinHostPort("127.0.0.1", getenv("DAPR_GRPC_PORT"))
	}
	// DAPR_API_TOKEN goes with every call to daprd (which then demands it);
	// daprd sends APP_API_TOKEN with every delivery to the app. Both come
	// from the pod's Secrets (deploy/base); either may be unset locally.
	apiToken, appToken := getenv("DAPR_API_TOKEN"), getenv("APP_API_TOKEN")
	c, err := connectSidecar(ctx, addr, apiToken)
	if err != nil {
		return in, err
	}
	a.closers = append(a.closers, namedCloser{"dapr client", func() error { c.Close(); return nil }})
	a.log.Info("connected to the Dapr sidecar", "addr", addr, "daprAPIToken", apiToken != "", "appAPIToken", appToken != "")

	store := dapr.NewState(c, cfg.StateStore)
	in.store = store
	if cfg.OutputBinding != "" {
		in.output = dapr.NewOutput(c, cfg.OutputBinding)
	}
	in.openOutput = func(_ context.Context, name string) (notify.Invoker, error) { return dapr.NewOutput(c, name), nil }
	in.routes = func(r *gin.Engine, handle func(context.Context, pipeline.Message) error) {
		dapr.InputRoute(r, cfg.InputBinding, handle, dapr.WithAppToken(appToken))
	}
	if cfg.CallbackAddr == "" {
		a.log.Warn("no -callback-addr: daprd must deliver over HTTP, where daprd 1.16 can acknowledge a failed delivery as delivered (README, Faults); run daprd with --app-protocol grpc and the app with -callback-addr")
		return in, nil
	}
	in.startInput = func(ctx context.Context, handle func(context.Context, pipeline.Message) error) error {
		return a.serveCallback(cfg, appToken, handle)
	}
	return in, nil
}

// callbackGrace bounds the wait for deliveries in flight at shutdown: as
// long as the HTTP servers' drain.
const callbackGrace = 10 * time.Second

// serveCallback serves daprd's gRPC app channel on cfg.CallbackAddr: the
// input binding's deliveries, the binding list and the health check. It
// stops first at shutdown (a.input), after the deliveries in flight.
func (a *app) serveCallback(cfg config, appToken string, handle func(context.Context, pipeline.Message) error) error {
	ln, err := net.Listen("tcp", cfg.CallbackAddr)
	if err != nil {
		return fmt.Errorf("app callback listener: %w", err)
	}
	srv := dapr.NewCallback(cfg.InputBinding, handle, dapr.WithCallbackToken(appToken), dapr.WithCallbackTracing(a.tracing)).Server()
	a.goRun("app callback", func() error { return srv.Serve(ln) })
	a.input = func() error { return dapr.StopServer(srv, callbackGrace) }
	a.log.Info("serving daprd's gRPC app channel (app-protocol grpc)", "addr", ln.Addr().String(), "binding", cfg.InputBinding)
	return nil
}

// connectSidecar dials daprd's gRPC API, retrying until it answers.
func connectSidecar(ctx context.Context, addr, apiToken string) (daprclient.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, sidecarConnectTimeout)
	defer cancel()
	for {
		c, err := dapr.Dial(ctx, addr, apiToken)
		if err == nil {
			return c, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("dapr sidecar at %s: %w", addr, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}
