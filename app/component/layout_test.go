package component

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckKeyLayout(t *testing.T) {
	sample := KeySample{
		Devices: [2][]string{{"device:a", "calibration:a"}, {"device:b", "calibration:b"}},
		Shared:  []string{"index:devices:0", "rejected:0"},
	}
	tests := []struct {
		name      string
		typ       string
		keyPrefix string // "" leaves the metadata out: daprd's default, appid
		sample    KeySample
		wantErr   string // "" for no error
	}{
		{name: "table storage, none: a partition per record", typ: "state.azure.tablestorage", keyPrefix: "none"},
		{name: "table storage, default appid", typ: "state.azure.tablestorage",
			wantErr: `would keep every device in partition "enviromon"`},
		{name: "table storage, name", typ: "state.azure.tablestorage", keyPrefix: "name",
			wantErr: `would keep every device in partition "statestore"`},
		{name: "table storage, custom prefix", typ: "state.azure.tablestorage", keyPrefix: "Fleet",
			wantErr: `partition "fleet"`},
		{name: "sqlite, name", typ: "state.sqlite", keyPrefix: "name"},
		{name: "redis, default", typ: "state.redis"},
		{name: "in-memory, none", typ: "state.in-memory", keyPrefix: "none"},
		{name: "prefix with the separator would collide", typ: "state.azure.tablestorage", keyPrefix: "a||b",
			wantErr: "must not contain ||"},
		{name: "key with the separator would collide", typ: "state.azure.tablestorage", keyPrefix: "none",
			sample: KeySample{Devices: [2][]string{{"device:a||x"}, {"device:b||x"}}}, wantErr: "must not contain ||"},
		{name: "empty key", typ: "state.sqlite", sample: KeySample{Shared: []string{""}}, wantErr: "empty key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Component{Name: "statestore", Type: tt.typ, Metadata: map[string]string{}}
			if tt.keyPrefix != "" {
				c.Metadata["keyPrefix"] = tt.keyPrefix
			}
			s := tt.sample
			if s.Devices[0] == nil && s.Shared == nil {
				s = sample
			}
			err := c.CheckKeyLayout("enviromon", "", s)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrKeyLayout)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

// TestPlace pins the Table Storage mapping of components-contrib v1.16.0
// (getPartitionAndRowKey) that the layout check relies on.
func TestPlace(t *testing.T) {
	table := Component{Type: "state.azure.tablestorage"}
	tests := []struct {
		stored string
		want   placement
	}{
		{"device:a", placement{Partition: "device:a"}},
		{"statestore||device:a", placement{Partition: "statestore", Row: "device:a"}},
		{"statestore||device:a||x", placement{Partition: "statestore"}},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, table.place(tt.stored), tt.stored)
	}
	assert.Equal(t, placement{Row: "statestore||device:a"}, Component{Type: "state.sqlite"}.place("statestore||device:a"))
}
