package signalr

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"

	"github.com/go-kit/log/level"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKitLogger(t *testing.T) {
	tests := []struct {
		name string
		log  func(kitLogger) error
		want map[string]any
	}{
		{"info with error", func(k kitLogger) error {
			return level.Info(k).Log("ts", "now", "event", "handshake", "error", errors.New("boom"), "hub", "signalr.serverless")
		}, map[string]any{"level": "INFO", "msg": "handshake", "error": "boom"}},
		{"debug", func(k kitLogger) error {
			return level.Debug(k).Log("event", "message send", "connection", "c1")
		}, map[string]any{"level": "DEBUG", "msg": "message send", "connection": "c1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			k := kitLogger{log: slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
			require.NoError(t, tt.log(k))
			var got map[string]any
			require.NoError(t, json.Unmarshal(buf.Bytes(), &got))
			delete(got, "time")
			assert.Equal(t, tt.want, got)
		})
	}
}
