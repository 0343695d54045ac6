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

	buf.Reset()
	child := quiet.WithFields(map[string]any{"client": "c2"})
	quiet.SetOutputLevel(logger.DebugLevel)
	child.Debugf("ping %d", 1)
	assert.Contains(t, buf.String(), `level=DEBUG msg="ping 1" component=telemetry client=c2`,
		"a level set on a logger holds for the loggers made from it")

	// Without an app logger records are dropped, and components asking
	// whether to format one are told not to.
	none := newKitLogger(nil, "x", slog.LevelDebug)
	assert.NotPanics(t, func() { none.Error("discarded without a logger") })
	assert.False(t, none.IsOutputLevelEnabled(logger.ErrorLevel))
}
