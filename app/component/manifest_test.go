package component_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/component"
)

// sqliteYAML is a state store with one of each kind of metadata value.
const sqliteYAML = `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.sqlite
  version: v1
  metadata:
  - name: connectionString
    value: "data/{appID}.db"
  - name: busyTimeout
    value: 5s
  - name: cleanupIntervalInSeconds
    value: 3600
  - name: disableWAL
    value: false
  - name: ratio
    value: 1.5
  - name: empty
    value:
`

func TestLoadDir(t *testing.T) {
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	host, err := os.Hostname()
	require.NoError(t, err)

	tests := []struct {
		name  string
		files map[string]string
		env   map[string]string
		appID string
		want  []string // component names, in load order
		check func(t *testing.T, cs []component.Component)
	}{
		{
			name:  "value kinds",
			files: map[string]string{"state.yaml": sqliteYAML},
			appID: "enviromon",
			want:  []string{"statestore"},
			check: func(t *testing.T, cs []component.Component) {
				c := cs[0]
				assert.Equal(t, "state.sqlite", c.Type)
				assert.Equal(t, "v1", c.Version)
				assert.Equal(t, map[string]string{
					"connectionString":         "data/enviromon.db",
					"busyTimeout":              "5s",
					"cleanupIntervalInSeconds": "3600",
					"disableWAL":               "false",
					"ratio":                    "1.5",
					"empty":                    "",
				}, c.Metadata)
			},
		},
		{
			name: "initTimeout and ignoreErrors",
			files: map[string]string{"hub.yaml": `apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: hub}
spec:
  type: bindings.azure.signalr
  version: v1
  initTimeout: 1m30s
  ignoreErrors: true
  metadata: [{name: hub, value: enviromon}]
`},
			want: []string{"hub"},
			check: func(t *testing.T, cs []component.Component) {
				assert.Equal(t, 90*time.Second, cs[0].InitTimeout)
				assert.True(t, cs[0].IgnoreErrors)
				assert.Contains(t, cs[0].Redacted(), "initTimeout=1m30s ignoreErrors=true")
			},
		},
		{
			name:  "daprd's defaults: a 5s init timeout, errors stop the start",
			files: map[string]string{"state.yaml": sqliteYAML},
			want:  []string{"statestore"},
			check: func(t *testing.T, cs []component.Component) {
				assert.Equal(t, 5*time.Second, cs[0].InitTimeout)
				assert.Equal(t, component.DefaultInitTimeout, cs[0].InitTimeout)
				assert.False(t, cs[0].IgnoreErrors)
				assert.NotContains(t, cs[0].Redacted(), "initTimeout")
				assert.NotContains(t, cs[0].Redacted(), "ignoreErrors")
			},
		},
		{
			name: "fields daprd does not know are ignored, as daprd does",
			files: map[string]string{"state.yaml": `apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: statestore, namespace: default, labels: {team: env}}
spec:
  type: state.sqlite
  color: blue
  metadata: [{name: connectionString, value: x.db, note: ignored}]
extra: true
`},
			want: []string{"statestore"},
			check: func(t *testing.T, cs []component.Component) {
				assert.Equal(t, map[string]string{"connectionString": "x.db"}, cs[0].Metadata)
			},
		},
		{
			name: "secretKeyRef from the environment",
			files: map[string]string{"tables.yaml": `apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: devices}
spec:
  type: state.azure.tablestorage
  metadata:
  - {name: accountName, value: devstoreaccount1}
  - name: accountKey
    secretKeyRef: {name: TABLES_KEY, key: TABLES_KEY}
  - name: tableName
    secretKeyRef: {name: TABLE_NAME}
`},
			env:  map[string]string{"TABLES_KEY": "c2VjcmV0", "TABLE_NAME": "devices"},
			want: []string{"devices"},
			check: func(t *testing.T, cs []component.Component) {
				assert.Equal(t, "c2VjcmV0", cs[0].Metadata["accountKey"])
				assert.Equal(t, "devices", cs[0].Metadata["tableName"])
			},
		},
		{
			name: "secretKeyRef through a local.env store with a prefix",
			files: map[string]string{"all.yaml": `apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: envsecrets}
spec:
  type: secretstores.local.env
  metadata: [{name: prefix, value: ENVIROMON_}]
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: hub}
spec:
  type: bindings.azure.signalr
  metadata:
  - name: connectionString
    secretKeyRef: {name: SIGNALR}
auth: {secretStore: envsecrets}
`},
			env:  map[string]string{"ENVIROMON_SIGNALR": "Endpoint=http://127.0.0.1:1;AccessKey=k;Version=1.0;", "SIGNALR": "wrong"},
			want: []string{"envsecrets", "hub"},
			check: func(t *testing.T, cs []component.Component) {
				assert.Equal(t, "Endpoint=http://127.0.0.1:1;AccessKey=k;Version=1.0;", cs[1].Metadata["connectionString"])
			},
		},
		{
			name: "envRef",
			files: map[string]string{"mqtt.yaml": `apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: devices-in}
spec:
  type: bindings.mqtt3
  metadata:
  - {name: url, envRef: MQTT_URL}
  - {name: topic, value: "devices/+/messages/events/#", envRef: IGNORED}
  - {name: unset, envRef: NOT_SET}
`},
			env:  map[string]string{"MQTT_URL": "tcp://127.0.0.1:1883", "IGNORED": "x"},
			want: []string{"devices-in"},
			check: func(t *testing.T, cs []component.Component) {
				assert.Equal(t, "tcp://127.0.0.1:1883", cs[0].Metadata["url"])
				assert.Equal(t, "devices/+/messages/events/#", cs[0].Metadata["topic"], "a value wins over envRef")
				assert.Equal(t, "", cs[0].Metadata["unset"])
			},
		},
		{
			name: "substitution",
			files: map[string]string{"mqtt.yml": `apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: devices-in}
spec:
  type: bindings.mqtt3
  metadata:
  - {name: consumerID, value: "{appID}-{uuid}"}
  - {name: two, value: "{uuid}/{uuid}"}
  - {name: pod, value: "{podName}"}
  - {name: ns, value: "{namespace}"}
`},
			appID: "enviromon",
			want:  []string{"devices-in"},
			check: func(t *testing.T, cs []component.Component) {
				md := cs[0].Metadata
				require.Regexp(t, `^enviromon-`, md["consumerID"])
				assert.Regexp(t, uuid, md["consumerID"][len("enviromon-"):])
				two := regexp.MustCompile(`/`).Split(md["two"], 2)
				require.Len(t, two, 2)
				assert.NotEqual(t, two[0], two[1], "every {uuid} gets its own UUID, as in daprd")
				assert.Equal(t, host, md["pod"])
				assert.Equal(t, ".enviromon", md["ns"])
			},
		},
		{
			name: "podName from POD_NAME",
			files: map[string]string{"mqtt.yaml": `apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: devices-in}
spec:
  type: bindings.mqtt3
  metadata: [{name: consumerID, value: "{podName}"}]
`},
			env:  map[string]string{"POD_NAME": "enviromon-7d9f"},
			want: []string{"devices-in"},
			check: func(t *testing.T, cs []component.Component) {
				assert.Equal(t, "enviromon-7d9f", cs[0].Metadata["consumerID"])
			},
		},
		{
			name: "scopes",
			files: map[string]string{"state.yaml": `apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: statestore}
spec: {type: state.in-memory}
scopes: [other]
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: statestore}
spec: {type: state.sqlite}
scopes: [enviromon, other]
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: everyone}
spec: {type: state.in-memory}
`},
			appID: "enviromon",
			want:  []string{"statestore", "everyone"},
			check: func(t *testing.T, cs []component.Component) {
				assert.Equal(t, "state.sqlite", cs[0].Type, "one name may be scoped to different apps")
				assert.Equal(t, []string{"enviromon", "other"}, cs[0].Scopes)
			},
		},
		{
			name: "other kinds and files ignored",
			files: map[string]string{
				"config.yaml": "apiVersion: dapr.io/v1alpha1\nkind: Configuration\nmetadata: {name: cfg}\nspec: {}\n",
				"resiliency.yaml": `apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata: {name: r}
spec:
  policies: {retries: {r: {policy: constant, duration: 1s}}}
---
# a comment-only document
---
` + sqliteYAML,
				"notes.txt":     "not: [yaml",
				"other-api.yml": "apiVersion: dapr.io/v2\nkind: Component\nmetadata: {name: y}\n",
			},
			want: []string{"statestore"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, err := load(t, tt.files, tt.appID, tt.env)
			require.NoError(t, err)
			names := make([]string, len(cs))
			for i, c := range cs {
				names[i] = c.Name
			}
			assert.Equal(t, tt.want, names)
			if tt.check != nil {
				tt.check(t, cs)
			}
		})
	}
}

