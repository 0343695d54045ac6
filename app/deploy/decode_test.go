package deploy

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestManifestsDecodeStrictly: a misspelt or misplaced field is dropped
// without a word by kubectl's client-side apply and by the Dapr operator
// (an "initialInterval" daprd has no field for is simply not used), so every
// YAML document under deploy/ and components/ must decode into its real Go
// type with unknown fields refused.
func TestManifestsDecodeStrictly(t *testing.T) {
	root := repoRoot(t)
	docs := readManifests(t, root, manifestDirs...)
	require.NotEmpty(t, docs)
	roles := listRoles(docs)
	for _, m := range docs {
		t.Run(m.String(), func(t *testing.T) {
			_, err := decodeStrict(m, roles[m.file])
			assert.NoError(t, err, "%s does not decode strictly", m.file)
		})
	}
}

// TestDecodeStrictRefuses shows the decode check fails on what it is there
// to catch.
func TestDecodeStrictRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, file, yaml, want string
	}{
		{"misspelt Deployment field", "deploy/base/deployment.yaml", `
apiVersion: apps/v1
kind: Deployment
metadata: {name: enviromon}
spec:
  replica: 2
`, `unknown field "spec.replica"`},
		{"misspelt Component field", "components/x/telemetry.yaml", `
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: telemetry}
spec:
  type: bindings.mqtt3
  version: v1
scope: [enviromon]
`, `unknown field "scope"`},
		{"Resiliency retry field daprd does not read", "components/x/resiliency.yaml", `
apiVersion: dapr.io/v1alpha1
kind: Resiliency
metadata: {name: enviromon}
spec:
  policies:
    retries:
      r: {policy: exponential, initialInterval: 1s}
`, `unknown field "spec.policies.retries.r.initialInterval"`},
		{"misspelt kustomization field", "deploy/overlays/x/kustomization.yaml", `
resource: [../../base]
`, `unknown field "resource"`},
		{"unknown kind", "deploy/base/x.yaml", `
apiVersion: apps/v1
kind: StatefulSett
metadata: {name: x}
`, "unknown kind"},
		{"no kind", "deploy/base/x.yaml", `
metadata: {name: x}
`, "no apiVersion or kind"},
		{"stray list", "deploy/base/x.yaml", `
- op: add
  path: /spec/replicas
  value: 3
`, "no kustomization uses"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docs, err := splitManifests(tc.file, []byte(tc.yaml))
			require.NoError(t, err)
			require.Len(t, docs, 1)
			_, err = decodeStrict(docs[0], "")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestDecodeStrictRefusesFileOnDisk runs the same walk as the real check
// over a copy of components/ with one field misspelt.
func TestDecodeStrictRefusesFileOnDisk(t *testing.T) {
	root := copyTree(t, repoRoot(t), "components")
	rewrite(t, root, "components/azure/telemetry.yaml", "scopes:", "scope:")
	var failed []string
	roles := map[string]string{}
	for _, m := range readManifests(t, root, "components") {
		if _, err := decodeStrict(m, roles[m.file]); err != nil {
			failed = append(failed, m.file)
		}
	}
	assert.Contains(t, failed, "components/azure/telemetry.yaml")
}
