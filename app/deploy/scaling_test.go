package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// defaultPartitions is IoT Hub's default partition count, used while
// deploy/terraform/variables.tf does not exist.
const defaultPartitions = 4

// partitionCount returns the default of the Terraform variable
// partition_count: an Event Hubs consumer group gives each partition to one
// reader, so replicas beyond it sit idle.
func partitionCount(t *testing.T, root string) int {
	t.Helper()
	file := filepath.Join(root, "deploy/terraform/variables.tf")
	src, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return defaultPartitions
	}
	require.NoError(t, err)
	f, diags := hclsyntax.ParseConfig(src, file, hcl.InitialPos)
	require.False(t, diags.HasErrors(), "%s: %s", file, diags.Error())
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		if b.Type != "variable" || len(b.Labels) != 1 || b.Labels[0] != "partition_count" {
			continue
		}
		attr, ok := b.Body.Attributes["default"]
		require.True(t, ok, "%s: variable partition_count has no default", file)
		v, diags := attr.Expr.Value(nil)
		require.False(t, diags.HasErrors(), "%s: partition_count default: %s", file, diags.Error())
		require.Equal(t, cty.Number, v.Type(), "%s: partition_count default is not a number", file)
		n, acc := v.AsBigFloat().Int64()
		require.Equal(t, 0, int(acc), "%s: partition_count default %s is not whole", file, v.AsBigFloat())
		return int(n)
	}
	t.Fatalf("%s: no variable partition_count", file)
	return 0
}

// checkHPA: the autoscaler scales the app's Deployment between two replicas
// (a drain or a crash never stops ingestion) and the partition count, on
// the app container's CPU; the Deployment leaves the count to it.
func checkHPA(a appDeployment, objs []object, partitions int) []string {
	var bad []string
	fail := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }
	if a.dep.Spec.Replicas != nil {
		fail("Deployment %s: spec.replicas %d resets the autoscaler's count on every apply: leave it out", appName, *a.dep.Spec.Replicas)
	}
	hpas := objectsOf[autoscalingv2.HorizontalPodAutoscaler](objs)
	if len(hpas) != 1 {
		return append(bad, fmt.Sprintf("want one HorizontalPodAutoscaler, got %d", len(hpas)))
	}
	h := hpas[0]
	if ref := h.Spec.ScaleTargetRef; ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || ref.Name != appName {
		fail("HorizontalPodAutoscaler %s: scaleTargetRef %s %s %s, want apps/v1 Deployment %s", h.Name, ref.APIVersion, ref.Kind, ref.Name, appName)
	}
	if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 2 {
		fail("HorizontalPodAutoscaler %s: minReplicas %v, want at least 2", h.Name, h.Spec.MinReplicas)
	}
	if int(h.Spec.MaxReplicas) > partitions {
		fail("HorizontalPodAutoscaler %s: maxReplicas %d exceeds the %d IoT Hub partitions (replicas beyond them sit idle)", h.Name, h.Spec.MaxReplicas, partitions)
	}
	for _, m := range h.Spec.Metrics {
		if m.ContainerResource != nil && m.ContainerResource.Container != a.app.Name {
			fail("HorizontalPodAutoscaler %s: metric on container %q, the app's is %q", h.Name, m.ContainerResource.Container, a.app.Name)
		}
	}
	return bad
}

// checkPDB: one disruption budget over exactly the app's pods.
func checkPDB(objs []object) []string {
	pdbs := objectsOf[policyv1.PodDisruptionBudget](objs)
	if len(pdbs) != 1 {
		return []string{fmt.Sprintf("want one PodDisruptionBudget, got %d", len(pdbs))}
	}
	return selectsLabelSelector(objs, "PodDisruptionBudget "+pdbs[0].Name, pdbs[0].Spec.Selector)
}

