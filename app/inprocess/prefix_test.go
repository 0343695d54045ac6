package inprocess

import (
	"testing"

	"github.com/dapr/components-contrib/state"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/component"
)

func TestKeyPrefix(t *testing.T) {
	tests := []struct {
		name      string
		metadata  map[string]string
		appID     string
		namespace string
		want      string
		wantErr   bool
	}{
		{name: "default is the app id", want: "enviromon||"},
		{name: "appid", metadata: map[string]string{"keyPrefix": "appid"}, want: "enviromon||"},
		{name: "appid without an app id", metadata: map[string]string{"keyPrefix": "appid"}, appID: "-", want: ""},
		{name: "name", metadata: map[string]string{"keyPrefix": "name"}, want: "statestore||"},
		{name: "none", metadata: map[string]string{"keyPrefix": "none"}, want: ""},
		{name: "namespace", metadata: map[string]string{"keyPrefix": "namespace"}, namespace: "prod", want: "prod.enviromon||"},
		{name: "namespace unset falls back to the app id", metadata: map[string]string{"keyPrefix": "namespace"}, want: "enviromon||"},
		{name: "custom, lower-cased as daprd does", metadata: map[string]string{"keyPrefix": "Fleet-A"}, want: "fleet-a||"},
		{name: "metadata name is case-insensitive", metadata: map[string]string{"KEYPREFIX": "NONE"}, want: ""},
		{name: "custom with the separator", metadata: map[string]string{"keyPrefix": "a||b"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			appID := "enviromon"
			if tt.appID == "-" {
				appID = ""
			}
			got, err := keyPrefix(tt.metadata, "statestore", appID, tt.namespace)
			if tt.wantErr {
				require.ErrorIs(t, err, errKeySeparator)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestStateKeyPrefix checks the stored key for each strategy through the
// component itself, which is what daprd hands the store.
func TestStateKeyPrefix(t *testing.T) {
	for strategy, stored := range map[string]string{
		"appid": "enviromon||dev1",
		"name":  "statestore||dev1",
		"none":  "dev1",
		"fleet": "fleet||dev1",
	} {
		t.Run(strategy, func(t *testing.T) {
			c := sqliteComponent(t)
			c.Metadata["keyPrefix"] = strategy
			s := openState(t, c)
			require.NoError(t, s.Set(t.Context(), "dev1", []byte(`"v"`), ""))
			raw, err := s.store.Get(t.Context(), &state.GetRequest{Key: stored})
			require.NoError(t, err)
			assert.Equal(t, `"v"`, string(raw.Data))
		})
	}

	t.Run("refused prefix", func(t *testing.T) {
		_, err := OpenState(t.Context(), component.Component{
			Name: "statestore", Type: "state.in-memory",
			Metadata: map[string]string{"keyPrefix": "a||b"},
		}, testAppID, nil)
		require.ErrorIs(t, err, errKeySeparator)
	})
}
