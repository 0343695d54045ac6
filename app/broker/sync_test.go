package broker

import (
	"flag"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSyncFlag parses the policy with ParseSync and the way the app's
// -broker-sync flag does.
func TestSyncFlag(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want Sync // "" for an error
	}{
		{name: "default", want: SyncFsync},
		{name: "fsync", args: []string{"-broker-sync", "fsync"}, want: SyncFsync},
		{name: "none", args: []string{"-broker-sync", "none"}, want: SyncNone},
		{name: "empty", args: []string{"-broker-sync", ""}},
		{name: "upper case", args: []string{"-broker-sync", "NONE"}},
		{name: "unknown", args: []string{"-broker-sync", "nosync"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			var got Sync
			fs.TextVar(&got, "broker-sync", SyncFsync, "")

			err := fs.Parse(tt.args)

			if tt.want == "" {
				// flag keeps only the message of the error.
				assert.ErrorContains(t, err, ErrSync.Error())
				_, err = ParseSync(tt.args[1])
				assert.ErrorIs(t, err, ErrSync)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			if tt.args != nil {
				parsed, err := ParseSync(tt.args[1])
				require.NoError(t, err)
				assert.Equal(t, tt.want, parsed)
			}
		})
	}
}

func TestNewRefusesUnknownSync(t *testing.T) {
	_, err := New(Config{DataDir: t.TempDir(), Sync: "sometimes"}, nil)
	require.ErrorIs(t, err, ErrSync)
}
