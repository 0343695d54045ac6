// Package mqtttest runs a real MQTT broker in-process for tests.
package mqtttest

import (
	"crypto/tls"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// Broker starts a broker that lets every client in, on a free port of
// 127.0.0.1, and closes it when the test ends. It returns the broker and
// its URL, e.g. "tcp://127.0.0.1:41234".
func Broker(t testing.TB) (*mochi.Server, string) {
	t.Helper()
	srv, addr := serve(t, nil, new(auth.AllowHook))
	return srv, "tcp://" + addr
}

// serve starts a broker on a free port of 127.0.0.1, speaking TLS when cfg
// is set, with hook deciding who may connect and publish. It returns the
// broker and its address.
func serve(t testing.TB, cfg *tls.Config, hook mochi.Hook) (*mochi.Server, string) {
	t.Helper()
	srv := mochi.New(&mochi.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := srv.AddHook(hook, nil); err != nil {
		t.Fatalf("broker: %v", err)
	}
	l := listeners.NewTCP(listeners.Config{ID: "test", Address: "127.0.0.1:0", TLSConfig: cfg})
	if err := srv.AddListener(l); err != nil {
		t.Fatalf("broker: %v", err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatalf("broker: %v", err)
	}
	t.Cleanup(func() { shutdown(srv) })
	return srv, l.Address()
}

// shutdown closes srv once its clients have gone. mochi v2.7.9 can deadlock
// when Close meets a client still disconnecting (Clients.GetByListener
// read-locks twice while Clients.Delete waits to write; upstream issue 488),
// so the clients, disconnected by the test's own cleanups, are given up to
// five seconds to finish first.
func shutdown(srv *mochi.Server) {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) &&
		(srv.Clients.Len() > 0 || atomic.LoadInt64(&srv.Info.ClientsConnected) > 0) {
		time.Sleep(10 * time.Millisecond)
	}
	_ = srv.Close()
}
