package deploy

import (
	"fmt"
	"net"
	"sigs.k8s.io/yaml"
	"strconv"
	"strings"
	"testing"

	componentsapi "github.com/dapr/dapr/pkg/apis/components/v1alpha1"
	configurationapi "github.com/dapr/dapr/pkg/apis/configuration/v1alpha1"
	resiliencyapi "github.com/dapr/dapr/pkg/apis/resiliency/v1alpha1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// appDeployment is the app's Deployment of an overlay, with what the cross
// checks read from it.
type appDeployment struct {
	dep  *appsv1.Deployment
	app  *corev1.Container
	args map[string]string // the app's flags: "-input telemetry" → input: telemetry
}

func (a appDeployment) appID() string { return a.dep.Spec.Template.Annotations["dapr.io/app-id"] }

func (a appDeployment) podLabels() labels.Set { return a.dep.Spec.Template.Labels }

// findApp returns the Deployment named appName and its container appName.
func findApp(objs []object) (appDeployment, error) {
	var a appDeployment
	for _, d := range objectsOf[appsv1.Deployment](objs) {
		if d.Name == appName {
			a.dep = d
		}
	}
	if a.dep == nil {
		return a, fmt.Errorf("no Deployment %q", appName)
	}
	for i := range a.dep.Spec.Template.Spec.Containers {
		if c := &a.dep.Spec.Template.Spec.Containers[i]; c.Name == appName {
			a.app = c
		}
	}
	if a.app == nil {
		return a, fmt.Errorf("Deployment %q has no container %q", appName, appName)
	}
	var err error
	a.args, err = appArgs(a.app)
	return a, err
}

// appArgs reads the app container's flags: "-input telemetry" → input:
// telemetry.
func appArgs(c *corev1.Container) (map[string]string, error) {
	args := map[string]string{}
	for i := 0; i < len(c.Args); i++ {
		name, ok := strings.CutPrefix(c.Args[i], "-")
		if !ok {
			return nil, fmt.Errorf("container %q: argument %q is not a flag (the app takes none)", c.Name, c.Args[i])
		}
		name = strings.TrimPrefix(name, "-")
		if n, v, ok := strings.Cut(name, "="); ok {
			args[n] = v
		} else if i+1 < len(c.Args) {
			args[name] = c.Args[i+1]
			i++
		} else {
			return nil, fmt.Errorf("container %q: flag %q has no value", c.Name, c.Args[i])
		}
	}
	return args, nil
}

// componentRefs are the app's flags that name Dapr components, with the
// component kind each must be.
var componentRefs = []struct{ flag, kind string }{
	{"input", "bindings"}, {"state", "state"}, {"output", "bindings"},
}

// checkComponentRefs: the components the app's flags name exist in objs, of
// the right kind.
func checkComponentRefs(a appDeployment, objs []object, where string) []string {
	comps := map[string]*componentsapi.Component{}
	for _, c := range objectsOf[componentsapi.Component](objs) {
		comps[c.Name] = c
	}
	var bad []string
	for _, ref := range componentRefs {
		name := a.args[ref.flag]
		c, ok := comps[name]
		switch {
		case name == "":
			bad = append(bad, fmt.Sprintf("Deployment %s: -%s names no component", appName, ref.flag))
		case !ok:
			bad = append(bad, fmt.Sprintf("Deployment %s: -%s %s: %s has no Component %q", appName, ref.flag, name, where, name))
		case !strings.HasPrefix(c.Spec.Type, ref.kind+"."):
			bad = append(bad, fmt.Sprintf("Deployment %s: -%s %s: %s's Component is a %s, want %s.*", appName, ref.flag, name, where, c.Spec.Type, ref.kind))
		}
	}
	return bad
}

// checkScopes: every Component and Resiliency is scoped to the app, so that
// another sidecar in the namespace (a simulator's, a debugging pod's) never
// loads the input binding and takes a share of the telemetry.
func checkScopes(a appDeployment, objs []object) []string {
	var bad []string
	for _, o := range objs {
		var scopes []string
		switch v := o.value.(type) {
		case *componentsapi.Component:
			scopes = v.Scopes
		case *resiliencyapi.Resiliency:
			scopes = v.Scopes
		default:
			continue
		}
		if !containsString(scopes, a.appID()) {
			bad = append(bad, fmt.Sprintf("%s: scopes %v lack the app id %q", o.manifest, scopes, a.appID()))
		}
	}
	return bad
}

// checkResiliency: every Resiliency target is a Component of objs, and
// every policy a target names is defined.
func checkResiliency(objs []object) []string {
	comps := map[string]bool{}
	for _, c := range objectsOf[componentsapi.Component](objs) {
		comps[c.Name] = true
	}
	var bad []string
	for _, r := range objectsOf[resiliencyapi.Resiliency](objs) {
		p := r.Spec.Policies
		for name, target := range r.Spec.Targets.Components {
			if !comps[name] {
				bad = append(bad, fmt.Sprintf("Resiliency %s: targets.components.%s: no such Component", r.Name, name))
			}
			for dir, names := range map[string]resiliencyapi.PolicyNames{"inbound": target.Inbound, "outbound": target.Outbound} {
				_, okT := p.Timeouts[names.Timeout]
				_, okR := p.Retries[names.Retry]
				_, okC := p.CircuitBreakers[names.CircuitBreaker]
				for _, miss := range []struct {
					kind, name string
					ok         bool
				}{{"timeout", names.Timeout, okT}, {"retry", names.Retry, okR}, {"circuitBreaker", names.CircuitBreaker, okC}} {
					if miss.name != "" && !miss.ok {
						bad = append(bad, fmt.Sprintf("Resiliency %s: targets.components.%s.%s.%s %q is not a policy", r.Name, name, dir, miss.kind, miss.name))
					}
				}
			}
		}
	}
	return bad
}

// checkConfiguration: the Configuration dapr.io/config names is there (the
// injector does not check; daprd then fails at start).
func checkConfiguration(a appDeployment, objs []object) []string {
	name := a.dep.Spec.Template.Annotations["dapr.io/config"]
	for _, c := range objectsOf[configurationapi.Configuration](objs) {
		if c.Name == name {
			return nil
		}
	}
	return []string{fmt.Sprintf("Deployment %s: dapr.io/config %q: no such Configuration", appName, name)}
}

// checkService: the Service selects the app's pods (and no others) and
// targets the app's HTTP server (-addr), never daprd's gRPC app channel
// (-callback-addr, which checkSidecar holds to loopback).
func checkService(a appDeployment, objs []object) []string {
	var bad []string
	fail := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }
	_, port, err := net.SplitHostPort(a.args["addr"])
	if err != nil {
		fail("Deployment %s: -addr %q: %v", appName, a.args["addr"], err)
	}
	if port != strconv.Itoa(httpPort) {
		fail("Deployment %s: the app serves HTTP on -addr %q, want port %d (the Service's, the probes' and the NetworkPolicy's)",
			appName, a.args["addr"], httpPort)
	}
	var svc *corev1.Service
	for _, s := range objectsOf[corev1.Service](objs) {
		if s.Name == appName {
			svc = s
		}
	}
	if svc == nil {
		return append(bad, fmt.Sprintf("no Service %q", appName))
	}
	bad = append(bad, selects(objs, "Service "+appName, labels.SelectorFromSet(svc.Spec.Selector), len(svc.Spec.Selector) == 0)...)
	for _, p := range svc.Spec.Ports {
		if got := portNumber(a.app, p.TargetPort); got != httpPort {
			fail("Service %s: port %s targets %s = %d, the app serves HTTP on %d (-addr)", appName, p.Name, p.TargetPort.String(), got, httpPort)
		}
	}
	return bad
}

