package component

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dapr/dapr/pkg/apis/common"
	compapi "github.com/dapr/dapr/pkg/apis/components/v1alpha1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// budget bounds the work one fuzz input may take, far above what a real
// manifest needs, so that only quadratic or endless work trips it.
const budget = time.Second

// fuzzOptions resolve every secret and variable, so that what fails to
// load fails for what the manifest says.
var fuzzOptions = Options{AppID: "app", Getenv: func(name string) string {
	switch name {
	case "POD_NAME":
		return "pod-1"
	case "NAMESPACE":
		return "ns"
	}
	return "from-env-" + name
}}

// FuzzComponentYAML: whatever a manifest file holds, LoadDir returns
// components or an error naming the file, within the budget. Every
// component it returns has a valid name, a type and named metadata, and
// is scoped to the app; Redacted masks its secrets and URL passwords; and
// written back as a manifest of plain values it loads as the same
// component.
func FuzzComponentYAML(f *testing.F) {
	for _, seed := range []string{
		`apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.sqlite
  version: v1
  metadata:
  - name: connectionString
    value: "data/{appID}.db"
  - {name: busyTimeout, value: 5s}
  - {name: cleanupIntervalInSeconds, value: 3600}
  - {name: disableWAL, value: false}
  - {name: ratio, value: 1.5}
  - {name: empty, value: }
  - {name: object, value: {a: [1, b]}}
`,
		`apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: envsecrets}
spec:
  type: secretstores.local.env
  metadata: [{name: prefix, value: ENVIROMON_}]
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: devices}
spec:
  type: state.azure.tablestorage
  metadata:
  - {name: accountName, value: devstoreaccount1}
  - name: accountKey
    secretKeyRef: {name: TABLES_KEY, key: TABLES_KEY}
  - name: plainName
    secretKeyRef: {name: OTHER}
  - {name: keyPrefix, value: none}
auth: {secretStore: envsecrets}
scopes: [app, other]
`,
		`apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: devices-in}
spec:
  type: bindings.mqtt3
  initTimeout: 1m30s
  ignoreErrors: true
  metadata:
  - {name: url, value: "tcp://user:pa55@127.0.0.1:1883"}
  - {name: topic, envRef: MQTT_TOPIC}
  - {name: consumerID, value: "{uuid}-{podName}-{namespace}"}
  - {name: redisPassword, value: hunter2}
`,
		`apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata: {name: tracing}
spec: {tracing: {samplingRate: "1"}}
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: dashboard}
spec: {type: bindings.azure.signalr, metadata: [{name: hub, value: enviromon}]}
scopes: [someone-else]
---
`,
		"{\"apiVersion\":\"dapr.io/v1alpha1\",\"kind\":\"Component\",\"metadata\":{\"name\":\"j\"},\"spec\":{\"type\":\"state.redis\"}}",
		"apiVersion: dapr.io/v1alpha1\r\nkind: Component\r\nmetadata: {name: crlf}\r\nspec: {type: pubsub.redis}\r\n",
		// Hostile: bad shapes, names and values, aliases and nesting.
		"apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: x\nspec: [\n",
		"apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: a/b}\nspec: {type: state.sqlite}\n",
		"apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: x}\nspec: {type: s, initTimeout: 5}\n",
		"apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: x}\nspec: {type: s, initTimeout: -1s, ignoreErrors: yes}\n",
		"apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: x}\nspec: {type: s, metadata: [{value: 1}]}\n",
		"apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: x}\nspec: {type: s, metadata: [{name: a, envRef: DAPR_API_TOKEN}]}\n",
		"apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: x}\nspec: {type: s}\n---\napiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: x}\nspec: {type: t}\n",
		"apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: x}\nspec:\n  type: s\n  metadata:\n  - name: a\n    value: |\n      line\n---not a separator, but daprd splits here\n",
		"apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: &m {name: x}\nspec: {type: s, metadata: [{name: a, value: *m}]}\nscopes: *m\n",
		"a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\napiVersion: dapr.io/v1alpha1\nkind: Component\n",
		"apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: x}\nspec: {type: s, metadata: [{name: a, value: " + strings.Repeat("[", 200) + "}]}\n",
		"apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: x}\nspec: {type: s, metadata: [{name: a, value: \"" + strings.Repeat("{uuid}", 50) + "\"}]}\n",
		"\ufeffapiVersion: dapr.io/v1alpha1\nkind: Component\n\tmetadata: {name: x}\n",
		"apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: \"\\xff\\u2028\\0\"}\nspec: {type: \"\\t\"}\n",
		"apiVersion: [dapr.io/v1alpha1]\nkind: Component\n", "kind: Component\n", "---\n---\n", "", "\x00\xff\xfe",
	} {
		f.Add([]byte(seed))
	}
	dir, again := f.TempDir(), f.TempDir()
	file := filepath.Join(dir, "c.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		require.NoError(t, os.WriteFile(file, data, 0o600))
		start := time.Now()
		cs, err := LoadDir(dir, fuzzOptions)
		if elapsed := time.Since(start); elapsed > budget {
			t.Fatalf("loading %d bytes took %s", len(data), elapsed)
		}
		if err != nil {
			require.Nil(t, cs, "components returned with an error")
			require.Contains(t, err.Error(), file, "the error does not name the file")
			return
		}
		names := map[string]bool{}
		for _, c := range cs {
			var m compapi.Component
			m.Name, m.Spec.Type = c.Name, c.Type
			require.NoError(t, validate(m), "loaded an invalid component")
			require.Positive(t, c.InitTimeout, "a component without an init timeout")
			require.False(t, names[c.Name], "two components named %q", c.Name)
			names[c.Name] = true
			require.NotContains(t, c.Metadata, "", "metadata without a name")
			if len(c.Scopes) > 0 {
				require.Contains(t, c.Scopes, fuzzOptions.AppID, "a component scoped to other apps")
			}
			checkRedacted(t, c)
		}
		checkRoundTrip(t, cs, filepath.Join(again, "c.yaml"))
	})
}

