package deploy

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// object is a manifest decoded strictly into its Go type (a pointer).
type object struct {
	manifest
	value any
}

// decode decodes docs for the checks that read them: strictly where it
// can, else leniently (TestManifestsDecodeStrictly and TestOverlaysBuild
// report that), leaving out documents of unknown kinds.
func decode(docs []manifest) []object {
	roles := listRoles(docs)
	objs := make([]object, 0, len(docs))
	for _, m := range docs {
		v, err := decodeStrict(m, roles[m.file])
		if err != nil {
			if v, err = newValue(m, roles[m.file]); err != nil {
				continue
			}
			if data, err := yaml.YAMLToJSON(m.raw); err != nil || sigsjson.UnmarshalCaseSensitivePreserveInts(data, v) != nil {
				continue
			}
		}
		objs = append(objs, object{manifest: m, value: v})
	}
	return objs
}

// render builds the kustomization in dir (relative to root) as `kubectl
// apply -k` would, and returns its output objects.
func render(t *testing.T, root, dir string) []manifest {
	t.Helper()
	resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(root, dir))
	require.NoError(t, err, "kustomize build %s", dir)
	docs := make([]manifest, 0, resMap.Size())
	for i, r := range resMap.Resources() {
		raw, err := r.AsYAML()
		require.NoError(t, err, "%s: resource %d", dir, i)
		docs = append(docs, manifest{file: dir + " (rendered)", index: i, raw: raw,
			apiVersion: r.GetApiVersion(), kind: r.GetKind(), name: r.GetName()})
	}
	return docs
}

// overlays are the kustomize overlays that reach a cluster.
var overlays = []string{"deploy/overlays/aks", "deploy/overlays/local"}

// requireOverlay skips the test while an overlay is not written yet, so that
// the checks of components/ still run; once deploy/ exists a missing overlay
// fails.
func requireOverlay(t *testing.T, root, dir string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(root, dir, "kustomization.yaml")); err != nil {
		if _, errDeploy := os.Stat(filepath.Join(root, "deploy")); errDeploy != nil {
			t.Skipf("%s: no deploy/ yet", dir)
		}
		t.Fatalf("%s: no kustomization.yaml: %v", dir, err)
	}
}

// renderedObjects renders and decodes an overlay.
func renderedObjects(t *testing.T, root, dir string) []object {
	t.Helper()
	requireOverlay(t, root, dir)
	return decode(render(t, root, dir))
}

// objectsOf returns the objects of Go type T.
func objectsOf[T any](objs []object) []*T {
	var out []*T
	for _, o := range objs {
		if v, ok := o.value.(*T); ok {
			out = append(out, v)
		}
	}
	return out
}

// named returns the one object of type T with that name, failing otherwise.
func named[T any](t *testing.T, objs []object, name string) *T {
	t.Helper()
	var found []*T
	for _, v := range objectsOf[T](objs) {
		if any(v).(metav1.Object).GetName() == name {
			found = append(found, v)
		}
	}
	var zero T
	require.Len(t, found, 1, "want exactly one %T named %q", zero, name)
	return found[0]
}

// copyTree copies the folders dirs of src into a new temporary root, for
// tests that break a copy of the repository's files.
func copyTree(t *testing.T, src string, dirs ...string) string {
	t.Helper()
	dst := t.TempDir()
	for _, dir := range dirs {
		err := filepath.WalkDir(filepath.Join(src, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(src, p)
			if err != nil {
				return err
			}
			if d.IsDir() {
				return os.MkdirAll(filepath.Join(dst, rel), 0o755)
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
		})
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		require.NoError(t, err)
	}
	return dst
}

// rewrite replaces old with new in root/file, failing if old is not there.
func rewrite(t *testing.T, root, file, old, new string) {
	t.Helper()
	p := filepath.Join(root, file)
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Contains(t, string(data), old, "%s: the text to break is gone; update the test", file)
	require.NoError(t, os.WriteFile(p, []byte(strings.Replace(string(data), old, new, 1)), 0o644))
}
