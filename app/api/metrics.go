package api

import (
	"log/slog"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// serveMetrics serves g at GET /metrics in the Prometheus text format, through
// client_golang's own handler. A collector that fails is logged and left
// out; the rest is still served.
func serveMetrics(g prometheus.Gatherer, log *slog.Logger) gin.HandlerFunc {
	return gin.WrapH(promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:      promLog{log},
		ErrorHandling: promhttp.ContinueOnError,
	}))
}

// promLog adapts slog to promhttp.Logger.
type promLog struct{ log *slog.Logger }

// Println logs a collection error.
func (l promLog) Println(v ...any) { l.log.Warn("metrics", "err", slog.AnyValue(v)) }
