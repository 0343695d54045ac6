// Command enviromon runs the telemetry pipeline: an input binding feeds the
// group-commit processor, device state lands in a state store, live updates
// leave through an output binding, and an HTTP API serves the dashboard.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "enviromon:", err)
		os.Exit(1)
	}
}

// run starts the app, prints where to find it and serves until ctx ends.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)
	log.Info("starting", cfg.logValue()...)
	a, err := start(ctx, cfg, getenv, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Enviromon is running: open http://%s/\n", a.httpAddr)
	<-ctx.Done()
	log.Info("stopping")
	return a.close()
}
