package deploy

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
)

const (
	wiUseLabel      = "azure.workload.identity/use"
	wiClientIDAnnot = "azure.workload.identity/client-id"
)

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// checkWorkloadIdentity: the Workload Identity webhook mutates only pods
// labelled azure.workload.identity/use, and gives them the client id of
// their service account's annotation; without either, daprd's Azure
// components fail to authenticate (storage, SignalR).
func checkWorkloadIdentity(a appDeployment, objs []object) []string {
	var bad []string
	if a.podLabels()[wiUseLabel] != "true" {
		bad = append(bad, fmt.Sprintf("Deployment %s: pod template label %s=%q, want \"true\"", appName, wiUseLabel, a.podLabels()[wiUseLabel]))
	}
	saName := a.dep.Spec.Template.Spec.ServiceAccountName
	if saName != appName {
		bad = append(bad, fmt.Sprintf("Deployment %s: serviceAccountName %q, want %q (the federated credential's subject system:serviceaccount:%s:%s)",
			appName, saName, appName, appNamespace, appName))
	}
	for _, sa := range objectsOf[corev1.ServiceAccount](objs) {
		if sa.Name != saName {
			continue
		}
		if id := sa.Annotations[wiClientIDAnnot]; !uuidPattern.MatchString(id) {
			bad = append(bad, fmt.Sprintf("ServiceAccount %s: annotation %s %q is not a client id", sa.Name, wiClientIDAnnot, id))
		}
		return bad
	}
	return append(bad, fmt.Sprintf("no ServiceAccount %q", saName))
}

func TestWorkloadIdentity(t *testing.T) {
	objs := renderedObjects(t, repoRoot(t), "deploy/overlays/aks")
	a, err := findApp(objs)
	require.NoError(t, err)
	assert.Empty(t, checkWorkloadIdentity(a, objs))
}

func TestWorkloadIdentityRefuses(t *testing.T) {
	root := repoRoot(t)
	requireOverlay(t, root, "deploy/overlays/aks")
	for _, tc := range []struct {
		name   string
		mutate func(appDeployment, []object)
		want   string
	}{
		{"no label", func(a appDeployment, _ []object) { delete(a.dep.Spec.Template.Labels, wiUseLabel) }, wiUseLabel},
		{"no client id", func(_ appDeployment, objs []object) {
			objectsOf[corev1.ServiceAccount](objs)[0].Annotations[wiClientIDAnnot] = placeholder
		}, "is not a client id"},
		{"default service account", func(a appDeployment, _ []object) { a.dep.Spec.Template.Spec.ServiceAccountName = "" }, "serviceAccountName"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := renderedObjects(t, root, "deploy/overlays/aks")
			a, err := findApp(objs)
			require.NoError(t, err)
			tc.mutate(a, objs)
			assert.Contains(t, strings.Join(checkWorkloadIdentity(a, objs), "\n"), tc.want)
		})
	}
}