// selects reports whether sel picks the app's pods and only those: a PDB
// or NetworkPolicy over mosquitto's pods too would be wrong.
func selects(objs []object, who string, sel labels.Selector, empty bool) []string {
	if empty {
		return []string{who + ": empty selector (every pod of the namespace)"}
	}
	var bad []string
	for _, d := range objectsOf[appsv1.Deployment](objs) {
		match := sel.Matches(labels.Set(d.Spec.Template.Labels))
		switch {
		case d.Name == appName && !match:
			bad = append(bad, fmt.Sprintf("%s: selector %s does not select the pods of Deployment %s (labels %v)", who, sel, d.Name, d.Spec.Template.Labels))
		case d.Name != appName && match:
			bad = append(bad, fmt.Sprintf("%s: selector %s also selects the pods of Deployment %s", who, sel, d.Name))
		}
	}
	return bad
}

// checkNamespace: everything lands in the app's namespace, which the
// overlay creates.
func checkNamespace(objs []object) []string {
	var bad []string
	hasNamespace := false
	for _, o := range objs {
		m, err := meta.Accessor(o.value)
		if err != nil {
			continue
		}
		if _, ok := o.value.(*corev1.Namespace); ok {
			hasNamespace = hasNamespace || m.GetName() == appNamespace
			continue
		}
		if m.GetNamespace() != appNamespace {
			bad = append(bad, fmt.Sprintf("%s: namespace %q, want %q", o.manifest, m.GetNamespace(), appNamespace))
		}
	}
	if !hasNamespace {
		bad = append(bad, fmt.Sprintf("no Namespace %q", appNamespace))
	}
	return bad
}

