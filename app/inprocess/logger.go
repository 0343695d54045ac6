package inprocess

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"

	"github.com/dapr/kit/logger"
)

// Option tunes how a component is opened.
type Option func(*settings)

type settings struct {
	logLevel  slog.Level
	namespace string
}

func newSettings(opts []Option) settings {
	s := settings{logLevel: slog.LevelWarn}
	for _, o := range opts {
		o(&s)
	}
	return s
}

// WithLogLevel sets the lowest level of the component's own log records
// that reach the app's logger. The default is slog.LevelWarn: components
// log connection chatter at info that the app reports better itself.
func WithLogLevel(l slog.Level) Option { return func(s *settings) { s.logLevel = l } }

// WithNamespace is the namespace for keyPrefix "namespace" (daprd reads it
// from NAMESPACE); empty means that strategy falls back to the app id, as
// in daprd.
func WithNamespace(ns string) Option { return func(s *settings) { s.namespace = ns } }

// kitLogger is the dapr kit Logger that components take, writing to slog.
type kitLogger struct {
	log *slog.Logger
	min *atomic.Int64 // slog.Level; shared with loggers made by WithFields
}

var _ logger.Logger = kitLogger{}

func newKitLogger(log *slog.Logger, c string, min slog.Level) kitLogger {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	k := kitLogger{log: log.With("component", c), min: new(atomic.Int64)}
	k.min.Store(int64(min))
	return k
}

func (k kitLogger) emit(level slog.Level, msg string) {
	if level < slog.Level(k.min.Load()) {
		return
	}
	k.log.Log(context.Background(), level, msg)
}

func toSlog(l logger.LogLevel) slog.Level {
	switch l {
	case logger.DebugLevel:
		return slog.LevelDebug
	case logger.InfoLevel:
		return slog.LevelInfo
	case logger.WarnLevel:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}

// EnableJSONOutput does nothing: the slog handler decides the format.
func (kitLogger) EnableJSONOutput(bool) {}

// SetAppID does nothing: the app's logger carries its own attributes.
func (kitLogger) SetAppID(string) {}

// SetOutputLevel changes the lowest level passed on.
func (k kitLogger) SetOutputLevel(l logger.LogLevel) { k.min.Store(int64(toSlog(l))) }

// SetOutput does nothing: the slog handler decides the destination.
func (kitLogger) SetOutput(io.Writer) {}

// IsOutputLevelEnabled reports whether records at l are passed on.
func (k kitLogger) IsOutputLevelEnabled(l logger.LogLevel) bool {
	return toSlog(l) >= slog.Level(k.min.Load()) && k.log.Enabled(context.Background(), toSlog(l))
}

// WithLogType returns k: the log type is daprd's, not the app's.
func (k kitLogger) WithLogType(string) logger.Logger { return k }

// WithFields returns a logger adding fields to every record.
func (k kitLogger) WithFields(fields map[string]any) logger.Logger {
	args := make([]any, 0, 2*len(fields))
	for f, v := range fields {
		args = append(args, f, v)
	}
	return kitLogger{log: k.log.With(args...), min: k.min}
}

func (k kitLogger) Info(args ...any) { k.emit(slog.LevelInfo, fmt.Sprint(args...)) }
func (k kitLogger) Infof(format string, args ...any) {
	k.emit(slog.LevelInfo, fmt.Sprintf(format, args...))
}
func (k kitLogger) Debug(args ...any) { k.emit(slog.LevelDebug, fmt.Sprint(args...)) }
func (k kitLogger) Debugf(format string, args ...any) {
	k.emit(slog.LevelDebug, fmt.Sprintf(format, args...))
}
func (k kitLogger) Warn(args ...any) { k.emit(slog.LevelWarn, fmt.Sprint(args...)) }
func (k kitLogger) Warnf(format string, args ...any) {
	k.emit(slog.LevelWarn, fmt.Sprintf(format, args...))
}
func (k kitLogger) Error(args ...any) { k.emit(slog.LevelError, fmt.Sprint(args...)) }
func (k kitLogger) Errorf(format string, args ...any) {
	k.emit(slog.LevelError, fmt.Sprintf(format, args...))
}

// Fatal logs at error level and does not exit: ending the process is main's
// decision. (Of the components here only redis's Entra ID token refresh
// calls it, after which that client stops working.)
func (k kitLogger) Fatal(args ...any) { k.emit(slog.LevelError, "fatal: "+fmt.Sprint(args...)) }

// Fatalf is Fatal with a format.
func (k kitLogger) Fatalf(format string, args ...any) {
	k.emit(slog.LevelError, "fatal: "+fmt.Sprintf(format, args...))
}
