//go:build e2e && faults

package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/internal/testenv"
	"github.com/enviromon/enviromon/app/pipeline"
	"github.com/enviromon/enviromon/app/sim"
)

// TestFaultInterruptedDeliveries puts a gate between daprd and the app that
// breaks deliveries the way a crashing, restarting app does: first it takes
// requests in whole and drops the connections unanswered, then it refuses
// connections for longer than the retry interval, then it lets them
// through. Every message must arrive intact and be counted once. (With
// daprd 1.16's own inbound retries, a retry after two such failures sends
// an empty body: daprd replays only what the previous attempt read. The
// components therefore retry with the broker's message instead.)
func TestFaultInterruptedDeliveries(t *testing.T) {
	g := &gate{mode: forward}
	st := newStack(t, sqliteFile)
	st.appChannel = g.start
	r := st.startReplica(t, "enviromon-0")

	g.set(swallow)
	stats := sendMQTT(t, st.mqttURL, sim.Config{Devices: 5, Rate: 20, Count: 20, Invalid: 0.1, Repeat: 0.1, Seed: 81})
	time.Sleep(time.Second) // every delivery taken in and dropped
	g.set(refuse)           // the first retries find no app
	time.Sleep(7 * time.Second)
	g.set(forward)

	took := settle(t, "GET /api/devices after the gate opened", 60*time.Second, expected(stats), apiDevices(r.base))
	var dead []pipeline.Rejection
	require.NoError(t, getJSON(context.Background(), r.base+"/api/rejected", &dead))
	for _, d := range dead {
		require.False(t, strings.Contains(d.Reason, "payload") || d.DeviceID == "", "a delivery arrived damaged: %+v", d)
	}
	record("fault/channel     %d deliveries read in whole and dropped by a gate (%d connections), then refused for 7 s: all arrived intact and counted once, %s after the gate opened",
		stats.Total.Acked(), g.swallowed, took.Round(time.Millisecond))
}

// gateMode is what the gate does with daprd's connections to the app.
type gateMode int

const (
	forward gateMode = iota // pass them through
	swallow                 // read everything, answer nothing, drop the connection
	refuse                  // listen on nothing: connection refused
)

// gate is a TCP proxy in front of the app's port.
type gate struct {
	mu           sync.Mutex
	mode         gateMode
	addr, target string
	ln           net.Listener
	conns        map[net.Conn]bool
	swallowed    int // connections dropped unanswered
}

// start listens on a free port that forwards to appPort, and returns it.
func (g *gate) start(t testing.TB, appPort string) string {
	g.target = "127.0.0.1:" + appPort
	port := testenv.FreePort(t)
	g.addr = fmt.Sprintf("127.0.0.1:%d", port)
	g.conns = map[net.Conn]bool{}
	require.NoError(t, g.listen())
	t.Cleanup(func() { g.set(refuse) })
	return fmt.Sprint(port)
}

func (g *gate) listen() error {
	ln, err := net.Listen("tcp", g.addr)
	if err != nil {
		return err
	}
	g.ln = ln
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			g.mu.Lock()
			g.conns[c] = true
			mode := g.mode
			if mode == swallow {
				g.swallowed++
			}
			g.mu.Unlock()
			go g.serve(c, mode)
		}
	}()
	return nil
}

func (g *gate) serve(c net.Conn, mode gateMode) {
	defer g.drop(c)
	if mode == swallow {
		_, _ = io.Copy(io.Discard, c)
		return
	}
	up, err := net.Dial("tcp", g.target)
	if err != nil {
		return
	}
	g.mu.Lock()
	g.conns[up] = true
	g.mu.Unlock()
	defer g.drop(up)
	go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
	_, _ = io.Copy(c, up)
}

func (g *gate) drop(c net.Conn) {
	_ = c.Close()
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
}

// set switches the mode, closing every open connection.
func (g *gate) set(mode gateMode) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for c := range g.conns {
		_ = c.Close()
	}
	if mode == refuse && g.ln != nil {
		_ = g.ln.Close()
		g.ln = nil
	}
	if mode != refuse && g.ln == nil {
		for range 50 { // the port was ours a moment ago
			if err := g.listen(); err == nil || !strings.Contains(err.Error(), "in use") {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	g.mode = mode
}

// TestFaultRefusedDeliveries: the app is down (connection refused) when
// the messages arrive, and comes back 3 s later; every message is counted
// once.
func TestFaultRefusedDeliveries(t *testing.T) {
	g := &gate{mode: forward}
	st := newStack(t, sqliteFile)
	st.appChannel = g.start
	r := st.startReplica(t, "enviromon-0")

	g.set(refuse)
	stats := sendMQTT(t, st.mqttURL, sim.Config{Devices: 5, Rate: 20, Count: 20, Invalid: 0.1, Repeat: 0.1, Seed: 82})
	time.Sleep(3 * time.Second)
	g.set(forward)
	took := settle(t, "GET /api/devices after the app came back", 60*time.Second, expected(stats), apiDevices(r.base))
	t.Logf("%d deliveries refused for 3 s: all counted once, %s after the app came back", stats.Total.Acked(), took.Round(time.Millisecond))
}