func TestLoadDirMissing(t *testing.T) {
	_, err := component.LoadDir(filepath.Join(t.TempDir(), "nope"), component.Options{})
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// load writes files into a new folder and loads it for appID with env.
func load(t *testing.T, files map[string]string, appID string, env map[string]string) ([]component.Component, error) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600))
	}
	return component.LoadDir(dir, component.Options{
		AppID:  appID,
		Getenv: func(k string) string { return env[k] },
	})
}

// TestLoadDirConfigMapVolume reads a folder laid out as the kubelet mounts a
// ConfigMap: a timestamped folder, a ..data link to it, and one link per
// file. The component is read once, through its link.
func TestLoadDirConfigMapVolume(t *testing.T) {
	dir := t.TempDir()
	stamp := filepath.Join(dir, "..2026_11_29_23_00_00.000000001")
	require.NoError(t, os.Mkdir(stamp, 0o755))
	manifest := "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: statestore\nspec:\n  type: state.azure.tablestorage\n  version: v1\n  metadata:\n    - name: keyPrefix\n      value: none\n"
	require.NoError(t, os.WriteFile(filepath.Join(stamp, "statestore.yaml"), []byte(manifest), 0o644))
	require.NoError(t, os.Symlink(filepath.Base(stamp), filepath.Join(dir, "..data")))
	require.NoError(t, os.Symlink("..data/statestore.yaml", filepath.Join(dir, "statestore.yaml")))

	comps, err := component.LoadDir(dir, component.Options{AppID: "enviromon", Getenv: func(string) string { return "" }, LeaveSecrets: true})
	require.NoError(t, err)
	require.Len(t, comps, 1)
	assert.Equal(t, "state.azure.tablestorage", comps[0].Type)
	assert.Equal(t, "none", comps[0].Metadata["keyPrefix"])
}
