package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// config is the command's configuration: flags, else environment, else
// defaults.
type config struct {
	Addr           string
	Endpoint       string
	AccessKey      string
	AllowedOrigins []string
	LogLevel       slog.Level
}

// loadConfig reads args and the environment and validates the result.
// With -h it prints the usage to out and returns flag.ErrHelp.
func loadConfig(args []string, getenv func(string) string, out io.Writer) (config, error) {
	fs := flag.NewFlagSet("signalr-local", flag.ContinueOnError)
	fs.SetOutput(out)
	addr := fs.String("addr", envOr(getenv, "SIGNALR_ADDR", "127.0.0.1:8088"), "listen address (env SIGNALR_ADDR)")
	endpoint := fs.String("endpoint", getenv("SIGNALR_ENDPOINT"), "public base URL for the connection string (env SIGNALR_ENDPOINT; default http://<addr>)")
	key := fs.String("access-key", getenv("SIGNALR_ACCESS_KEY"), "access key (env SIGNALR_ACCESS_KEY; default random)")
	origins := fs.String("allow-origins", getenv("SIGNALR_ALLOWED_ORIGINS"), "comma-separated browser origins allowed besides the service's own (env SIGNALR_ALLOWED_ORIGINS)")
	level := fs.String("log-level", envOr(getenv, "SIGNALR_LOG_LEVEL", "info"), "debug, info, warn or error (env SIGNALR_LOG_LEVEL)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	cfg := config{Addr: *addr, Endpoint: *endpoint, AccessKey: *key}
	for o := range strings.SplitSeq(*origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			cfg.AllowedOrigins = append(cfg.AllowedOrigins, o)
		}
	}
	if err := cfg.LogLevel.UnmarshalText([]byte(*level)); err != nil {
		return config{}, fmt.Errorf("log level: %w", err)
	}
	if cfg.AccessKey == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return config{}, fmt.Errorf("access key: %w", err)
		}
		cfg.AccessKey = base64.RawURLEncoding.EncodeToString(b)
	}
	if cfg.Addr == "" {
		return config{}, errors.New("empty listen address")
	}
	return cfg, nil
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}
