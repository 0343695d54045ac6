// Command signalr-local runs the local Azure SignalR-compatible service
// (package signalr) as its own process, for Dapr's bindings.azure.signalr
// and the dashboard's @microsoft/signalr client. It prints the connection
// string to use in the binding's component metadata.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/enviromon/enviromon/app/signalr"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "signalr-local:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done, then shuts down gracefully.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	// Configuration.
	cfg, err := loadConfig(args, getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel}))

	// Listener first: with port 0 the endpoint is known only after it.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	endpoint := cfg.Endpoint
	if endpoint == "" {
		endpoint = "http://" + reachable(ln.Addr().(*net.TCPAddr))
	}

	// Service.
	svc, err := signalr.New(signalr.Config{
		Endpoint:       endpoint,
		AccessKey:      cfg.AccessKey,
		AllowedOrigins: cfg.AllowedOrigins,
		Logger:         log,
	})
	if err != nil {
		_ = ln.Close()
		return err
	}
	fmt.Fprintln(stdout, svc.ConnectionString())
	log.Info("signalr-local listening", "addr", ln.Addr().String(), "endpoint", endpoint,
		"accessKey", mask(cfg.AccessKey), "allowedOrigins", cfg.AllowedOrigins)

	// HTTP server. Client connections lift the read and write deadlines
	// for themselves; the timeouts hold for everything else.
	srv := &http.Server{
		Handler:           svc,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	// Shutdown.
	select {
	case err := <-serveErr:
		_ = svc.Close()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("signalr-local shutting down")
	// Client connections never go idle: end them before Shutdown waits.
	if err := svc.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// mask shows enough of a secret to tell two apart.
func mask(secret string) string {
	if len(secret) <= 4 {
		return "****"
	}
	return secret[:4] + "****"
}

// reachable is addr as a client on this host can dial it: a wildcard
// listen address becomes loopback.
func reachable(addr *net.TCPAddr) string {
	ip := addr.IP
	if ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(addr.Port))
}
