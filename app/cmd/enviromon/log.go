package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/enviromon/enviromon/app/tracing"
)

// newLogger writes JSON lines to w from level up, one object per record,
// with the trace_id and span_id of the record's context when it carries a
// span (records logged with InfoContext and friends): a log line leads to
// its trace, and a trace to its log lines.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(tracing.LogHandler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})))
}

// quiet passes only warnings and errors of a chatty part to log.
func quiet(log *slog.Logger, part string) *slog.Logger {
	return slog.New(levelFloor{log.Handler(), slog.LevelWarn}).With("part", part)
}

type levelFloor struct {
	slog.Handler
	min slog.Level
}

func (h levelFloor) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h levelFloor) WithAttrs(as []slog.Attr) slog.Handler {
	return levelFloor{h.Handler.WithAttrs(as), h.min}
}

func (h levelFloor) WithGroup(name string) slog.Handler {
	return levelFloor{h.Handler.WithGroup(name), h.min}
}
