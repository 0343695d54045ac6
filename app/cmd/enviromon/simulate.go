package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/enviromon/enviromon/app/iothub"
	"github.com/enviromon/enviromon/app/registry"
	"github.com/enviromon/enviromon/app/sim"
	simmqtt "github.com/enviromon/enviromon/app/sim/mqtt"
)

// simPrefix names the simulated devices: sim-001, sim-002...
const simPrefix = "sim-"

// simulate runs cfg.Simulate devices against the embedded broker, as
// `make run` does, until ctx ends. Each is registered in reg (or found
// there from an earlier run) and connects with its connection string, as a
// device would to IoT Hub: its own user name and SAS tokens.
func simulate(ctx context.Context, cfg config, reg *registry.Registry, log *slog.Logger) error {
	creds, err := simDevices(ctx, cfg.Simulate, reg)
	if err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	ids := make([]string, len(creds))
	for i, c := range creds {
		ids[i] = c.DeviceID
	}
	sender, err := simmqtt.New(simmqtt.Config{Broker: "tcp://" + cfg.BrokerAddr, Credentials: creds})
	if err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	defer sender.Close()
	stats, err := sim.Run(ctx, sim.Config{Devices: cfg.Simulate, IDs: ids, Rate: cfg.SimRate}, sender)
	log.Info("simulator stopped", "stats", stats.String())
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("simulator: %w", err)
	}
	return nil
}

// simDevices registers n simulated devices, or reads those registered by
// an earlier run, and returns their credentials, read back from their
// connection strings.
func simDevices(ctx context.Context, n int, reg *registry.Registry) ([]iothub.Credentials, error) {
	creds := make([]iothub.Credentials, 0, n)
	for i := 1; i <= n; i++ {
		id := sim.DeviceID(simPrefix, i, n)
		d, err := reg.Register(ctx, id, "")
		if errors.Is(err, registry.ErrExists) {
			d, err = reg.Device(ctx, id)
		}
		if err != nil {
			return nil, err
		}
		c, err := iothub.ParseConnectionString(d.Credentials(reg.Host()).ConnectionString())
		if err != nil {
			return nil, err
		}
		creds = append(creds, c)
	}
	return creds, nil
}
