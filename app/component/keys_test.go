package component

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
			got, err := Component{Name: "statestore", Metadata: tt.metadata}.KeyPrefix(appID, tt.namespace)
			if tt.wantErr {
				require.ErrorIs(t, err, ErrKeySeparator)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