// urlUserinfo is the userinfo of a scheme://userinfo@host value, as
// url.Parse finds it: up to the last @ before the path, query or fragment.
var urlUserinfo = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)@`)

// checkRedacted asserts that Redacted shows each metadata entry as the
// entry alone would show: secrets masked, and a URL value without the
// password it was written with.
func checkRedacted(t *testing.T, c Component) {
	t.Helper()
	out := c.Redacted()
	require.Equal(t, out, c.String())
	for k, v := range c.Metadata {
		one := Component{Name: "n", Type: "t", Metadata: map[string]string{k: v}, secret: map[string]bool{k: c.secret[k]}}
		got := one.Redacted()
		head := "n (t) {" + k + ": "
		require.True(t, strings.HasPrefix(got, head) && strings.HasSuffix(got, "}"), "%q", got)
		quoted := got[len(head) : len(got)-1]
		shown, err := strconv.Unquote(quoted)
		require.NoError(t, err, "%q", got)
		require.Contains(t, out, k+": "+quoted)
		switch {
		case v == "":
			require.Empty(t, shown)
		case c.secret[k] || IsSecretName(k):
			require.Equal(t, masked, shown, "secret %q shown", k)
		default:
			m := urlUserinfo.FindStringSubmatch(v)
			if m == nil {
				break
			}
			_, password, ok := strings.Cut(m[1], ":")
			if ok && password != "" && password != "xxxxx" {
				require.False(t, strings.HasPrefix(shown, m[0]), "%s: %q shows the password of %q", k, shown, v)
			}
		}
	}
}

// checkRoundTrip writes cs back as manifests with plain values, loads
// them from file and asserts that they are the same components.
func checkRoundTrip(t *testing.T, cs []Component, file string) {
	t.Helper()
	var docs [][]byte
	for _, c := range cs {
		var m compapi.Component
		m.TypeMeta = metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
		m.Name = c.Name
		m.Spec.Type, m.Spec.Version = c.Type, c.Version
		m.Spec.InitTimeout, m.Spec.IgnoreErrors = c.InitTimeout.String(), c.IgnoreErrors
		m.Scopes = c.Scopes
		for k, v := range c.Metadata {
			value, err := json.Marshal(v)
			require.NoError(t, err)
			var it common.NameValuePair
			it.Name = k
			it.SetValue(value)
			m.Spec.Metadata = append(m.Spec.Metadata, it)
		}
		doc, err := yaml.Marshal(m)
		require.NoError(t, err)
		docs = append(docs, doc)
	}
	require.NoError(t, os.WriteFile(file, bytes.Join(docs, []byte("---\n")), 0o600))
	again, err := LoadDir(filepath.Dir(file), fuzzOptions)
	require.NoError(t, err, "written back as\n%s", bytes.Join(docs, []byte("---\n")))
	require.Len(t, again, len(cs))
	for i, c := range cs {
		assert.Equal(t, c.Name, again[i].Name)
		assert.Equal(t, c.Type, again[i].Type)
		assert.Equal(t, c.Version, again[i].Version)
		assert.Equal(t, c.Metadata, again[i].Metadata)
		assert.Equal(t, c.Scopes, again[i].Scopes)
		assert.Equal(t, c.InitTimeout, again[i].InitTimeout)
		assert.Equal(t, c.IgnoreErrors, again[i].IgnoreErrors)
	}
}
