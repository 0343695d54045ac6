package deploy

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	componentsapi "github.com/dapr/dapr/pkg/apis/components/v1alpha1"
	resiliencyapi "github.com/dapr/dapr/pkg/apis/resiliency/v1alpha1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/component"
	"github.com/enviromon/enviromon/app/pipeline"
)

// maxBackoff bounds the inbound retry's interval: once the store is back, a
// partition waits at most this long before its next delivery.
const maxBackoff = time.Minute

// metadataValue returns a Component's metadata value, matching the name
// without regard to case as components-contrib does.
func metadataValue(c *componentsapi.Component, name string) (string, bool) {
	for _, m := range c.Spec.Metadata {
		if strings.EqualFold(m.Name, name) {
			return m.Value.String(), true
		}
	}
	return "", false
}

// daprDuration parses a duration as daprd's resiliency does: a bare number
// is milliseconds (dapr@v1.16.0 pkg/resiliency/resiliency.go:1007).
func daprDuration(s string) (time.Duration, error) {
	if ms, err := strconv.Atoi(s); err == nil {
		return time.Duration(ms) * time.Millisecond, nil
	}
	return time.ParseDuration(s)
}

// checkEventHubs: components-contrib v1.16's Event Hubs binding checkpoints
// an event whatever the app answered (#4561). It loses nothing only when it
// hands over one event per partition at a time (in-order delivery) and the
// binding retries that event until the app commits it: its own backOff
// retry, endless (backOffMaxRetries -1; its default is 3) and constant, so
// that a partition resumes soon after an outage. The consumer group is the
// project's own. No input binding may have a daprd inbound retry: see
// checkNoInboundRetry.
func checkEventHubs(objs []object) []string {
	var bad []string
	fail := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }
	for _, c := range objectsOf[componentsapi.Component](objs) {
		if c.Spec.Type != "bindings.azure.eventhubs" {
			continue
		}
		if v, _ := metadataValue(c, "enableInOrderMessageDelivery"); v != "true" {
			fail("Component %s: enableInOrderMessageDelivery %q, want \"true\"", c.Name, v)
		}
		if v, _ := metadataValue(c, "consumerID"); v != appName {
			fail("Component %s: consumerID %q, want the consumer group %q", c.Name, v, appName)
		}
		if v, _ := metadataValue(c, "backOffMaxRetries"); v != "-1" {
			fail("Component %s: backOffMaxRetries %q, want \"-1\" (never give up an event the hub will not resend; the default is 3)", c.Name, v)
		}
		if v, ok := metadataValue(c, "backOffPolicy"); ok && v != "constant" {
			// kit's exponential backoff stops after its MaxElapsedTime
			// (15 min) whatever backOffMaxRetries says (kit@v0.16.1
			// retry/retry.go:74,128, cenkalti/backoff/v4 exponential.go:176):
			// after a 15-minute store outage the event would be given up,
			// and checkpointed.
			fail("Component %s: backOffPolicy %q ends after 15 minutes of failures whatever backOffMaxRetries says; use constant", c.Name, v)
		}
		interval, ok := metadataValue(c, "backOffDuration")
		if !ok {
			interval = "5s" // kit retry.DefaultConfig
		}
		if d, err := time.ParseDuration(interval); err != nil || d <= 0 || d > maxBackoff {
			fail("Component %s: backOffDuration %q, want up to %s", c.Name, interval, maxBackoff)
		}
	}
	return append(bad, checkNoInboundRetry(objs)...)
}

