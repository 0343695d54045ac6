package deploy

import (
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dapr/dapr/pkg/injector/consts"
	"github.com/dapr/dapr/pkg/injector/patcher"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// What the contract fixes for the app and its sidecar.
const (
	appName          = "enviromon" // Deployment, container, ServiceAccount, Service, Dapr app id
	appNamespace     = "enviromon"
	httpPort         = 8080 // the app's -addr: API, dashboard, probes, /metrics; the Service's target
	sidecarMetrics   = 9090
	gracefulShutdown = 20 // dapr.io/graceful-shutdown-seconds: the app drains for up to 10 s
)

// daprdChannelAddress is where daprd dials the app when
// dapr.io/app-channel-address is unset (dapr@v1.16.0
// pkg/runtime/config.go:73, DefaultChannelAddress).
const daprdChannelAddress = "127.0.0.1"

// injectSidecar runs Dapr 1.16.0's own injector code over the pod template
// of dep, as the dapr-sidecar-injector webhook would on AKS, and returns
// the patched pod.
func injectSidecar(dep *appsv1.Deployment) (*corev1.Pod, error) {
	pod := &corev1.Pod{ObjectMeta: *dep.Spec.Template.ObjectMeta.DeepCopy(), Spec: *dep.Spec.Template.Spec.DeepCopy()}
	pod.Name, pod.Namespace = dep.Name+"-0", appNamespace

	// The webhook's own settings (pkg/injector/service/pod_patch.go), with
	// the values of a default Dapr install in dapr-system.
	s := patcher.NewSidecarConfig(pod)
	s.Mode = consts.ModeKubernetes
	s.Namespace = appNamespace
	s.MTLSEnabled = true
	s.Identity = appNamespace + ":" + pod.Spec.ServiceAccountName
	s.SidecarImage = "ghcr.io/dapr/daprd:1.16.0"
	s.ControlPlaneNamespace = "dapr-system"
	s.ControlPlaneTrustDomain = "cluster.local"
	s.CurrentTrustAnchors = []byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
	s.SentryAddress = patcher.ServiceSentry.Address("dapr-system", "cluster.local")
	s.OperatorAddress = patcher.ServiceAPI.Address("dapr-system", "cluster.local")
	s.PlacementAddress = patcher.ServicePlacement.Address("dapr-system", "cluster.local")
	s.DisableTokenVolume = true
	s.SetFromPodAnnotations()

	patch, err := s.GetPatch()
	if err != nil {
		return nil, fmt.Errorf("injector: %w", err)
	}
	if patch == nil {
		return nil, fmt.Errorf("injector: nothing to inject (dapr.io/enabled is %q)", pod.Annotations["dapr.io/enabled"])
	}
	doc, err := json.Marshal(pod)
	if err != nil {
		return nil, err
	}
	if doc, err = patch.Apply(doc); err != nil {
		return nil, fmt.Errorf("apply the injector's patch: %w", err)
	}
	var patched corev1.Pod
	return &patched, json.Unmarshal(doc, &patched)
}

// daprdFlags reads daprd's command line ("/daprd --app-id x --enable-metrics
// ...") into flag → value; a flag without a value is "true".
func daprdFlags(args []string) map[string]string {
	flags := map[string]string{}
	for i := 0; i < len(args); i++ {
		name, ok := strings.CutPrefix(args[i], "--")
		if !ok {
			continue
		}
		if n, v, ok := strings.Cut(name, "="); ok {
			flags[n] = v
		} else if i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
			flags[name] = args[i+1]
			i++
		} else {
			flags[name] = "true"
		}
	}
	return flags
}

func container(pod *corev1.Pod, name string) *corev1.Container {
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	return nil
}

// portNumber resolves a probe's or Service's port against a container's
// named ports.
func portNumber(c *corev1.Container, p intstr.IntOrString) int32 {
	if p.Type == intstr.Int {
		return p.IntVal
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort
		}
	}
	return 0
}

