// Command devicesim simulates environment-monitoring devices sending
// telemetry over MQTT or HTTP, as a load generator and an end-to-end check:
// its final counts are what the pipeline should have counted. Given IoT Hub
// device connection strings, it is those devices, talking to the hub, or to
// the app's embedded broker or HTTP ingest with the same credentials.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/enviromon/enviromon/app/sim"
	simhttp "github.com/enviromon/enviromon/app/sim/http"
	simmqtt "github.com/enviromon/enviromon/app/sim/mqtt"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "devicesim:", err)
		os.Exit(1)
	}
}

// run simulates devices until the configured count or duration is reached
// or ctx ends, printing progress and a final summary to stdout. It fails
// when the config is bad or when sends failed after every retry.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	// Config.
	cfg, err := parseConfig(args[1:], getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	fmt.Fprintln(stdout, "devicesim:", cfg)

	// Transport.
	var sender sim.Sender
	switch cfg.transport {
	case "mqtt":
		mcfg := simmqtt.Config{Broker: cfg.broker}
		if len(cfg.hubs) > 0 {
			mcfg = simmqtt.Config{Broker: cfg.broker, Credentials: cfg.hubs, SASTTL: cfg.sasTTL, Now: time.Now, RootCAs: cfg.roots}
		}
		s, err := simmqtt.New(mcfg)
		if err != nil {
			return fmt.Errorf("config: %w", err)
		}
		defer s.Close()
		sender = s
	case "http":
		var opts []simhttp.Option
		if len(cfg.hubs) > 0 {
			opts = append(opts, simhttp.WithCredentials(cfg.hubs, cfg.sasTTL, time.Now))
		}
		sender = simhttp.New(cfg.url, nil, opts...)
	}

	// Run.
	cfg.sim.Progress = func(s sim.Stats) { fmt.Fprintln(stdout, "devicesim:", s) }
	stats, err := sim.Run(ctx, cfg.sim, sender)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "devicesim: done:", stats)
	if n := stats.Total.Failures; n > 0 {
		return fmt.Errorf("%d of %d sends failed after %d attempts", n, stats.Total.Sends(), cfg.sim.Attempts)
	}
	return nil
}
