package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"github.com/enviromon/enviromon/app/api"
	"github.com/enviromon/enviromon/app/broker"
	"github.com/enviromon/enviromon/app/pipeline"
	"github.com/enviromon/enviromon/app/telemetry"
)

// config is every setting of the app, from flags with ENVIROMON_* fallbacks.
type config struct {
	Addr          string // HTTP listen address
	CallbackAddr  string // sidecar mode: daprd's gRPC app channel (app-protocol grpc); "" for the HTTP route alone
	Mode          string // embedded, sidecar or auto (sidecar when DAPR_GRPC_PORT is set)
	sidecar       bool   // the mode chosen
	AppID         string // Dapr app id: key prefix and {appID} in component YAML
	Components    string // folder of Dapr Component YAML: instantiated (embedded), or the state component's layout checked (sidecar)
	DataDir       string // broker queue and other local state
	BrokerAddr    string // embedded MQTT broker; "" to run none
	InputBinding  string // component names, never types
	StateStore    string
	OutputBinding string // "" for no live notifications
	AlertsOutput  string // output binding alerts go to; "" to log them
	SignalRLocal  string // address of the in-process local SignalR service; "" for none
	NotifyRate    int    // live update sends per second at most
	CORSOrigins   []string
	Dashboard     string // folder served at /; "" for none
	Simulate      int    // devices simulated in-process over MQTT (0: none)
	SimRate       float64
	LogLevel      slog.Level
	Pprof         string // loopback address for /debug/pprof/; "" for none
	Pipeline      pipeline.Config
	BrokerSync    broker.Sync // when the embedded broker acknowledges a publish
	// Device identity (README, Device identity).
	HubHost       string // host name of the devices' connection strings, user names and tokens
	BrokerTLSAddr string // the embedded broker's MQTT-over-TLS listener, with a certificate
	BrokerTLSCert string // PEM files of the TLS listener's certificate (chain) and key
	BrokerTLSKey  string

	// Security (README, Security): write and negotiate auth, CSP, proxies.
	AuthIssuer             string   // OIDC issuer of bearer tokens; "" leaves writes open (loopback only)
	AuthAudience           string   // aud the tokens must carry
	AuthRole               string   // roles claim a write needs; "" for any valid token
	AuthInsecureOpenWrites bool     // allow open writes on a non-loopback address
	ConnectSrc             []string // origins the dashboard may connect to besides its own (the SignalR service)
	TrustedProxies         []string // addresses or CIDRs whose X-Forwarded-For names the client
	NegotiatePerMinute     int      // negotiations per client address per minute
}

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("enviromon", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	p := pipeline.DefaultConfig()
	level := "info"
	c = config{Addr: "127.0.0.1:8080", CallbackAddr: "127.0.0.1:8081", Mode: "auto", AppID: "enviromon", Components: "components/embedded", DataDir: "data",
		BrokerAddr: "127.0.0.1:1883", HubHost: defaultHubHost, BrokerTLSAddr: ":8883", InputBinding: "telemetry", StateStore: "statestore", OutputBinding: "signalr",
		SignalRLocal: "127.0.0.1:8088", NotifyRate: 10, Dashboard: "dashboard", SimRate: 1,
		NegotiatePerMinute: api.DefaultNegotiatePerMinute}
	var origins, connectSrc, proxies string
	str := func(v *string, name, env, usage string) { fs.StringVar(v, name, *v, usage+" (env ENVIROMON_"+env+")") }
	str(&c.Addr, "addr", "ADDR", "HTTP listen address")
	str(&c.CallbackAddr, "callback-addr", "CALLBACK_ADDR", "sidecar mode: where daprd delivers the input binding over gRPC (daprd --app-protocol grpc --app-port <its port>); empty serves only the HTTP route, which daprd 1.16 can acknowledge without delivering (README, Faults)")
	str(&c.Pprof, "pprof", "PPROF", "serve Go's profiling endpoints (/debug/pprof/) on this loopback address, e.g. 127.0.0.1:6060; empty for none")
	str(&c.Mode, "mode", "MODE", "embedded (components in-process), sidecar (beside daprd) or auto: sidecar when DAPR_GRPC_PORT or DAPR_GRPC_ENDPOINT is set")
	str(&c.AppID, "app-id", "APP_ID", "Dapr app id: state key prefix and {appID} in components")
	str(&c.Components, "components", "COMPONENTS", "folder of Dapr Component YAML: run in-process (embedded mode); in sidecar mode, where the state component's manifest is read to check its key layout (default none)")
	str(&c.DataDir, "data", "DATA", "folder for local data")
	str(&c.BrokerAddr, "broker", "BROKER", "embedded MQTT broker address, plain MQTT on loopback only (beyond it: -broker-tls-cert); empty for none")
	str(&c.HubHost, "hub-host", "HUB_HOST", "host name devices connect to, as in IoT Hub's <hub>.azure-devices.net: in the registry's connection strings, and checked in their MQTT user names and SAS tokens; with TLS, the certificate's name")
	str(&c.BrokerTLSCert, "broker-tls-cert", "BROKER_TLS_CERT", "PEM certificate (chain) of the embedded broker's MQTT-over-TLS listener, which may listen beyond loopback; empty for none")
	str(&c.BrokerTLSKey, "broker-tls-key", "BROKER_TLS_KEY", "PEM private key of -broker-tls-cert")
	str(&c.BrokerTLSAddr, "broker-tls-addr", "BROKER_TLS_ADDR", "address of the embedded broker's MQTT-over-TLS listener, with -broker-tls-cert")
	fs.TextVar(&c.BrokerSync, "broker-sync", broker.SyncFsync, "when the embedded broker acknowledges a QoS ≥ 1 publish: fsync (flushed to disk, survives a power loss) or none (in the OS page cache, survives a crash of the app but not of the machine) (env ENVIROMON_BROKER_SYNC)")
	str(&c.InputBinding, "input", "INPUT", "input binding component name")
	str(&c.StateStore, "state", "STATE", "state store component name")
	str(&c.OutputBinding, "output", "OUTPUT", "SignalR output binding component name; empty for none")
	str(&c.AlertsOutput, "alerts-output", "ALERTS_OUTPUT", "output binding component name alert raises and clears go to (operation create, the alert as JSON), e.g. alerts with components/examples/alerts-webhook.yaml; empty to log them")
	str(&c.SignalRLocal, "signalr-local", "SIGNALR_LOCAL", "run the local SignalR service in-process on this address; empty for none (Azure)")
	str(&origins, "cors-origins", "CORS_ORIGINS", "comma-separated origins allowed to call the API and the local SignalR service (a dashboard hosted elsewhere); never *")
	str(&c.AuthIssuer, "auth-issuer", "AUTH_ISSUER", "OIDC issuer whose bearer tokens writes and negotiate need, e.g. https://login.microsoftonline.com/{tenant id}/v2.0; empty: writes open, allowed only on a loopback -addr")
	str(&c.AuthAudience, "auth-audience", "AUTH_AUDIENCE", "aud the tokens must carry (Entra ID: the API app registration's client id)")
	str(&c.AuthRole, "auth-role", "AUTH_ROLE", "app role (roles claim) a write needs, e.g. "+writeRoleExample+"; empty: any valid token")
	fs.BoolVar(&c.AuthInsecureOpenWrites, "auth-insecure-open-writes", false, "let anyone who reaches a non-loopback -addr write, without auth-issuer (env ENVIROMON_AUTH_INSECURE_OPEN_WRITES)")
	str(&connectSrc, "connect-src", "CONNECT_SRC", "comma-separated origins the dashboard may connect to besides its own: the SignalR service's, when it is not the in-process output component's")
	str(&proxies, "trusted-proxies", "TRUSTED_PROXIES", "comma-separated addresses or CIDRs of proxies whose X-Forwarded-For names the client (an ingress controller's pods)")
	fs.IntVar(&c.NegotiatePerMinute, "negotiate-per-minute", c.NegotiatePerMinute, "negotiations per client address per minute, and in a burst (env ENVIROMON_NEGOTIATE_PER_MINUTE)")
	fs.IntVar(&c.NotifyRate, "notify-rate", c.NotifyRate, "live update sends per second at most (env ENVIROMON_NOTIFY_RATE)")
	str(&c.Dashboard, "dashboard", "DASHBOARD", "dashboard folder served at /; empty for none")
	str(&level, "log-level", "LOG_LEVEL", "debug, info, warn or error")
	fs.IntVar(&c.Simulate, "simulate", 0, "simulate this many devices over MQTT (env ENVIROMON_SIMULATE)")
	fs.Float64Var(&c.SimRate, "sim-rate", c.SimRate, "messages per second per simulated device (env ENVIROMON_SIM_RATE)")
	fs.DurationVar(&p.Window, "batch-window", p.Window, "group commit window; 0 commits what queued during the last commit without lingering (env ENVIROMON_BATCH_WINDOW)")
	fs.IntVar(&p.MaxBatch, "batch-max", p.MaxBatch, "readings that close a group commit early (env ENVIROMON_BATCH_MAX)")
	p.Lanes = 0 // by state store, once its type is known: see lanesFor
	fs.IntVar(&p.Lanes, "lanes", p.Lanes, "parallel committers; 0 picks by state store: 1 for state.sqlite, whose writers take turns, else 4 (env ENVIROMON_LANES)")
	fs.IntVar(&p.DedupWindow, "dedup-window", p.DedupWindow, "message ids remembered per device (env ENVIROMON_DEDUP_WINDOW)")
	fs.DurationVar(&p.CalibrationTTL, "calibration-ttl", p.CalibrationTTL, "how long a cached calibration is used (env ENVIROMON_CALIBRATION_TTL)")
	fs.DurationVar(&p.HistoryMinutes, "history-minutes", p.HistoryMinutes, "how long 1-minute history buckets are kept; 0 keeps hour buckets only (env ENVIROMON_HISTORY_MINUTES)")
	fs.DurationVar(&p.HistoryHours, "history-hours", p.HistoryHours, "how long 1-hour history buckets are kept; 0 keeps no history (env ENVIROMON_HISTORY_HOURS)")
	fs.Var(&limitsFlag{l: &p.Limits}, "limits", "accepted ranges, e.g. temperature=-40..80,humidity=0..100,pressure=600..1600 (env ENVIROMON_LIMITS)")

	// Environment first, flags over it: every flag has an ENVIROMON_ twin.
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		name := "ENVIROMON_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", name, v, err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	c.Pipeline = p
	switch c.Mode {
	case "auto":
		c.sidecar = getenv("DAPR_GRPC_PORT") != "" || getenv("DAPR_GRPC_ENDPOINT") != ""
	case "sidecar":
		if getenv("DAPR_GRPC_PORT") == "" && getenv("DAPR_GRPC_ENDPOINT") == "" {
			return c, errors.New("sidecar mode needs DAPR_GRPC_PORT or DAPR_GRPC_ENDPOINT")
		}
		c.sidecar = true
	case "embedded":
	default:
		return c, fmt.Errorf("mode %q: want embedded, sidecar or auto", c.Mode)
	}
	if c.sidecar {
		// daprd owns the broker, the components and SignalR; the embedded
		// components folder is not what daprd loads.
		c.BrokerAddr, c.SignalRLocal = "", ""
		if !given(fs, "components") && getenv("ENVIROMON_COMPONENTS") == "" {
			c.Components = ""
		}
	}
	for _, o := range strings.Split(origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.CORSOrigins = append(c.CORSOrigins, o)
		}
	}
	c.ConnectSrc, c.TrustedProxies = splitList(connectSrc), splitList(proxies)
	if err := c.LogLevel.UnmarshalText([]byte(level)); err != nil {
		return c, fmt.Errorf("log level: %w", err)
	}
	return c, c.validate()
}