// checkNoInboundRetry: daprd 1.16 replays a delivery's body on an inbound
// retry from what the previous attempt read (dapr@v1.16.0
// pkg/messaging/v1/replayable_request.go RawData). An attempt that failed
// before reading it (connection refused: the app restarting) leaves the
// next attempt an empty or cut body, which the app must acknowledge as a
// rejection: the message is lost (app/e2e TestFaultInterruptedDeliveries).
// Input bindings therefore retry with their own backOff settings, which
// hand daprd the broker's message afresh each time; a Resiliency may bound
// an attempt with a timeout but must not retry it.
func checkNoInboundRetry(objs []object) []string {
	var bad []string
	inputs := map[string]bool{}
	for _, c := range objectsOf[componentsapi.Component](objs) {
		if strings.HasPrefix(c.Spec.Type, "bindings.") {
			inputs[c.Name] = true
		}
	}
	for _, r := range objectsOf[resiliencyapi.Resiliency](objs) {
		for name, target := range r.Spec.Targets.Components {
			if inputs[name] && target.Inbound.Retry != "" {
				bad = append(bad, fmt.Sprintf("Resiliency %s: inbound retry %q on %s: daprd 1.16 replays a damaged body on it; retry with the component's backOff settings", r.Name, target.Inbound.Retry, name))
			}
		}
	}
	return bad
}

// checkKeyPrefix runs the app's own start-up check (component.CheckKeyLayout
// with the pipeline's keys) on every state component: a layout the app
// would refuse must not ship. On Table Storage that means keyPrefix none,
// so each device is its own partition.
func checkKeyPrefix(where string, cs []*componentsapi.Component) []string {
	var bad []string
	devices, shared := pipeline.SampleKeys("device-a", "device-b")
	for _, c := range cs {
		if !strings.HasPrefix(c.Spec.Type, "state.") {
			continue
		}
		md := map[string]string{}
		for _, m := range c.Spec.Metadata {
			md[m.Name] = m.Value.String()
		}
		app := component.Component{Name: c.Name, Type: c.Spec.Type, Metadata: md}
		if err := app.CheckKeyLayout(appName, "", component.KeySample{Devices: devices, Shared: shared}); err != nil {
			bad = append(bad, fmt.Sprintf("%s: Component %s: %v", where, c.Name, err))
		}
	}
	return bad
}

// checkMQTT: replicas share an MQTT input by a shared subscription
// ($share/...), each under a client id of its own; a broker drops the
// older of two clients with the same id, so two replicas would take turns
// being disconnected. perReplica are the placeholders daprd makes distinct
// per replica in that setting.
func checkMQTT(where string, cs []*componentsapi.Component, perReplica []string) []string {
	var bad []string
	for _, c := range cs {
		if c.Spec.Type != "bindings.mqtt3" {
			continue
		}
		if topic, _ := metadataValue(c, "topic"); !strings.HasPrefix(topic, "$share/") {
			bad = append(bad, fmt.Sprintf("%s: Component %s: topic %q is not a shared subscription ($share/<group>/...)", where, c.Name, topic))
		}
		id, _ := metadataValue(c, "consumerID")
		distinct := false
		for _, p := range perReplica {
			distinct = distinct || strings.Contains(id, p)
		}
		if !distinct {
			bad = append(bad, fmt.Sprintf("%s: Component %s: consumerID %q is the same for every replica: use one of %v", where, c.Name, id, perReplica))
		}
	}
	return bad
}

// mqttSettings are where the MQTT input runs with more than one replica:
// `make dapr-run` and app/e2e (components/local, POD_NAME set for daprd),
// and the local cluster, where every replica of the Deployment has the app
// id enviromon, so {appID} would not tell them apart.
var mqttSettings = []struct {
	where   string
	overlay bool
}{
	{"components/local", false},
	{"deploy/overlays/local", true},
}

// perReplica are the placeholders daprd makes distinct per replica
// (dapr@v1.16.0 pkg/runtime/meta/meta.go:78-89). {podName} needs POD_NAME,
// which Kubernetes sets and .ci/dapr-run.sh exports.
var perReplica = []string{"{podName}", "{uuid}"}