// checkSidecar returns what is wrong with the daprd container the injector
// adds to dep's pods, and with the app container it talks to.
func checkSidecar(dep *appsv1.Deployment) []string {
	pod, err := injectSidecar(dep)
	if err != nil {
		return []string{err.Error()}
	}
	daprd, app := container(pod, consts.SidecarContainerName), container(pod, appName)
	if daprd == nil || app == nil {
		return []string{fmt.Sprintf("after injection: want containers %q and %q", consts.SidecarContainerName, appName)}
	}
	var bad []string
	fail := func(format string, a ...any) { bad = append(bad, fmt.Sprintf(format, a...)) }
	flags := daprdFlags(daprd.Args)
	for flag, want := range map[string]string{
		"app-id":                  appName,
		"app-protocol":            "grpc", // see checkAppChannel
		"config":                  appName,
		"enable-app-health-check": "true",
		"enable-metrics":          "true",
		"metrics-port":            strconv.Itoa(sidecarMetrics),
		"log-as-json":             "true",
		"mode":                    "kubernetes",
	} {
		if flags[flag] != want {
			fail("daprd --%s: got %q, want %q (annotations of the pod template)", flag, flags[flag], want)
		}
	}

	// daprd's graceful shutdown must end before the kubelet's SIGKILL.
	grace, err := strconv.Atoi(flags["dapr-graceful-shutdown-seconds"])
	switch {
	case err != nil:
		fail("daprd --dapr-graceful-shutdown-seconds %q: %v", flags["dapr-graceful-shutdown-seconds"], err)
	case grace != gracefulShutdown:
		fail("daprd --dapr-graceful-shutdown-seconds: got %d, want %d (dapr.io/graceful-shutdown-seconds)", grace, gracefulShutdown)
	}
	// With dapr.io/block-shutdown-duration, daprd first waits up to that
	// long (or until the app turns unhealthy) and only then starts its
	// graceful shutdown (dapr@v1.16.0 pkg/runtime/runtime.go:441-466, the
	// grace period at :360): the two add up.
	var block time.Duration
	if v, ok := flags["dapr-block-shutdown-duration"]; ok {
		if block, err = time.ParseDuration(v); err != nil {
			fail("daprd --dapr-block-shutdown-duration %q: %v", v, err)
		}
	}
	termination := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if s := pod.Spec.TerminationGracePeriodSeconds; s != nil {
		termination = *s
	}
	if total := block + time.Duration(grace)*time.Second; total >= time.Duration(termination)*time.Second {
		fail("daprd may take %s to stop (block-shutdown-duration %s + graceful-shutdown-seconds %d) but the pod is killed after terminationGracePeriodSeconds %d s",
			total, block, grace, termination)
	}

	metricsPort := false
	for _, p := range daprd.Ports {
		metricsPort = metricsPort || (p.Name == consts.SidecarMetricsPortName && p.ContainerPort == sidecarMetrics)
	}
	if !metricsPort {
		fail("daprd has no port %s %d: %v", consts.SidecarMetricsPortName, sidecarMetrics, daprd.Ports)
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if daprd.Resources.Requests.Name(r, "").IsZero() || daprd.Resources.Limits.Name(r, "").IsZero() {
			fail("daprd has no %s request or limit (dapr.io/sidecar-%s-request and -limit)", r, r)
		}
	}

	// In sidecar mode the app finds daprd through DAPR_GRPC_PORT.
	grpc := ""
	for _, e := range app.Env {
		if e.Name == consts.UserContainerDaprGRPCPortName {
			grpc = e.Value
		}
	}
	if grpc != flags["dapr-grpc-port"] {
		fail("app container: %s=%q, daprd --dapr-grpc-port %q", consts.UserContainerDaprGRPCPortName, grpc, flags["dapr-grpc-port"])
	}
	return append(bad, checkAppChannel(pod, app, flags)...)
}