// given reports whether the flag name was on the command line.
func given(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

func (c config) validate() error {
	var errs []error
	if c.Addr == "" {
		errs = append(errs, errors.New("addr is empty"))
	}
	if c.StateStore == "" || c.InputBinding == "" {
		errs = append(errs, errors.New("state and input component names are required"))
	}
	if c.NotifyRate <= 0 {
		errs = append(errs, errors.New("notify-rate must be positive"))
	}
	if c.Simulate < 0 || c.SimRate <= 0 {
		errs = append(errs, errors.New("simulate must be ≥ 0 and sim-rate > 0"))
	}
	errs = append(errs, c.checkIdentity()...)
	if c.Simulate > 0 && c.BrokerAddr == "" {
		errs = append(errs, errors.New("simulate needs the embedded broker (run devicesim beside a sidecar)"))
	}
	if c.Pipeline.Window < 0 {
		errs = append(errs, errors.New("batch-window must not be negative (0: no linger)"))
	}
	if c.Pipeline.MaxBatch <= 0 || c.Pipeline.DedupWindow <= 0 {
		errs = append(errs, errors.New("batch-max and dedup-window must be positive"))
	}
	if c.Pipeline.HistoryMinutes < 0 || c.Pipeline.HistoryHours < 0 || c.Pipeline.HistoryMinutes > c.Pipeline.HistoryHours {
		errs = append(errs, errors.New("history-minutes and history-hours must not be negative (0: off), and history-minutes must not exceed history-hours"))
	}
	if c.Pipeline.Lanes < 0 {
		errs = append(errs, errors.New("lanes must not be negative (0: by state store)"))
	}
	if err := c.Pipeline.Limits.Check(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.checkSecurity()...)
	return errors.Join(errs...)
}

// limitsFlag parses "metric=min..max" pairs into telemetry.Limits.
type limitsFlag struct{ l *telemetry.Limits }

func (f *limitsFlag) String() string {
	if f.l == nil {
		return ""
	}
	return fmt.Sprintf("temperature=%g..%g,humidity=%g..%g,pressure=%g..%g",
		f.l.Temperature.Min, f.l.Temperature.Max, f.l.Humidity.Min, f.l.Humidity.Max, f.l.Pressure.Min, f.l.Pressure.Max)
}

func (f *limitsFlag) Set(s string) error {
	for _, part := range strings.Split(s, ",") {
		name, span, ok := strings.Cut(strings.TrimSpace(part), "=")
		lo, hi, ok2 := strings.Cut(span, "..")
		if !ok || !ok2 {
			return fmt.Errorf("limits: %q is not metric=min..max", part)
		}
		minV, err1 := strconv.ParseFloat(lo, 64)
		maxV, err2 := strconv.ParseFloat(hi, 64)
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("limits: %q: %w", part, err)
		}
		r := telemetry.Range{Min: minV, Max: maxV}
		switch name {
		case "temperature":
			f.l.Temperature = r
		case "humidity":
			f.l.Humidity = r
		case "pressure":
			f.l.Pressure = r
		default:
			return fmt.Errorf("limits: unknown metric %q", name)
		}
	}
	return nil
}