func TestDelivery(t *testing.T) {
	root := repoRoot(t)
	t.Run("event hubs", func(t *testing.T) {
		assert.Empty(t, checkEventHubs(decode(readManifests(t, root, "components/azure"))), "components/azure")
		assert.Empty(t, checkEventHubs(renderedObjects(t, root, "deploy/overlays/aks")), "deploy/overlays/aks")
	})
	t.Run("table storage key prefix", func(t *testing.T) {
		for where, cs := range componentsUnder(t, root) {
			assert.Empty(t, checkKeyPrefix(where, cs))
		}
	})
	for _, s := range mqttSettings {
		t.Run("mqtt "+s.where, func(t *testing.T) {
			var objs []object
			if s.overlay {
				objs = renderedObjects(t, root, s.where)
			} else {
				objs = decode(readManifests(t, root, s.where))
			}
			cs := objectsOf[componentsapi.Component](objs)
			require.NotEmpty(t, cs, s.where)
			assert.Empty(t, checkMQTT(s.where, cs, perReplica))
			assert.Empty(t, checkNoInboundRetry(objs), s.where)
		})
	}
}

func TestDeliveryRefuses(t *testing.T) {
	root := repoRoot(t)
	azure := func() []object { return decode(readManifests(t, root, "components/azure")) }
	component := func(objs []object, name string) *componentsapi.Component {
		return named[componentsapi.Component](t, objs, name)
	}
	setMeta := func(c *componentsapi.Component, name, value string) {
		for i := range c.Spec.Metadata {
			if strings.EqualFold(c.Spec.Metadata[i].Name, name) {
				c.Spec.Metadata[i].Value.Raw = []byte(strconv.Quote(value))
				return
			}
		}
		t.Fatalf("Component %s has no %s", c.Name, name)
	}
	t.Run("out of order", func(t *testing.T) {
		objs := azure()
		setMeta(component(objs, "telemetry"), "enableInOrderMessageDelivery", "false")
		assert.Contains(t, strings.Join(checkEventHubs(objs), "\n"), "enableInOrderMessageDelivery")
	})
	t.Run("unbounded backoff", func(t *testing.T) {
		objs := azure()
		setMeta(component(objs, "telemetry"), "backOffDuration", "10m")
		assert.Contains(t, strings.Join(checkEventHubs(objs), "\n"), `backOffDuration "10m"`)
	})
	t.Run("exponential ends after 15 minutes", func(t *testing.T) {
		objs := azure()
		setMeta(component(objs, "telemetry"), "backOffPolicy", "exponential")
		assert.Contains(t, strings.Join(checkEventHubs(objs), "\n"), "ends after 15 minutes")
	})
	t.Run("retries give up", func(t *testing.T) {
		objs := azure()
		setMeta(component(objs, "telemetry"), "backOffMaxRetries", "3")
		assert.Contains(t, strings.Join(checkEventHubs(objs), "\n"), "backOffMaxRetries")
	})
	t.Run("daprd inbound retry", func(t *testing.T) {
		for _, where := range []string{"components/azure", "components/local"} {
			objs := decode(readManifests(t, root, where))
			r := objectsOf[resiliencyapi.Resiliency](objs)[0]
			r.Spec.Policies.Retries["again"] = resiliencyapi.Retry{Policy: "constant", Duration: "5s", MaxRetries: ptrInt(-1)}
			target := r.Spec.Targets.Components["telemetry"]
			target.Inbound.Retry = "again"
			r.Spec.Targets.Components["telemetry"] = target
			assert.Contains(t, strings.Join(checkNoInboundRetry(objs), "\n"), "replays a damaged body", where)
		}
	})
	t.Run("key prefix", func(t *testing.T) {
		objs := azure()
		setMeta(component(objs, "statestore"), "keyPrefix", "appid")
		assert.Contains(t, strings.Join(checkKeyPrefix("components/azure", objectsOf[componentsapi.Component](objs)), "\n"), `would keep every device in partition "enviromon"`)
	})
	t.Run("mqtt", func(t *testing.T) {
		objs := decode(readManifests(t, root, "components/local"))
		c := component(objs, "telemetry")
		setMeta(c, "consumerID", "enviromon")
		setMeta(c, "topic", "devices/+/messages/events/#")
		bad := strings.Join(checkMQTT("components/local", []*componentsapi.Component{c}, perReplica), "\n")
		assert.Contains(t, bad, "is not a shared subscription")
		assert.Contains(t, bad, "is the same for every replica")
	})
}

func ptrInt(i int) *int { return &i }
