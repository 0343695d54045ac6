package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/enviromon/enviromon/app/signalr"
)

// accessKeyEnv is the variable the SignalR component's secretKeyRef names.
const accessKeyEnv = "SIGNALR_ACCESS_KEY"

// startSignalR runs the local SignalR-compatible service in-process. Unless
// SIGNALR_ACCESS_KEY is set it makes up a key for this run, and returns a
// getenv that hands that key to the component YAML's secretKeyRef.
func (a *app) startSignalR(cfg config, getenv func(string) string) (func(string) string, error) {
	key := getenv(accessKeyEnv)
	if key == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("signalr key: %w", err)
		}
		key = base64.StdEncoding.EncodeToString(b)
		parent := getenv
		getenv = func(name string) string {
			if name == accessKeyEnv {
				return key
			}
			return parent(name)
		}
	}
	ln, err := net.Listen("tcp", cfg.SignalRLocal)
	if err != nil {
		return nil, fmt.Errorf("signalr listen: %w", err)
	}
	_, port, _ := net.SplitHostPort(a.httpAddr)
	origins := append([]string{"http://" + a.httpAddr, "http://localhost:" + port}, cfg.CORSOrigins...)
	svc, err := signalr.New(signalr.Config{Endpoint: "http://" + strings.Replace(ln.Addr().String(), "[::]", "127.0.0.1", 1),
		AccessKey: key, AllowedOrigins: origins, Logger: quiet(a.log, "signalr")})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("signalr: %w", err), ln.Close())
	}
	a.serve("signalr", ln, svc, svc.Close)
	a.log.Info("local SignalR service listening", "addr", ln.Addr().String())
	return getenv, nil
}
