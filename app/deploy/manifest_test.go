package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"testing"

	componentsapi "github.com/dapr/dapr/pkg/apis/components/v1alpha1"
	configurationapi "github.com/dapr/dapr/pkg/apis/configuration/v1alpha1"
	resiliencyapi "github.com/dapr/dapr/pkg/apis/resiliency/v1alpha1"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"
)

// manifestDirs are the folders, relative to the repository root, whose YAML
// reaches a cluster or daprd. deploy/terraform is HCL, checked on its own.
var manifestDirs = []string{"deploy", "components"}

// skippedDirs hold no Kubernetes YAML.
var skippedDirs = map[string]bool{"deploy/terraform": true}

// manifest is one YAML document: of a file under deploy/ or components/, or
// of an overlay's kustomize output.
type manifest struct {
	file       string // slash path relative to the root it was read from, or "<overlay> (rendered)"
	index      int    // position of the document in its file, from 0
	raw        []byte // the document's YAML
	apiVersion string
	kind       string
	name       string
	list       bool // a YAML sequence at the top: a JSON 6902 patch or a replacements file
}

func (m manifest) String() string {
	if m.kind == "" {
		return fmt.Sprintf("%s#%d", m.file, m.index)
	}
	return fmt.Sprintf("%s#%d (%s %s)", m.file, m.index, m.kind, m.name)
}

// kinds maps apiVersion and kind to the Go type the API server, kustomize or
// the Dapr operator decodes the object into. A kind missing here fails the
// decode check, so that nothing under deploy/ escapes it.
var kinds = map[string]func() any{
	"apps/v1/Deployment":                            func() any { return new(appsv1.Deployment) },
	"v1/Service":                                    func() any { return new(corev1.Service) },
	"v1/ServiceAccount":                             func() any { return new(corev1.ServiceAccount) },
	"v1/Namespace":                                  func() any { return new(corev1.Namespace) },
	"v1/ConfigMap":                                  func() any { return new(corev1.ConfigMap) },
	"v1/Secret":                                     func() any { return new(corev1.Secret) },
	"autoscaling/v2/HorizontalPodAutoscaler":        func() any { return new(autoscalingv2.HorizontalPodAutoscaler) },
	"policy/v1/PodDisruptionBudget":                 func() any { return new(policyv1.PodDisruptionBudget) },
	"networking.k8s.io/v1/Ingress":                  func() any { return new(networkingv1.Ingress) },
	"networking.k8s.io/v1/NetworkPolicy":            func() any { return new(networkingv1.NetworkPolicy) },
	"dapr.io/v1alpha1/Component":                    func() any { return new(componentsapi.Component) },
	"dapr.io/v1alpha1/Configuration":                func() any { return new(configurationapi.Configuration) },
	"dapr.io/v1alpha1/Resiliency":                   func() any { return new(resiliencyapi.Resiliency) },
	"kustomize.config.k8s.io/v1beta1/Kustomization": func() any { return new(types.Kustomization) },
	"kustomize.config.k8s.io/v1alpha1/Component":    func() any { return new(types.Kustomization) },
}

// isKustomization reports whether kustomize reads the file as a kustomization.
func isKustomization(file string) bool {
	for _, n := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		if path.Base(file) == n {
			return true
		}
	}
	return false
}

// readManifests returns every YAML document of the .yaml and .yml files
// under dirs of root (other files, such as azure.env or mosquitto.conf, are
// not Kubernetes objects).
func readManifests(t *testing.T, root string, dirs ...string) []manifest {
	t.Helper()
	var docs []manifest
	for _, dir := range dirs {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			rel = filepath.ToSlash(rel)
			if d.IsDir() {
				if skippedDirs[rel] {
					return filepath.SkipDir
				}
				return nil
			}
			if ext := path.Ext(rel); ext != ".yaml" && ext != ".yml" && !isKustomization(rel) {
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			ms, err := splitManifests(rel, data)
			if err != nil {
				return err
			}
			docs = append(docs, ms...)
			return nil
		})
		if errors.Is(err, fs.ErrNotExist) {
			continue // deploy/ may not exist yet; the tests that need it say so
		}
		require.NoError(t, err, "read %s", dir)
	}
	return docs
}

