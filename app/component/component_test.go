package component_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/component"
)

func TestRedacted(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "c.yaml"), []byte(`apiVersion: dapr.io/v1alpha1
kind: Component
metadata: {name: mixed}
spec:
  type: state.redis
  version: v1
  metadata:
  - {name: redisHost, value: "127.0.0.1:6379"}
  - {name: redisPassword, value: hunter2}
  - {name: accountKey, value: a2V5}
  - {name: connectionString, value: "Endpoint=https://x;AccessKey=abc;"}
  - {name: sasToken, value: sv=2020}
  - {name: clientSecret, value: s3cr3t}
  - {name: keyPrefix, value: enviromon}
  - {name: url, value: "tcp://user:pa55@127.0.0.1:1883"}
  - {name: broker, value: "tcp://user:pa^55@127.0.0.1:1883"}
  - name: plainName
    secretKeyRef: {name: FROM_SECRET}
`), 0o600))
	cs, err := component.LoadDir(dir, component.Options{Getenv: func(k string) string {
		if k == "FROM_SECRET" {
			return "shh"
		}
		return ""
	}})
	require.NoError(t, err)
	require.Len(t, cs, 1)

	got := fmt.Sprint(cs[0])
	assert.Equal(t, got, cs[0].Redacted(), "String is the redacted form")
	for _, secret := range []string{"hunter2", "a2V5", "abc", "sv=2020", "s3cr3t", "pa55", "pa^55", "shh"} {
		assert.NotContains(t, got, secret)
	}
	for _, visible := range []string{`mixed (state.redis/v1)`, `redisHost: "127.0.0.1:6379"`, `keyPrefix: "enviromon"`, `url: "tcp://user:xxxxx@127.0.0.1:1883"`, `broker: "***"`} {
		assert.Contains(t, got, visible)
	}
	assert.Equal(t, "shh", cs[0].Metadata["plainName"], "redaction does not change the values")
}

func TestIsSecretName(t *testing.T) {
	for name, want := range map[string]bool{
		"accountKey": true, "storageAccountKey": true, "AccessKey": true, "redisPassword": true,
		"connectionString": true, "storageConnectionString": true, "sasToken": true, "clientSecret": true,
		"keyPrefix": false, "accountName": false, "url": false, "consumerID": false, "tableName": false,
	} {
		assert.Equal(t, want, component.IsSecretName(name), name)
	}
}
