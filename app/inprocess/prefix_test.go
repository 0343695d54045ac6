package inprocess

import (
	"testing"

	"github.com/dapr/components-contrib/state"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/component"
)

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
		require.ErrorIs(t, err, component.ErrKeySeparator)
	})
}
