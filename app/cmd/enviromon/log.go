package main

import (
	"context"
	"log/slog"
)

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