// checkStateManifest: the folder the app's -components names is a mounted
// ConfigMap of the rendered output, holding the manifest of the Component
// -state names (the app reads it for its key-layout check at start-up; a
// missing ConfigMap would keep the pod from starting at all).
func checkStateManifest(a appDeployment, objs []object) []string {
	dir := a.args["components"]
	if dir == "" {
		return []string{"the app has no -components: its state key layout goes unchecked"}
	}
	var mount *corev1.VolumeMount
	for i := range a.app.VolumeMounts {
		if m := &a.app.VolumeMounts[i]; m.MountPath == dir {
			mount = m
		}
	}
	if mount == nil {
		return []string{fmt.Sprintf("-components %s: no volume is mounted there", dir)}
	}
	var cmName string
	for _, v := range a.dep.Spec.Template.Spec.Volumes {
		if v.Name == mount.Name && v.ConfigMap != nil {
			cmName = v.ConfigMap.Name
		}
	}
	if cmName == "" {
		return []string{fmt.Sprintf("volume %s at %s is not a ConfigMap", mount.Name, dir)}
	}
	for _, cm := range objectsOf[corev1.ConfigMap](objs) {
		if cm.Name != cmName {
			continue
		}
		for _, text := range cm.Data {
			var c componentsapi.Component
			if err := yaml.Unmarshal([]byte(text), &c); err == nil && c.TypeMeta.Kind == "Component" && c.ObjectMeta.Name == a.args["state"] {
				return nil
			}
		}
		return []string{fmt.Sprintf("ConfigMap %s holds no manifest of Component %q", cmName, a.args["state"])}
	}
	return []string{fmt.Sprintf("volume %s names ConfigMap %s, which the overlay does not create", mount.Name, cmName)}
}

// TestCrossChecks: the names and ports the Deployment, the Service, the
// Dapr resources and the app's flags use agree, in each overlay.
func TestCrossChecks(t *testing.T) {
	root := repoRoot(t)
	for _, dir := range overlays {
		t.Run(dir, func(t *testing.T) {
			objs := renderedObjects(t, root, dir)
			a, err := findApp(objs)
			require.NoError(t, err, dir)
			assert.Equal(t, appName, a.appID(), "%s: dapr.io/app-id", dir)
			assert.Equal(t, a.appID(), a.args["app-id"], "%s: the app's -app-id and dapr.io/app-id", dir)
			assert.Empty(t, checkComponentRefs(a, objs, dir), dir)
			assert.Empty(t, checkScopes(a, objs), dir)
			assert.Empty(t, checkResiliency(objs), dir)
			assert.Empty(t, checkConfiguration(a, objs), dir)
			assert.Empty(t, checkService(a, objs), dir)
			assert.Empty(t, checkNamespace(objs), dir)
			assert.Empty(t, checkStateManifest(a, objs), dir)
		})
	}
}

