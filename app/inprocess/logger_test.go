package inprocess

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/dapr/kit/logger"
	"github.com/stretchr/testify/assert"
)

func TestKitLogger(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))

	quiet := newKitLogger(base, "telemetry", newSettings(nil).logLevel)
	quiet.Infof("Subscribing to topic %s", "devices/#")
	assert.Empty(t, buf.String(), "info is dropped by default")
	assert.False(t, quiet.IsOutputLevelEnabled(logger.InfoLevel))

	quiet.WithFields(map[string]any{"client": "c1"}).Warnf("connection lost: %v", "EOF")
	assert.Contains(t, buf.String(), `level=WARN msg="connection lost: EOF" component=telemetry client=c1`)

	buf.Reset()
	quiet.Fatalf("token: %s", "expired")
	assert.Contains(t, buf.String(), `level=ERROR msg="fatal: token: expired"`, "logged, and the test is still running")

	buf.Reset()
	loud := newKitLogger(base, "telemetry", newSettings([]Option{WithLogLevel(slog.LevelDebug)}).logLevel)
	loud.Debug("Processing MQTT message")
	assert.Contains(t, buf.String(), `level=DEBUG msg="Processing MQTT message"`)

	newKitLogger(nil, "x", slog.LevelDebug).Error("discarded without a logger")
}
