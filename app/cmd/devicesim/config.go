package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"strings"
	"time"

	"github.com/enviromon/enviromon/app/sim"
	simhttp "github.com/enviromon/enviromon/app/sim/http"
	simmqtt "github.com/enviromon/enviromon/app/sim/mqtt"
)

// envPrefix names the environment variable behind each flag: -rate is SIM_RATE.
const envPrefix = "SIM_"

// config is everything the simulator is told, from flags, then the
// environment for flags not given, then defaults.
type config struct {
	sim       sim.Config
	transport string // "mqtt" or "http"
	broker    string
	url       string
	seedSet   bool // whether the seed was chosen rather than drawn
}

// parseConfig reads args (without the program name) and the environment,
// and validates the result once.
func parseConfig(args []string, getenv func(string) string, usage io.Writer) (config, error) {
	c := config{sim: sim.Config{ProgressEvery: 5 * time.Second}}
	fs := flag.NewFlagSet("devicesim", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.IntVar(&c.sim.Devices, "devices", 3, "number of simulated devices")
	fs.Float64Var(&c.sim.Rate, "rate", 1, "messages per second per device")
	fs.DurationVar(&c.sim.Duration, "duration", 0, "stop after this long (0: no limit)")
	fs.IntVar(&c.sim.Count, "count", 0, "stop each device after this many sends (0: no limit)")
	fs.Float64Var(&c.sim.Invalid, "invalid", 0, "share of new messages made invalid, 0..1")
	fs.Float64Var(&c.sim.Repeat, "repeat", 0, "share of sends that re-send an acknowledged message, 0..1")
	fs.StringVar(&c.transport, "transport", "mqtt", "mqtt or http")
	fs.StringVar(&c.broker, "broker", simmqtt.DefaultBroker, "MQTT broker URL")
	fs.StringVar(&c.url, "url", simhttp.DefaultURL, "HTTP telemetry endpoint")
	shape := fs.String("shape", string(sim.ShapeBME280), `message shape: "bme280", or "pi" for the Azure Raspberry Pi web simulator`)
	fs.StringVar(&c.sim.Prefix, "prefix", "sim-", "device id prefix")
	fs.Uint64Var(&c.sim.Seed, "seed", 0, "random seed (0: draw one and print it)")
	fs.BoolVar(&c.sim.Light, "light", false, "send a light (lux) reading too")
	fs.IntVar(&c.sim.Attempts, "attempts", 4, "tries per send before it counts as failed")
	fs.DurationVar(&c.sim.ProgressEvery, "report", 5*time.Second, "interval of the progress line")
	fs.Usage = func() {
		fmt.Fprintf(usage, "Usage: devicesim [flags]\nEvery flag falls back to %sNAME in the environment, e.g. %sRATE.\n", envPrefix, envPrefix)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		name := envPrefix + strings.ToUpper(f.Name)
		if v := getenv(name); v != "" && !given[f.Name] {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", name, v, err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return config{}, err
	}

	c.sim.Shape = sim.Shape(*shape)
	c.seedSet = c.sim.Seed != 0
	if !c.seedSet {
		c.sim.Seed = rand.Uint64()
	}
	if c.transport != "mqtt" && c.transport != "http" {
		return config{}, fmt.Errorf("transport %q, want mqtt or http", c.transport)
	}
	if err := c.sim.Validate(); err != nil {
		return config{}, err
	}
	return c, nil
}

// String describes the config in one line, the broker's password masked.
func (c config) String() string {
	target := c.url
	if c.transport == "mqtt" {
		target = c.broker
	}
	if u, err := url.Parse(target); err == nil {
		target = u.Redacted()
	}
	stop := "until interrupted"
	switch s := c.sim; {
	case s.Count > 0 && s.Duration > 0:
		stop = fmt.Sprintf("%d sends per device or %s, whichever first", s.Count, s.Duration)
	case s.Count > 0:
		stop = fmt.Sprintf("%d sends per device", s.Count)
	case s.Duration > 0:
		stop = fmt.Sprintf("for %s", s.Duration)
	}
	seed := fmt.Sprint(c.sim.Seed)
	if !c.seedSet {
		seed += " (drawn)"
	}
	return fmt.Sprintf("%d devices (%s…) at %g msg/s each, %s; shape %s, light %t, invalid %g, repeat %g, seed %s; %s %s",
		c.sim.Devices, sim.DeviceID(c.sim.Prefix, 1, c.sim.Devices), c.sim.Rate, stop,
		c.sim.Shape, c.sim.Light, c.sim.Invalid, c.sim.Repeat, seed, c.transport, target)
}