// checkNetworkPolicy: the policy applies to exactly the app's pods, and
// lets the ingress controller reach the app's port.
func checkNetworkPolicy(objs []object) []string {
	nps := objectsOf[networkingv1.NetworkPolicy](objs)
	if len(nps) != 1 {
		return []string{fmt.Sprintf("want one NetworkPolicy, got %d", len(nps))}
	}
	np := nps[0]
	bad := selectsLabelSelector(objs, "NetworkPolicy "+np.Name, &np.Spec.PodSelector)
	open := false
	for _, rule := range np.Spec.Ingress {
		for _, p := range rule.Ports {
			open = open || (p.Port != nil && (*p.Port == intstr.FromInt32(httpPort) || *p.Port == intstr.FromString("http")))
		}
	}
	if !open {
		bad = append(bad, fmt.Sprintf("NetworkPolicy %s: no ingress rule admits the app's HTTP port %d", np.Name, httpPort))
	}
	return bad
}

func selectsLabelSelector(objs []object, who string, ls *metav1.LabelSelector) []string {
	if ls == nil {
		return []string{who + ": no selector"}
	}
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		return []string{fmt.Sprintf("%s: selector: %v", who, err)}
	}
	return selects(objs, who, sel, len(ls.MatchLabels)+len(ls.MatchExpressions) == 0)
}

// TestScaling: the autoscaler, the disruption budget and the network policy
// all apply to the app's pods, within the partition count.
func TestScaling(t *testing.T) {
	root := repoRoot(t)
	partitions := partitionCount(t, root)
	for _, dir := range overlays {
		t.Run(dir, func(t *testing.T) {
			objs := renderedObjects(t, root, dir)
			a, err := findApp(objs)
			require.NoError(t, err)
			assert.Empty(t, checkHPA(a, objs, partitions), dir)
			assert.Empty(t, checkPDB(objs), dir)
			assert.Empty(t, checkNetworkPolicy(objs), dir)
		})
	}
}

func TestScalingRefuses(t *testing.T) {
	root := repoRoot(t)
	requireOverlay(t, root, "deploy/overlays/aks")
	for _, tc := range []struct {
		name   string
		mutate func([]object)
		want   string
	}{
		{"one replica", func(objs []object) {
			one := int32(1)
			objectsOf[autoscalingv2.HorizontalPodAutoscaler](objs)[0].Spec.MinReplicas = &one
		}, "minReplicas"},
		{"more replicas than partitions", func(objs []object) {
			objectsOf[autoscalingv2.HorizontalPodAutoscaler](objs)[0].Spec.MaxReplicas = 8
		}, "exceeds the 4 IoT Hub partitions"},
		{"scales another Deployment", func(objs []object) {
			objectsOf[autoscalingv2.HorizontalPodAutoscaler](objs)[0].Spec.ScaleTargetRef.Name = "enviro"
		}, "scaleTargetRef"},
		{"PDB over other pods", func(objs []object) {
			objectsOf[policyv1.PodDisruptionBudget](objs)[0].Spec.Selector.MatchLabels = map[string]string{"app": "x"}
		}, "PodDisruptionBudget enviromon: selector app=x does not select"},
		{"NetworkPolicy over every pod", func(objs []object) {
			objectsOf[networkingv1.NetworkPolicy](objs)[0].Spec.PodSelector = metav1.LabelSelector{}
		}, "empty selector"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := renderedObjects(t, root, "deploy/overlays/aks")
			a, err := findApp(objs)
			require.NoError(t, err)
			tc.mutate(objs)
			bad := append(append(checkHPA(a, objs, defaultPartitions), checkPDB(objs)...), checkNetworkPolicy(objs)...)
			assert.Contains(t, strings.Join(bad, "\n"), tc.want)
		})
	}
}

func TestPartitionCountFromTerraform(t *testing.T) {
	root := t.TempDir()
	assert.Equal(t, defaultPartitions, partitionCount(t, root), "no variables.tf")
	require.NoError(t, os.MkdirAll(filepath.Join(root, "deploy/terraform"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "deploy/terraform/variables.tf"), []byte(`
variable "location" {
  type    = string
  default = "westeurope"
}
variable "partition_count" {
  type    = number
  default = 2
}
`), 0o644))
	assert.Equal(t, 2, partitionCount(t, root))
}
