package main

import (
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/enviromon/enviromon/app/iothub"
	"github.com/enviromon/enviromon/app/sim"
	simhttp "github.com/enviromon/enviromon/app/sim/http"
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
	seedSet   bool                 // whether the seed was chosen rather than drawn
	hubs      []iothub.Credentials // from -connection-string: IoT Hub devices
	sasTTL    time.Duration
	roots     *x509.CertPool // from -ca-cert: trusted for TLS instead of the system's
}

// connStrings collects -connection-string: the flag may be repeated, and
// each value may hold several strings separated by white space (one a
// line, from a file: SIM_CONNECTION_STRING="$(cat devices.txt)").
type connStrings []string

func (c *connStrings) String() string { return fmt.Sprintf("%d connection strings", len(*c)) }

func (c *connStrings) Set(v string) error {
	*c = append(*c, strings.Fields(v)...)
	return nil
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
	var connStrs connStrings
	fs.Var(&connStrs, "connection-string", "an IoT Hub device connection `string`\n(HostName=<hub>.azure-devices.net;DeviceId=<id>;SharedAccessKey=<base64>), as Azure's or\nthe app's registry (POST /api/registry/devices) hands it out: simulate that device against the hub;\nrepeat it, or separate strings with white space, for several (prefer SIM_CONNECTION_STRING: a flag shows in ps)")
	caCert := fs.String("ca-cert", "", "with -connection-string: a PEM file of certificates to trust for the broker's TLS\ninstead of the system's (the app's embedded broker with a self-signed -broker-tls-cert)")
	fs.DurationVar(&c.sasTTL, "sas-ttl", simmqtt.DefaultSASTTL, "with -connection-string: how long each SAS token is valid, at least 1m;\nthe device reconnects with a fresh one when a fifth of that is left")
	fs.Usage = func() {
		fmt.Fprintf(usage, "Usage: devicesim [flags]\nEvery flag falls back to %s in the environment, e.g. %s for -rate, %s for -sas-ttl.\n",
			envName("name"), envName("rate"), envName("sas-ttl"))
		fmt.Fprintf(usage, "With -connection-string the simulator is those IoT Hub devices: MQTT over TLS to\n"+
			"<hub>.azure-devices.net:8883 (or -broker: the app's embedded broker, tcp:// on this machine), client id\n"+
			"the device id, a SAS token as password, QoS 1 to devices/<id>/messages/events/; or with -transport http,\n"+
			"the token in Authorization to -url. -devices is their number and -prefix does not apply.\n")
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
	if err := c.setHubs(connStrs, *caCert, given); err != nil {
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

// setHubs makes c simulate the IoT Hub devices of the connection strings
// connStrs, if any; given holds the flags set on the command line or in the
// environment. Flags that cannot apply to hub devices are refused rather
// than ignored.
func (c *config) setHubs(connStrs []string, caCert string, given map[string]bool) error {
	if len(connStrs) == 0 {
		for _, f := range []string{"sas-ttl", "ca-cert"} {
			if given[f] {
				return fmt.Errorf("-%s applies only with -connection-string", f)
			}
		}
		return nil
	}
	if given["prefix"] {
		return errors.New("-prefix does not apply with -connection-string: the device ids come from it")
	}
	if given["devices"] && c.sim.Devices != len(connStrs) {
		return fmt.Errorf("-devices %d with %d connection strings: IoT Hub gives each device identity one connection, so one string simulates one device", c.sim.Devices, len(connStrs))
	}
	if c.sasTTL < time.Minute {
		return fmt.Errorf("-sas-ttl %s, want at least 1m", c.sasTTL)
	}
	c.sim.Devices, c.sim.IDs = len(connStrs), nil
	for i, s := range connStrs {
		// The string is not quoted in errors: it holds the key.
		hub, err := iothub.ParseConnectionString(s)
		if err != nil {
			return fmt.Errorf("-connection-string %d: %w", i+1, err)
		}
		c.hubs = append(c.hubs, hub)
		c.sim.IDs = append(c.sim.IDs, hub.DeviceID)
	}
	if !given["broker"] {
		c.broker = "" // the hub's: ssl://<HostName>:8883
	}
	if caCert != "" {
		pem, err := os.ReadFile(caCert)
		if err != nil {
			return fmt.Errorf("-ca-cert: %w", err)
		}
		c.roots = x509.NewCertPool()
		if !c.roots.AppendCertsFromPEM(pem) {
			return fmt.Errorf("-ca-cert %s: no PEM certificate in it", caCert)
		}
	}
	return nil
}

// String describes the config in one line, passwords and keys masked.
func (c config) String() string {
	target := c.url
	if c.transport == "mqtt" {
		target = c.broker
	}
	if len(c.hubs) > 0 && target == "" {
		target = fmt.Sprintf("ssl://%s:%d", c.hubs[0].HostName, iothub.Port)
	}
	if u, err := url.Parse(target); err == nil {
		target = u.Redacted()
	}
	if len(c.hubs) == 1 {
		target = fmt.Sprintf("to IoT Hub as %s (%s, SAS tokens for %s)", c.hubs[0], target, c.sasTTL)
	} else if len(c.hubs) > 1 {
		target = fmt.Sprintf("to IoT Hub as %d devices of %s (%s, SAS tokens for %s)", len(c.hubs), c.hubs[0].HostName, target, c.sasTTL)
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