// TestAKSComponentsFromAzure: the components the app names on AKS are the
// ones of components/azure (not, say, leftovers of another overlay).
func TestAKSComponentsFromAzure(t *testing.T) {
	root := repoRoot(t)
	objs := renderedObjects(t, root, "deploy/overlays/aks")
	a, err := findApp(objs)
	require.NoError(t, err)
	azure := decode(readManifests(t, root, "components/azure"))
	assert.Empty(t, checkComponentRefs(a, azure, "components/azure"))
	assert.Empty(t, checkScopes(a, azure))
	assert.Empty(t, checkResiliency(azure))
}

func TestCrossChecksRefuse(t *testing.T) {
	root := repoRoot(t)
	requireOverlay(t, root, "deploy/overlays/aks")
	for _, tc := range []struct {
		name   string
		mutate func(a appDeployment, objs []object)
		check  func(a appDeployment, objs []object) []string
		want   string
	}{
		{"flag names a missing component",
			func(a appDeployment, _ []object) { a.args["state"] = "state-store" },
			func(a appDeployment, objs []object) []string { return checkComponentRefs(a, objs, "aks") },
			`-state state-store: aks has no Component "state-store"`},
		{"flag names a component of another kind",
			func(a appDeployment, _ []object) { a.args["input"] = "statestore" },
			func(a appDeployment, objs []object) []string { return checkComponentRefs(a, objs, "aks") },
			"is a state.azure.tablestorage, want bindings.*"},
		{"component not scoped",
			func(_ appDeployment, objs []object) { objectsOf[componentsapi.Component](objs)[0].Scopes = nil },
			checkScopes, "lack the app id"},
		{"resiliency targets a missing component",
			func(_ appDeployment, objs []object) {
				r := objectsOf[resiliencyapi.Resiliency](objs)[0]
				r.Spec.Targets.Components["telemetri"] = r.Spec.Targets.Components["telemetry"]
			},
			func(_ appDeployment, objs []object) []string { return checkResiliency(objs) },
			"targets.components.telemetri: no such Component"},
		{"configuration missing",
			func(a appDeployment, _ []object) { a.dep.Spec.Template.Annotations["dapr.io/config"] = "appconfig" },
			checkConfiguration, `dapr.io/config "appconfig"`},
		{"service selects nothing",
			func(_ appDeployment, objs []object) {
				objectsOf[corev1.Service](objs)[0].Spec.Selector = map[string]string{"app": "enviromon"}
			},
			checkService, "does not select the pods"},
		{"app serves HTTP elsewhere",
			func(a appDeployment, _ []object) { a.args["addr"] = "0.0.0.0:8081" },
			checkService, `the app serves HTTP on -addr "0.0.0.0:8081"`},
		{"service targets the gRPC app channel",
			func(_ appDeployment, objs []object) {
				objectsOf[corev1.Service](objs)[0].Spec.Ports[0].TargetPort = intstr.FromInt32(8081)
			},
			checkService, "targets 8081 = 8081, the app serves HTTP on 8080"},
		{"state manifest not mounted",
			func(a appDeployment, _ []object) { a.args["components"] = "/elsewhere" },
			checkStateManifest, "no volume is mounted there"},
		{"state manifest's ConfigMap missing",
			func(a appDeployment, _ []object) {
				for _, v := range a.dep.Spec.Template.Spec.Volumes {
					if v.ConfigMap != nil {
						v.ConfigMap.Name = "gone"
					}
				}
			},
			checkStateManifest, "which the overlay does not create"},
		{"object in another namespace",
			func(_ appDeployment, objs []object) { objectsOf[corev1.Service](objs)[0].Namespace = "default" },
			func(_ appDeployment, objs []object) []string { return checkNamespace(objs) },
			`namespace "default"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := renderedObjects(t, root, "deploy/overlays/aks")
			a, err := findApp(objs)
			require.NoError(t, err)
			tc.mutate(a, objs)
			assert.Contains(t, strings.Join(tc.check(a, objs), "\n"), tc.want)
		})
	}
}
