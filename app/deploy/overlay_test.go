package deploy

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// placeholder is what components/azure and the aks overlay's own files hold
// until kustomize's replacements fill in azure.env.
const placeholder = "set-by-overlay"

// azureEnvKeys are the keys of deploy/overlays/aks/azure.env, which
// Terraform's aks_overlay_env output writes.
var azureEnvKeys = []string{"AZURE_CLIENT_ID", "STORAGE_ACCOUNT_NAME", "SIGNALR_ENDPOINT", "IMAGE", "INGRESS_HOST", "TLS_CERT_KEYVAULT_URI",
	"AUTH_ISSUER", "AUTH_AUDIENCE"}

// TestOverlaysBuild: `kubectl apply -k` of each overlay works, and what it
// sends to the API server decodes strictly.
func TestOverlaysBuild(t *testing.T) {
	root := repoRoot(t)
	for _, dir := range overlays {
		t.Run(dir, func(t *testing.T) {
			requireOverlay(t, root, dir)
			docs := render(t, root, dir)
			require.NotEmpty(t, docs)
			for _, m := range docs {
				_, err := decodeStrict(m, "")
				assert.NoError(t, err, "%s does not decode strictly", m)
			}
		})
	}
}

// leftovers returns the rendered objects that still hold the placeholder.
func leftovers(docs []manifest) []string {
	var bad []string
	for _, m := range docs {
		// The copy of the state component's manifest that the app reads for
		// its key-layout check (type and keyPrefix only) keeps the file as
		// written: kustomize cannot edit a file inside a ConfigMap.
		if m.kind == "ConfigMap" && strings.HasPrefix(m.name, "enviromon-state-component") {
			continue
		}
		if bytes.Contains(m.raw, []byte(placeholder)) {
			bad = append(bad, fmt.Sprintf("%s still holds %q: a replacement in deploy/overlays/aks/kustomization.yaml is missing", m, placeholder))
		}
	}
	return bad
}

// readEnv reads a KEY=value file as kustomize's configMapGenerator does.
func readEnv(t *testing.T, file string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		require.True(t, ok, "%s: %q is not KEY=value", file, line)
		env[k] = v
	}
	return env
}

// missingValues returns the azure.env values that reach no rendered object,
// and the keys azure.env lacks or has on top of azureEnvKeys.
func missingValues(env map[string]string, docs []manifest) []string {
	var bad []string
	for _, k := range azureEnvKeys {
		v, ok := env[k]
		if !ok || v == "" {
			bad = append(bad, fmt.Sprintf("azure.env: no value for %s", k))
			continue
		}
		found := false
		for _, m := range docs {
			found = found || bytes.Contains(m.raw, []byte(v))
		}
		if !found {
			bad = append(bad, fmt.Sprintf("azure.env: %s=%s reaches no object of the aks overlay", k, v))
		}
	}
	for k := range env {
		if !containsString(azureEnvKeys, k) {
			bad = append(bad, fmt.Sprintf("azure.env: %s is not one of %v (Terraform's aks_overlay_env writes exactly those)", k, azureEnvKeys))
		}
	}
	return bad
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestAKSOverlayFilled: every "set-by-overlay" of components/azure and the
// overlay is replaced from azure.env, every azure.env value lands
// somewhere, and the generated azure-env ConfigMap stays out of the cluster.
func TestAKSOverlayFilled(t *testing.T) {
	root := repoRoot(t)
	const dir = "deploy/overlays/aks"
	requireOverlay(t, root, dir)
	docs := render(t, root, dir)
	assert.Empty(t, leftovers(docs))
	assert.Empty(t, missingValues(readEnv(t, filepath.Join(root, dir, "azure.env")), docs))
	for _, m := range docs {
		assert.False(t, m.kind == "ConfigMap" && m.name == "azure-env", "%s: the replacements' source must not be applied (config.kubernetes.io/local-config)", m)
	}
}

func TestAKSOverlayFilledRefuses(t *testing.T) {
	src := repoRoot(t)
	requireOverlay(t, src, "deploy/overlays/aks")
	root := copyTree(t, src, "deploy", "components")
	// The SignalR endpoint's replacement into the Component, and the client
	// id's (its only target), select nothing any more.
	rewrite(t, root, "deploy/overlays/aks/kustomization.yaml", "kind: Component, name: signalr}", "kind: Component, name: signalr-gone}")
	rewrite(t, root, "deploy/overlays/aks/kustomization.yaml", "kind: ServiceAccount, name: enviromon}", "kind: ServiceAccount, name: enviromon-gone}")
	docs := render(t, root, "deploy/overlays/aks")
	bad := strings.Join(leftovers(docs), "\n")
	assert.Contains(t, bad, "Component signalr")
	assert.Contains(t, bad, "ServiceAccount enviromon")
	assert.Contains(t, strings.Join(missingValues(readEnv(t, filepath.Join(root, "deploy/overlays/aks/azure.env")), docs), "\n"),
		"AZURE_CLIENT_ID=")
}