// checkAppChannel: daprd calls the app over gRPC, on the port of the app's
// -callback-addr, inside the pod. daprd 1.16's HTTP app channel (http and
// h2c) can run one call's handler for another and acknowledge a delivery
// the app failed (README, Faults). The kubelet's probes go to the HTTP
// server on -addr, which daprd no longer calls.
func checkAppChannel(pod *corev1.Pod, app *corev1.Container, flags map[string]string) []string {
	args, err := appArgs(app)
	if err != nil {
		return []string{err.Error()}
	}
	a := appDeployment{app: app, args: args}
	var bad []string
	fail := func(format string, a ...any) { bad = append(bad, fmt.Sprintf(format, a...)) }

	callback := a.setting("callback-addr")
	if callback == "" {
		return append(bad, fmt.Sprintf("app container: no -callback-addr: daprd --app-port %q needs the app's gRPC app channel there, said explicitly", flags["app-port"]))
	}
	host, port, err := net.SplitHostPort(callback)
	if err != nil {
		return append(bad, fmt.Sprintf("app container: -callback-addr %q: %v", callback, err))
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		fail("app container: -callback-addr %q is not a loopback address: daprd dials it inside the pod, and nothing else may deliver readings", callback)
	}
	channel := flags["app-channel-address"]
	if channel == "" {
		channel = daprdChannelAddress
	}
	if channel != host {
		fail("daprd dials the app at %s (--app-channel-address, %s when unset), but the app's -callback-addr %q listens on %s", channel, daprdChannelAddress, callback, host)
	}
	if flags["app-port"] != port {
		fail("daprd --app-port %q (dapr.io/app-port), but the app's -callback-addr %q listens on port %s", flags["app-port"], callback, port)
	}
	// The injector passes /healthz whenever app health checks are on; with
	// app-protocol grpc daprd calls the gRPC HealthCheck instead, so an
	// annotation would only say something that does not happen.
	if path, ok := pod.Annotations["dapr.io/app-health-check-path"]; ok {
		fail("dapr.io/app-health-check-path %q: with app-protocol grpc daprd calls the app's gRPC HealthCheck and ignores the path; remove it", path)
	}

	_, httpAddrPort, err := net.SplitHostPort(a.setting("addr"))
	if err != nil {
		return append(bad, fmt.Sprintf("app container: -addr %q: %v", a.setting("addr"), err))
	}
	if httpAddrPort == port {
		fail("app container: -addr %q and -callback-addr %q share port %s", a.setting("addr"), callback, port)
	}
	named := false
	for _, p := range app.Ports {
		named = named || (p.Name == "http" && strconv.Itoa(int(p.ContainerPort)) == httpAddrPort)
	}
	if !named {
		fail("app container: want port http %s (-addr %q), got %v", httpAddrPort, a.setting("addr"), app.Ports)
	}
	for _, probe := range []struct {
		name string
		p    *corev1.Probe
		path string
	}{{"readinessProbe", app.ReadinessProbe, "/readyz"}, {"livenessProbe", app.LivenessProbe, "/healthz"}} {
		if probe.p == nil || probe.p.HTTPGet == nil {
			fail("app container: %s: want an HTTP GET of %s", probe.name, probe.path)
			continue
		}
		if probe.p.HTTPGet.Path != probe.path {
			fail("app container: %s path %q, want %q", probe.name, probe.p.HTTPGet.Path, probe.path)
		}
		if got := portNumber(app, probe.p.HTTPGet.Port); strconv.Itoa(int(got)) != httpAddrPort {
			fail("app container: %s port %s is %d, the app serves HTTP on -addr %q", probe.name, probe.p.HTTPGet.Port.String(), got, a.setting("addr"))
		}
	}
	return bad
}

// TestSidecarInjected: what AKS runs beside the app is the daprd container
// the injector builds from the annotations; a mistyped annotation (an
// app-port of "8081 " or a "dapr.io/log-as-jsn") is silently ignored there.
func TestSidecarInjected(t *testing.T) {
	root := repoRoot(t)
	for _, dir := range overlays {
		t.Run(dir, func(t *testing.T) {
			dep := named[appsv1.Deployment](t, renderedObjects(t, root, dir), appName)
			assert.Empty(t, checkSidecar(dep), "%s: Deployment %s", dir, appName)
		})
	}
}

func TestSidecarInjectedRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*appsv1.Deployment)
		want   string
	}{
		{"app port on the HTTP server", func(d *appsv1.Deployment) { d.Spec.Template.Annotations["dapr.io/app-port"] = "8080" },
			`daprd --app-port "8080" (dapr.io/app-port), but the app's -callback-addr "127.0.0.1:8081" listens on port 8081`},
		{"callback moved, app port not", func(d *appsv1.Deployment) { *argValue(d, "-callback-addr") = "127.0.0.1:9000" },
			`daprd --app-port "8081" (dapr.io/app-port), but the app's -callback-addr "127.0.0.1:9000" listens on port 9000`},
		{"no callback address", func(d *appsv1.Deployment) { dropArg(d, "-callback-addr") }, "no -callback-addr"},
		{"HTTP app channel", func(d *appsv1.Deployment) { d.Spec.Template.Annotations["dapr.io/app-protocol"] = "h2c" },
			`daprd --app-protocol: got "h2c", want "grpc"`},
		{"callback on every interface", func(d *appsv1.Deployment) { *argValue(d, "-callback-addr") = "0.0.0.0:8081" },
			`-callback-addr "0.0.0.0:8081" is not a loopback address`},
		{"callback where daprd does not dial", func(d *appsv1.Deployment) { *argValue(d, "-callback-addr") = "[::1]:8081" },
			"daprd dials the app at 127.0.0.1 (--app-channel-address"},
		{"health check path", func(d *appsv1.Deployment) { d.Spec.Template.Annotations["dapr.io/app-health-check-path"] = "/healthz" },
			"dapr.io/app-health-check-path"},
		{"probe on the callback port", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].ReadinessProbe.HTTPGet.Port = intstr.FromInt32(8081)
		}, `readinessProbe port 8081 is 8081, the app serves HTTP on -addr "0.0.0.0:8080"`},
		{"misspelt annotation", func(d *appsv1.Deployment) {
			a := d.Spec.Template.Annotations
			a["dapr.io/log-as-jsn"] = a["dapr.io/log-as-json"]
			delete(a, "dapr.io/log-as-json")
		}, "--log-as-json"},
		{"shutdown past the kill", func(d *appsv1.Deployment) { d.Spec.Template.Annotations["dapr.io/graceful-shutdown-seconds"] = "40" }, "terminationGracePeriodSeconds"},
		{"blocked shutdown past the kill", func(d *appsv1.Deployment) {
			d.Spec.Template.Annotations["dapr.io/block-shutdown-duration"] = "10s"
		}, "block-shutdown-duration 10s + graceful-shutdown-seconds 20"},
		{"probe on another port", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].LivenessProbe.HTTPGet.Port = intstr.FromInt32(9000)
		}, "livenessProbe port 9000"},
		{"not enabled", func(d *appsv1.Deployment) { d.Spec.Template.Annotations["dapr.io/enabled"] = "false" }, "nothing to inject"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dep := sampleDeployment(t)
			require.Empty(t, checkSidecar(dep), "the sample is sound")
			tc.mutate(dep)
			assert.Contains(t, strings.Join(checkSidecar(dep), "\n"), tc.want)
		})
	}
}

// argValue returns the value after flag among the app container's
// arguments, to change in place (a throwaway if flag is not there).
func argValue(d *appsv1.Deployment, flag string) *string {
	args := d.Spec.Template.Spec.Containers[0].Args
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag {
			return &args[i+1]
		}
	}
	return new(string)
}

// dropArg removes flag and its value from the app container's arguments.
func dropArg(d *appsv1.Deployment, flag string) {
	c := &d.Spec.Template.Spec.Containers[0]
	if i := slices.Index(c.Args, flag); i >= 0 && i+1 < len(c.Args) {
		c.Args = slices.Delete(c.Args, i, i+2)
	}
}

// sampleDeployment is a Deployment as the contract describes it, for the
// tests that show a check can fail.
func sampleDeployment(t *testing.T) *appsv1.Deployment {
	t.Helper()
	var d appsv1.Deployment
	require.NoError(t, unmarshalStrict([]byte(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: enviromon, namespace: enviromon}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: enviromon}}
  template:
    metadata:
      labels: {app.kubernetes.io/name: enviromon}
      annotations:
        dapr.io/enabled: "true"
        dapr.io/app-id: enviromon
        dapr.io/app-port: "8081"
        dapr.io/app-protocol: grpc
        dapr.io/config: enviromon
        dapr.io/enable-app-health-check: "true"
        dapr.io/graceful-shutdown-seconds: "20"
        dapr.io/log-as-json: "true"
        dapr.io/enable-metrics: "true"
        dapr.io/metrics-port: "9090"
        dapr.io/sidecar-cpu-request: 100m
        dapr.io/sidecar-cpu-limit: 500m
        dapr.io/sidecar-memory-request: 128Mi
        dapr.io/sidecar-memory-limit: 256Mi
    spec:
      serviceAccountName: enviromon
      terminationGracePeriodSeconds: 30
      containers:
        - name: enviromon
          image: enviromon
          command: [/enviromon]
          args: [-mode, sidecar, -addr, "0.0.0.0:8080", -callback-addr, "127.0.0.1:8081", -app-id, enviromon, -input, telemetry, -state, statestore,
                 -output, signalr, -signalr-local, "", -broker, "", -dashboard, /dashboard, -data, /tmp/enviromon]
          ports: [{name: http, containerPort: 8080}]
          readinessProbe: {httpGet: {path: /readyz, port: http}}
          livenessProbe: {httpGet: {path: /healthz, port: http}}
`), &d))
	return &d
}