// logValue masks nothing secret (the config holds no secrets; components
// resolve theirs from the environment) and is logged once at start.
func (c config) logValue() []any {
	return []any{"addr", c.Addr, "sidecar", c.sidecar, "appID", c.AppID, "components", c.Components, "data", c.DataDir,
		"broker", c.BrokerAddr, "hubHost", c.HubHost, "brokerTLSAddr", c.BrokerTLSAddr, "brokerTLSCert", c.BrokerTLSCert, "input", c.InputBinding, "state", c.StateStore, "output", c.OutputBinding, "alertsOutput", c.AlertsOutput,
		"signalrLocal", c.SignalRLocal, "notifyRate", c.NotifyRate, "corsOrigins", c.CORSOrigins,
		"authIssuer", c.AuthIssuer, "authAudience", c.AuthAudience, "authRole", c.AuthRole, "connectSrc", c.ConnectSrc,
		"trustedProxies", c.TrustedProxies, "negotiatePerMinute", c.NegotiatePerMinute,
		"simulate", c.Simulate, "batchWindow", c.Pipeline.Window, "batchMax", c.Pipeline.MaxBatch,
		"lanes", c.Pipeline.Lanes, "dedupWindow", c.Pipeline.DedupWindow,
		"historyMinutes", c.Pipeline.HistoryMinutes, "historyHours", c.Pipeline.HistoryHours, "limits", (&limitsFlag{l: &c.Pipeline.Limits}).String()}
}
