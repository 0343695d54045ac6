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
	"github.com/enviromon/enviromon/app/sim/iothub"
	simmqtt "github.com/enviromon/enviromon/app/sim/mqtt"
)

// envPrefix names the environment variable behind each flag: -rate is
// SIM_RATE, -sas-ttl is SIM_SAS_TTL.
const envPrefix = "SIM_"

// envName is the environment variable behind flag name.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// config is everything the simulator is told, from flags, then the
// environment for flags not given, then defaults.
type config struct {
	sim       sim.Config
	transport string // "mqtt" or "http"
	broker    string
	url       string
	seedSet   bool                // whether the seed was chosen rather than drawn
	hub       *iothub.Credentials // from -connection-string: one IoT Hub device
	sasTTL    time.Duration
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
	connStr := fs.String("connection-string", "", "an Azure IoT Hub device connection string\n(HostName=<hub>.azure-devices.net;DeviceId=<id>;SharedAccessKey=<base64>):\nsimulate that one device against the hub (prefer SIM_CONNECTION_STRING: a flag shows in ps)")
	fs.DurationVar(&c.sasTTL, "sas-ttl", simmqtt.DefaultSASTTL, "with -connection-string: how long each SAS token is valid, at least 1m;\nthe device reconnects with a fresh one when a fifth of that is left")
	fs.Usage = func() {
		fmt.Fprintf(usage, "Usage: devicesim [flags]\nEvery flag falls back to %s in the environment, e.g. %s for -rate, %s for -sas-ttl.\n",
			envName("name"), envName("rate"), envName("sas-ttl"))
		fmt.Fprintf(usage, "With -connection-string the simulator is that one IoT Hub device: MQTT over TLS to\n"+
			"<hub>.azure-devices.net:8883, client id the device id, a SAS token as password,\n"+
			"QoS 1 to devices/<id>/messages/events/; -devices, -prefix, -broker, -url and -transport do not apply.\n")
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
		name := envName(f.Name)
		if v := getenv(name); v != "" && !given[f.Name] {
			given[f.Name] = true
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", name, v, err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return config{}, err
	}
	if err := c.setHub(*connStr, given); err != nil {
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

// setHub makes c simulate the one IoT Hub device of the connection string
// connStr, if given; given holds the flags set on the command line or in the
// environment. Flags that cannot apply to a hub device are refused rather
// than ignored.
func (c *config) setHub(connStr string, given map[string]bool) error {
	if connStr == "" {
		if given["sas-ttl"] {
			return errors.New("-sas-ttl applies only with -connection-string")
		}
		return nil
	}
	for _, f := range []string{"broker", "prefix", "url"} {
		if given[f] {
			return fmt.Errorf("-%s does not apply with -connection-string: the device and its hub come from it", f)
		}
	}
	if given["devices"] && c.sim.Devices != 1 {
		return fmt.Errorf("-devices %d with -connection-string: IoT Hub gives each device identity one connection, so one string simulates one device", c.sim.Devices)
	}
	if c.transport != "mqtt" {
		return fmt.Errorf("-transport %s with -connection-string: only mqtt is supported", c.transport)
	}
	if c.sasTTL < time.Minute {
		return fmt.Errorf("-sas-ttl %s, want at least 1m", c.sasTTL)
	}
	// The string is not quoted in errors: it holds the key.
	hub, err := iothub.ParseConnectionString(connStr)
	if err != nil {
		return fmt.Errorf("-connection-string: %w", err)
	}
	c.hub = &hub
	c.sim.Devices, c.sim.IDs = 1, []string{hub.DeviceID}
	return nil
}

// String describes the config in one line, passwords and keys masked.
func (c config) String() string {
	target := c.url
	if c.transport == "mqtt" {
		target = c.broker
	}
	if u, err := url.Parse(target); err == nil {
		target = u.Redacted()
	}
	if c.hub != nil {
		target = fmt.Sprintf("to IoT Hub as %s (ssl://%s:%d, SAS tokens for %s)", c.hub, c.hub.HostName, iothub.Port, c.sasTTL)
	}
	first := sim.DeviceID(c.sim.Prefix, 1, c.sim.Devices) + "…"
	if len(c.sim.IDs) > 0 {
		first = c.sim.IDs[0]
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
	devices := "devices"
	if c.sim.Devices == 1 {
		devices = "device"
	}
	return fmt.Sprintf("%d %s (%s) at %g msg/s each, %s; shape %s, light %t, invalid %g, repeat %g, seed %s; %s %s",
		c.sim.Devices, devices, first, c.sim.Rate, stop,
		c.sim.Shape, c.sim.Light, c.sim.Invalid, c.sim.Repeat, seed, c.transport, target)
}
