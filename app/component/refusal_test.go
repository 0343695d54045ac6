package component_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLoadDirRefusals: every refusal names the file and what is wrong.
func TestLoadDirRefusals(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		env     map[string]string
		wantErr string
	}{
		{
			name: "secretKeyRef to a missing variable",
			files: map[string]string{"tables.yaml": `apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: devices}
spec:
  type: state.azure.tablestorage
  metadata:
  - name: accountKey
    secretKeyRef: {name: TABLES_KEY, key: TABLES_KEY}
`},
			wantErr: `tables.yaml: component "devices", metadata "accountKey": secretKeyRef "TABLES_KEY": environment variable TABLES_KEY is not set`,
		},
		{
			name: "secretKeyRef key that local.env cannot answer",
			files: map[string]string{"tables.yaml": `apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: devices}
spec:
  type: state.azure.tablestorage
  metadata:
  - name: accountKey
    secretKeyRef: {name: storage, key: TABLES_KEY}
`},
			env:     map[string]string{"TABLES_KEY": "k", "storage": "k"},
			wantErr: `secretKeyRef "storage" has key "TABLES_KEY"`,
		},
		{
			name: "secret store of another type",
			files: map[string]string{"all.yaml": `apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: vault}
spec: {type: secretstores.azure.keyvault}
---
apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: devices}
spec:
  type: state.redis
  metadata:
  - name: redisPassword
    secretKeyRef: {name: REDIS_PASSWORD}
auth: {secretStore: vault}
`},
			env:     map[string]string{"REDIS_PASSWORD": "p"},
			wantErr: `auth.secretStore "vault" is a secretstores.azure.keyvault; in-process only secretstores.local.env secrets can be resolved`,
		},
		{
			name: "envRef to a denied variable",
			files: map[string]string{"mqtt.yaml": `apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: devices-in}
spec:
  type: bindings.mqtt3
  metadata: [{name: url, envRef: DAPR_API_TOKEN}]
`},
			wantErr: `envRef "DAPR_API_TOKEN"`,
		},
		{
			name: "duplicate names across files",
			files: map[string]string{
				"a.yaml": "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: statestore}\nspec: {type: state.sqlite}\n",
				"b.yaml": "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: statestore}\nspec: {type: state.redis}\n",
			},
			wantErr: `b.yaml: component "statestore" is also defined in`,
		},
		{
			name: "malformed YAML",
			files: map[string]string{
				"good.yaml": sqliteYAML,
				"bad.yaml":  "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: x\nspec: [\n",
			},
			wantErr: "bad.yaml: document 1:",
		},
		{
			name:    "component without type",
			files:   map[string]string{"x.yaml": "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: x}\n"},
			wantErr: `x.yaml: document 1: component "x" without spec.type`,
		},
		{
			name:    "initTimeout without a unit",
			files:   map[string]string{"x.yaml": "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: x}\nspec: {type: state.redis, initTimeout: 10}\n"},
			wantErr: `x.yaml: document 1: component "x": spec.initTimeout "10" is not a duration such as 5s or 1m30s`,
		},
		{
			name:    "initTimeout that is not a duration",
			files:   map[string]string{"x.yaml": "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: x}\nspec: {type: state.redis, initTimeout: soon}\n"},
			wantErr: `x.yaml: document 1: component "x": spec.initTimeout "soon" is not a duration such as 5s or 1m30s`,
		},
		{
			name:    "initTimeout of zero",
			files:   map[string]string{"x.yaml": "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: x}\nspec: {type: state.redis, initTimeout: 0s}\n"},
			wantErr: `x.yaml: document 1: component "x": spec.initTimeout "0s": must be more than 0`,
		},
		{
			name:    "ignoreErrors that is not a boolean",
			files:   map[string]string{"x.yaml": "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: x}\nspec: {type: state.redis, ignoreErrors: sometimes}\n"},
			wantErr: `spec.ignoreErrors of type bool`,
		},
		{
			name:    "invalid name",
			files:   map[string]string{"x.yaml": "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: a/b}\nspec: {type: state.sqlite}\n"},
			wantErr: `invalid component name "a/b"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.files, "enviromon", tt.env)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}
