package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
)

// startPprof serves Go's profiling endpoints (/debug/pprof/) on addr, a
// loopback address: `make bench` takes the CPU profiles of its runs there.
func (a *app) startPprof(addr string) error {
	if err := loopbackOnly(addr); err != nil {
		return fmt.Errorf("pprof: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("pprof listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	a.serve("pprof", ln, mux, nil)
	a.log.Info("profiling endpoints listening", "addr", ln.Addr().String())
	return nil
}

// loopbackOnly refuses an address whose host is not a loopback IP or
// localhost: profiles expose the process's internals.
func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("address %q is not loopback", addr)
	}
	return nil
}
