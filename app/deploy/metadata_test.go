package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	azauth "github.com/dapr/components-contrib/common/authentication/azure"
	componentsapi "github.com/dapr/dapr/pkg/apis/components/v1alpha1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// contribVersion is the components-contrib release whose metadata.yaml files
// name the keys each component type reads: the one daprd 1.16.0 is built
// with, and the one go.mod requires.
const contribVersion = "v1.16.0"

// daprdNames are metadata names daprd itself reads for every component of a
// kind, so no metadata.yaml lists them. The key is the name in lower case.
var daprdNames = map[string]map[string]string{
	"state": {
		// dapr@v1.16.0 pkg/components/state/state_config.go:26 (strategyKey),
		// compared in lower case at :50.
		"keyprefix": "keyPrefix",
		// dapr@v1.16.0 pkg/runtime/processor/state/state.go:36
		// (PropertyKeyActorStateStore), compared in lower case at :121.
		"actorstatestore": "actorStateStore",
	},
	"bindings": {
		// dapr@v1.16.0 pkg/runtime/processor/binding/binding.go:40
		// (ComponentDirection), compared with EqualFold at :235.
		"direction": "direction",
		// dapr@v1.16.0 pkg/runtime/processor/binding/binding.go:185: compared
		// case-sensitively, see exactNames.
		"route": "route",
	},
}

// backOffNames are the retry settings a component type decodes with kit's
// retry.DecodeConfigWithPrefix(cfg, metadata, "backOff") beside its own
// metadata, so its metadata.yaml does not list them: "backOff" followed by
// a kit@v0.16.1 retry.Config field (retry/retry.go:40-55).
var backOffNames = map[string]bool{
	// components-contrib@v1.16.0 common/component/azure/eventhubs/eventhubs.go:115
	"bindings.azure.eventhubs": true,
}

var backOffFields = []string{"Policy", "Duration", "InitialInterval", "RandomizationFactor", "Multiplier",
	"MaxInterval", "MaxElapsedTime", "MaxRetries"}

// exactNames are names compared case-sensitively: any other spelling is
// silently ignored. kit's config.PrefixedBy matches the "backOff" prefix
// case-sensitively.
var exactNames = map[string]bool{"route": true, "backOffPolicy": true, "backOffDuration": true,
	"backOffInitialInterval": true, "backOffRandomizationFactor": true, "backOffMultiplier": true,
	"backOffMaxInterval": true, "backOffMaxElapsedTime": true, "backOffMaxRetries": true}

// azureADKeys are the MetadataKeys entries of components-contrib's Azure AD
// authentication (common/authentication/azure/metadata-properties.go); its
// storage entries (accountName, endpoint...) are not authentication and
// must come from the component's own metadata.yaml.
var azureADKeys = []string{"Certificate", "CertificateFile", "CertificatePassword", "ClientID",
	"ClientSecret", "TenantID", "AzureEnvironment", "AzureAuthMethods"}

// metadataField is an entry of a metadata.yaml list.
type metadataField struct {
	Name string `json:"name"`
}

// componentSchema is the part of a components-contrib metadata.yaml that
// says which metadata names a component type reads.
type componentSchema struct {
	Type                   string `json:"type"`
	Name                   string `json:"name"`
	Version                string `json:"version"`
	Metadata               []metadataField
	AuthenticationProfiles []struct {
		Metadata []metadataField `json:"metadata"`
	} `json:"authenticationProfiles"`
	BuiltinAuthenticationProfiles []struct {
		Name     string          `json:"name"`
		Metadata []metadataField `json:"metadata"`
	} `json:"builtinAuthenticationProfiles"`
}

// contribDir returns where the module cache holds components-contrib at the
// version go.mod requires, checking it is contribVersion.
func contribDir(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-json", "github.com/dapr/components-contrib")
	cmd.Dir = repoRoot(t)
	out, err := cmd.Output()
	require.NoError(t, err, "go list -m github.com/dapr/components-contrib")
	var mod struct{ Version, Dir string }
	require.NoError(t, json.Unmarshal(out, &mod))
	require.Equal(t, contribVersion, mod.Version,
		"go.mod requires another components-contrib: check the metadata names (and daprd's version) against it, then update contribVersion")
	require.NotEmpty(t, mod.Dir, "components-contrib %s is not in the module cache: go mod download github.com/dapr/components-contrib", mod.Version)
	return mod.Dir
}

// allowedNames returns the metadata names, in lower case, that a component
// of this type and version reads, with the name as spelt by its source.
func allowedNames(dir, typ, version string) (map[string]string, error) {
	kind, name, ok := strings.Cut(typ, ".")
	if !ok {
		return nil, fmt.Errorf("type %q: want <kind>.<name>", typ)
	}
	file := filepath.Join(dir, kind, filepath.FromSlash(strings.ReplaceAll(name, ".", "/")), "metadata.yaml")
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("type %q: no metadata.yaml in components-contrib %s to check its metadata names against: %w", typ, contribVersion, err)
	}
	var s componentSchema
	if err := yaml.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if s.Type != kind || s.Name != name || s.Version != version {
		return nil, fmt.Errorf("type %q version %q: %s describes %s.%s %s", typ, version, file, s.Type, s.Name, s.Version)
	}
	names := map[string]string{}
	add := func(fs []metadataField) {
		for _, f := range fs {
			names[strings.ToLower(f.Name)] = f.Name
		}
	}
	add(s.Metadata)
	for _, p := range s.AuthenticationProfiles {
		add(p.Metadata)
	}
	for _, p := range s.BuiltinAuthenticationProfiles {
		add(p.Metadata)
		if p.Name != "azuread" {
			continue
		}
		for _, k := range azureADKeys {
			aliases, ok := azauth.MetadataKeys[k]
			if !ok {
				return nil, fmt.Errorf("components-contrib azure.MetadataKeys has no %q any more: update azureADKeys", k)
			}
			for _, a := range aliases {
				names[strings.ToLower(a)] = a
			}
		}
	}
	for lower, n := range daprdNames[kind] {
		names[lower] = n
	}
	if backOffNames[typ] {
		for _, f := range backOffFields {
			names[strings.ToLower("backOff"+f)] = "backOff" + f
		}
	}
	return names, nil
}