// splitManifests splits a YAML stream into its non-empty documents.
func splitManifests(file string, data []byte) ([]manifest, error) {
	r := k8syaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs []manifest
	for i := 0; ; i++ {
		raw, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s#%d: %w", file, i, err)
		}
		var top any
		if err := yaml.Unmarshal(raw, &top); err != nil {
			return nil, fmt.Errorf("%s#%d: %w", file, i, err)
		}
		m := manifest{file: file, index: i, raw: raw}
		switch v := top.(type) {
		case nil:
			continue // only comments
		case []any:
			m.list = true
		case map[string]any:
			m.apiVersion, _ = v["apiVersion"].(string)
			m.kind, _ = v["kind"].(string)
			if md, ok := v["metadata"].(map[string]any); ok {
				m.name, _ = md["name"].(string)
			}
		default:
			return nil, fmt.Errorf("%s#%d: a YAML scalar, not an object", file, i)
		}
		docs = append(docs, m)
	}
}

// listRoles returns, for the kustomizations among docs, the files they refer
// to that hold a YAML list rather than an object: "patch" for a JSON 6902
// patch, "replacements" for a list of replacements.
func listRoles(docs []manifest) map[string]string {
	roles := map[string]string{}
	for _, m := range docs {
		if !isKustomization(m.file) {
			continue
		}
		var k types.Kustomization
		if err := unmarshalStrict(m.raw, &k); err != nil {
			continue // reported by the decode check
		}
		dir := path.Dir(m.file)
		for _, p := range append(k.Patches, k.PatchesJson6902...) {
			if p.Path != "" {
				roles[path.Join(dir, p.Path)] = "patch"
			}
		}
		for _, r := range k.Replacements {
			if r.Path != "" {
				roles[path.Join(dir, r.Path)] = "replacements"
			}
		}
	}
	return roles
}

// jsonPatchOp is one RFC 6902 operation.
type jsonPatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	From  string `json:"from,omitempty"`
	Value any    `json:"value,omitempty"`
}

// newValue returns a pointer to the Go type of m's kind; role is what a
// kustomization uses a list document for.
func newValue(m manifest, role string) (any, error) {
	switch {
	case isKustomization(m.file) && !m.list:
		return new(types.Kustomization), nil
	case m.list && role == "patch":
		return new([]jsonPatchOp), nil
	case m.list && role == "replacements":
		return new([]types.Replacement), nil
	case m.list:
		return nil, errors.New("a YAML list that no kustomization uses as a JSON patch or replacements")
	case m.kind == "" || m.apiVersion == "":
		return nil, errors.New("no apiVersion or kind")
	}
	mk, ok := kinds[m.apiVersion+"/"+m.kind]
	if !ok {
		return nil, fmt.Errorf("unknown kind %s %s: add its Go type to kinds", m.apiVersion, m.kind)
	}
	return mk(), nil
}

// decodeStrict decodes m into the Go type of its kind, refusing unknown,
// duplicate and wrongly cased fields.
func decodeStrict(m manifest, role string) (any, error) {
	v, err := newValue(m, role)
	if err != nil {
		return nil, err
	}
	if err := unmarshalStrict(m.raw, v); err != nil {
		return nil, err
	}
	if ops, ok := v.(*[]jsonPatchOp); ok {
		for _, op := range *ops {
			switch op.Op {
			case "add", "remove", "replace", "move", "copy", "test":
			default:
				return nil, fmt.Errorf("JSON patch op %q", op.Op)
			}
		}
	}
	return v, nil
}

// unmarshalStrict decodes YAML as the API server decodes JSON: duplicate
// keys, unknown fields and fields in the wrong case are errors, each named
// by its path (sigs.k8s.io/json, which the API server uses).
func unmarshalStrict(raw []byte, v any) error {
	data, err := yaml.YAMLToJSONStrict(raw)
	if err != nil {
		return err
	}
	strictErrs, err := sigsjson.UnmarshalStrict(data, v)
	if err != nil {
		return err
	}
	return errors.Join(strictErrs...)
}
