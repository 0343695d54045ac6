package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/enviromon/enviromon/app/sim"
	simmqtt "github.com/enviromon/enviromon/app/sim/mqtt"
)

// simulate runs cfg.Simulate devices against the embedded broker, as
// `make run` does, until ctx ends.
func simulate(ctx context.Context, cfg config, log *slog.Logger) error {
	sender, err := simmqtt.New(simmqtt.Config{Broker: "tcp://" + cfg.BrokerAddr})
	if err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	defer sender.Close()
	stats, err := sim.Run(ctx, sim.Config{Devices: cfg.Simulate, Rate: cfg.SimRate}, sender)
	log.Info("simulator stopped", "stats", stats.String())
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("simulator: %w", err)
	}
	return nil
}