// unknownMetadata returns a message for every metadata name of c that its
// component type does not read.
func unknownMetadata(dir, where string, c *componentsapi.Component) []string {
	names, err := allowedNames(dir, c.Spec.Type, c.Spec.Version)
	if err != nil {
		return []string{fmt.Sprintf("%s: Component %q: %v", where, c.Name, err)}
	}
	var bad []string
	for _, item := range c.Spec.Metadata {
		known, ok := names[strings.ToLower(item.Name)]
		switch {
		case !ok:
			valid := make([]string, 0, len(names))
			for _, n := range names {
				valid = append(valid, n)
			}
			sort.Strings(valid)
			bad = append(bad, fmt.Sprintf("%s: Component %q (%s): spec.metadata name %q is read by neither %s %s nor daprd; known: %s",
				where, c.Name, c.Spec.Type, item.Name, c.Spec.Type, contribVersion, strings.Join(valid, ", ")))
		case exactNames[known] && item.Name != known:
			bad = append(bad, fmt.Sprintf("%s: Component %q: daprd reads %q only in that spelling, not %q", where, c.Name, known, item.Name))
		}
	}
	return bad
}

// componentsUnder returns the Components of the repository's components/
// and of every overlay's output, keyed by where they come from.
func componentsUnder(t *testing.T, root string) map[string][]*componentsapi.Component {
	t.Helper()
	all := map[string][]*componentsapi.Component{}
	for _, o := range decode(readManifests(t, root, "components")) {
		if c, ok := o.value.(*componentsapi.Component); ok {
			all[o.file] = append(all[o.file], c)
		}
	}
	for _, dir := range overlays {
		if _, err := os.Stat(filepath.Join(root, dir, "kustomization.yaml")); err != nil {
			continue // TestOverlaysBuild reports a missing overlay
		}
		all[dir+" (rendered)"] = objectsOf[componentsapi.Component](decode(render(t, root, dir)))
	}
	return all
}

// TestComponentMetadataNames: components-contrib decodes metadata into a
// struct and ignores names it has no field for, so a misspelt key
// (consumerId2) silently leaves the default in place. Every name must be one
// the component type reads; case does not matter, as in components-contrib.
func TestComponentMetadataNames(t *testing.T) {
	root, dir := repoRoot(t), contribDir(t)
	all := componentsUnder(t, root)
	require.NotEmpty(t, all)
	for where, cs := range all {
		for _, c := range cs {
			t.Run(where+"/"+c.Name, func(t *testing.T) {
				assert.Empty(t, unknownMetadata(dir, where, c))
			})
		}
	}
}

func TestComponentMetadataNamesRefuse(t *testing.T) {
	dir := contribDir(t)
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"misspelt key", `
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: telemetry}
spec:
  type: bindings.mqtt3
  version: v1
  metadata:
    - {name: url, value: "tcp://127.0.0.1:1883"}
    - {name: consumerId2, value: "{podName}"}
`, `spec.metadata name "consumerId2" is read by neither`},
		{"type without metadata.yaml", `
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: x}
spec: {type: bindings.nope, version: v1}
`, "no metadata.yaml in components-contrib"},
		{"wrong version", `
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: x}
spec: {type: state.redis, version: v2}
`, "describes state.redis v1"},
		{"route in another case", `
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: x}
spec:
  type: bindings.mqtt3
  version: v1
  metadata: [{name: Route, value: /in}]
`, `daprd reads "route" only in that spelling`},
		{"azure storage alias on a non-storage type", `
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: x}
spec:
  type: bindings.azure.signalr
  version: v1
  metadata: [{name: hub, value: h}, {name: storageAccountKey, value: k}]
`, `"storageAccountKey" is read by neither`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c componentsapi.Component
			require.NoError(t, unmarshalStrict([]byte(tc.yaml), &c))
			bad := unknownMetadata(dir, "test.yaml", &c)
			require.Len(t, bad, 1)
			assert.Contains(t, bad[0], tc.want)
		})
	}
}

func TestComponentMetadataNamesAccept(t *testing.T) {
	dir := contribDir(t)
	var c componentsapi.Component
	require.NoError(t, unmarshalStrict([]byte(`
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: statestore}
spec:
  type: state.azure.tablestorage
  version: v1
  metadata:
    - {name: ACCOUNTNAME, value: a}          # case does not matter to components-contrib
    - {name: azureClientId, value: id}       # Azure AD, from azure.MetadataKeys
    - {name: keyPrefix, value: none}         # daprd's own
`), &c))
	assert.Empty(t, unknownMetadata(dir, "test.yaml", &c))
}
