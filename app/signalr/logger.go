package signalr

import (
	"context"
	"fmt"
	"log/slog"
)

// kitLogger lets the library log (it wants a go-kit log.Logger, and panics
// without one) through the service's slog.Logger.
type kitLogger struct {
	log *slog.Logger
}

// Log takes go-kit key/value pairs. The library tags them with a "level"
// value (info or debug) and a "ts" that slog adds itself.
func (k kitLogger) Log(keyvals ...any) error {
	level := slog.LevelInfo
	attrs := make([]slog.Attr, 0, len(keyvals)/2)
	message := "signalr"
	for i := 0; i+1 < len(keyvals); i += 2 {
		key := fmt.Sprint(keyvals[i])
		val := keyvals[i+1]
		switch key {
		case "ts", "hub": // slog has the time; the service names the hub

		case "level":
			if fmt.Sprint(val) == "debug" {
				level = slog.LevelDebug
			}
		case "event":
			message = fmt.Sprint(val)
		default:
			if err, ok := val.(error); ok {
				val = err.Error()
			} else if s, ok := val.(fmt.Stringer); ok {
				val = s.String()
			}
			attrs = append(attrs, slog.Any(key, val))
		}
	}
	k.log.LogAttrs(context.Background(), level, message, attrs...)
	return nil
}
