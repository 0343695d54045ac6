//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Component names in components/local, passed to the app as flags.
const (
	inputBinding  = "telemetry"
	stateStore    = "statestore"
	outputBinding = "signalr"
	// shareTopic is the start of the binding's shared subscription filter.
	shareTopic = "$share/enviromon/devices/"
)

// appID is every replica's Dapr app id: replicas of one Deployment share it.
const appID = "enviromon"

// replica is one app process beside its own daprd; pod is its daprd's
// POD_NAME, which names its MQTT client ({podName} in the component).
type replica struct {
	pod     string
	pprof   string   // the app's profiling address
	appSpec procSpec // how the app was started, to start it again
	ports   []string // daprd's ports (HTTP, gRPC, metrics, internal gRPC), to start it again
	channel string   // the port daprd delivers to: the app's callback (gRPC), or a gate in front of it
	base    string   // the app's HTTP base URL
	app     *proc
	daprd   *proc
}

// startReplica starts the app in sidecar mode and its daprd, and returns once
// daprd is healthy, the app is ready (its state store answers through daprd)
// and the MQTT binding's subscription has reached the broker: a device that
// publishes after that is delivered. A start that lost one of its ports to
// another process before binding it is tried again on new ports.
func (s *stack) startReplica(t testing.TB, pod string) *replica {
	t.Helper()
	var err error
	for range 3 {
		var r *replica
		if r, err = s.tryReplica(t, pod); err == nil {
			return r
		}
		if !r.lostPort() {
			break
		}
		t.Logf("replica %s: a port was taken before it was bound; trying new ports", pod)
		r.daprd.stop()
		r.app.stop()
	}
	t.Fatalf("replica %s: %v", pod, err)
	return nil
}

func (s *stack) tryReplica(t testing.TB, pod string) (*replica, error) {
	ports := freePorts(t, 7)
	appPort, httpPort, grpcPort, callbackPort := ports[0], ports[1], ports[2], ports[6]
	r := &replica{pod: pod, base: "http://127.0.0.1:" + appPort, pprof: "127.0.0.1:" + ports[5]}

	r.appSpec = procSpec{name: "enviromon " + pod, bin: tools.enviromon, dir: s.dir,
		env: childEnv("DAPR_GRPC_PORT="+grpcPort, "DAPR_HTTP_PORT="+httpPort),
		args: []string{"-mode", "sidecar", "-addr", "127.0.0.1:" + appPort, "-callback-addr", "127.0.0.1:" + callbackPort, "-app-id", appID, "-dashboard", "",
			"-input", inputBinding, "-state", stateStore, "-output", outputBinding, "-components", s.stateDir, "-pprof", r.pprof}}
	r.appSpec.args = append(r.appSpec.args, s.appArgs...)
	r.app = startProc(t, r.appSpec)

	r.ports = ports[1:5]
	r.channel = callbackPort
	if s.appChannel != nil {
		r.channel = s.appChannel(t, callbackPort)
	}
	r.daprd = s.daprd(t, pod, r.channel, "grpc", r.ports)

	steps := []struct {
		p     *proc
		what  string
		limit time.Duration
		ready func(context.Context) error
	}{
		{r.daprd, "healthy sidecar", 90 * time.Second, daprdHealthy(httpPort)},
		{r.app, "ready app", 30 * time.Second, statusIs(r.base+"/readyz", http.StatusOK)},
		{s.broker, "subscription of " + pod, 30 * time.Second, s.broker.logged(pod+"-consumer", shareTopic)},
	}
	for _, st := range steps {
		if err := st.p.waitFor(st.what, st.limit, st.ready); err != nil {
			return r, fmt.Errorf("%w (daprd: %s, app: %s)", err, r.daprd.state(), r.app.state())
		}
	}
	return r, nil
}

// daprd starts a sidecar for the app on appPort, speaking protocol (grpc:
// the app's callback service; h2c: an HTTP route), with this stack's
// components, on ports (HTTP, gRPC, metrics, internal gRPC).
func (s *stack) daprd(t testing.TB, pod, appPort, protocol string, ports []string) *proc {
	t.Helper()
	httpPort, grpcPort, metricsPort, internalPort := ports[0], ports[1], ports[2], ports[3]
	args := []string{
		"--app-id", appID,
		"--app-port", appPort,
		"--app-protocol", protocol,
		"--app-channel-address", "127.0.0.1",
		"--config", tools.config,
		"--dapr-http-port", httpPort,
		"--dapr-grpc-port", grpcPort,
		"--dapr-internal-grpc-port", internalPort,
		"--metrics-port", metricsPort,
		"--dapr-listen-addresses", "127.0.0.1",
		"--dapr-internal-grpc-listen-address", "127.0.0.1",
		"--metrics-listen-address", "127.0.0.1",
		// No placement or scheduler flags: without them daprd v1.16 logs
		// "Actor runtime disabled" and "Scheduler disabled" once and dials
		// neither service.
		"--log-level", "info",
	}
	for _, dir := range s.resources {
		args = append(args, "--resources-path", dir)
	}
	return startProc(t, procSpec{name: "daprd " + pod, bin: tools.daprd, args: args, dir: s.dir,
		env: childEnv(append([]string{"POD_NAME=" + pod}, s.env...)...)})
}

// daprdHealthy succeeds once the daprd on httpPort reports healthy.
func daprdHealthy(httpPort string) func(context.Context) error {
	return statusIs(fmt.Sprintf("http://127.0.0.1:%s/v1.0/healthz", httpPort), http.StatusNoContent, http.StatusOK)
}

// lostPort reports whether the app or daprd exited because a port it was
// given had been taken in the meantime.
func (r *replica) lostPort() bool {
	for _, p := range []*proc{r.app, r.daprd} {
		if p.exited() && strings.Contains(p.out.String(), "address already in use") {
			return true
		}
	}
	return false
}

// freePorts returns n distinct ports of 127.0.0.1 that were free a moment
// ago. The listeners are held until all are chosen: closing each at once
// lets the kernel hand the same port out again.
func freePorts(t testing.TB, n int) []string {
	t.Helper()
	ports := make([]string, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		defer l.Close()
		ports[i] = strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// statusIs succeeds once url answers one of want.
func statusIs(url string, want ...int) func(context.Context) error {
	return func(ctx context.Context) error {
		code, err := httpStatus(ctx, url)
		if err != nil {
			return err
		}
		for _, w := range want {
			if code == w {
				return nil
			}
		}
		return fmt.Errorf("%s answered %d", url, code)
	}
}

// restart starts a killed replica again on its ports, under its pod name,
// and returns once it is ready and subscribed, as startReplica does.
func (s *stack) restart(t testing.TB, r *replica) {
	t.Helper()
	r.app = startProc(t, r.appSpec)
	r.daprd = s.daprd(t, r.pod, r.channel, "grpc", r.ports)
	require.NoError(t, r.daprd.waitFor("healthy sidecar", 90*time.Second, daprdHealthy(r.ports[0])))
	require.NoError(t, r.app.waitFor("ready app", 30*time.Second, statusIs(r.base+"/readyz", http.StatusOK)))
}
