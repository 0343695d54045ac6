// Package api is Enviromon's HTTP interface: the device and calibration API,
// HTTPS ingest, health and metrics endpoints, and the dashboard's files.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/enviromon/enviromon/app/notify"
	"github.com/enviromon/enviromon/app/pipeline"
	"github.com/enviromon/enviromon/app/telemetry"
)

// Ingester commits telemetry messages.
type Ingester interface {
	Process(ctx context.Context, m pipeline.Message) (pipeline.Result, error)
}

// DeviceReader reads committed device state and rejections.
type DeviceReader interface {
	// DevicePage returns up to limit devices with ids after after, sorted
	// by id, and the next page's cursor ("" when none remain).
	DevicePage(ctx context.Context, after string, limit int) ([]telemetry.Summary, string, error)
	Device(ctx context.Context, id string) (telemetry.Summary, error)
	// Fleet adds up every device; online means seen within offlineAfter.
	Fleet(ctx context.Context, offlineAfter time.Duration) (telemetry.Fleet, error)
	Rejected(ctx context.Context) ([]pipeline.Rejection, error)
}

// Calibrations reads and changes calibration records.
type Calibrations interface {
	Calibration(ctx context.Context, id string) (telemetry.Calibration, error)
	SetCalibration(ctx context.Context, id string, cal telemetry.Calibration) error
	DeleteCalibration(ctx context.Context, id string) error
}

// Negotiator hands a browser what it needs to connect to the SignalR
// service: {url, accessToken}.
type Negotiator interface {
	Negotiate(ctx context.Context) (notify.Negotiation, error)
}

// Check reports whether a dependency is ready; nil means ready.
type Check func(ctx context.Context) error

// Deps are what the handlers need. Routes whose dependency is nil are not
// registered.
type Deps struct {
	Ingest       Ingester
	Devices      DeviceReader
	Calibrations Calibrations
	Metrics      func() pipeline.Snapshot
	Ready        map[string]Check // name → check, run by /readyz
	Negotiate    Negotiator       // POST /api/negotiate; nil without live updates
	Dashboard    http.FileSystem  // served at /; nil for none
	// AllowedOrigins may call the API from another origin (a dashboard
	// deployed as a static website); none by default.
	AllowedOrigins []string
	Log            *slog.Logger
	// Extra registers more routes (the sidecar binding route, negotiate).
	Extra func(r *gin.Engine)
}

// maxBody bounds request bodies: a telemetry payload's limit.
const maxBody = telemetry.MaxPayload

// NewRouter returns the gin engine with every route of deps.
func NewRouter(deps Deps) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	log := deps.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r.Use(gin.Recovery(), requestLog(log), cors(deps.AllowedOrigins), limitBody(maxBody))
	h := &handlers{deps: deps, log: log}

	r.GET("/healthz", h.healthz)
	r.GET("/readyz", h.readyz)
	if deps.Metrics != nil {
		r.GET("/metrics", h.metrics)
	}
	api := r.Group("/api")
	if deps.Ingest != nil {
		api.POST("/telemetry", h.ingest)
	}
	if deps.Devices != nil {
		api.GET("/devices", h.listDevices)
		api.GET("/devices/:id", h.getDevice)
		api.GET("/summary", h.summary)
		api.GET("/rejected", h.listRejected)
	}
	if deps.Calibrations != nil {
		api.GET("/calibration/:id", h.getCalibration)
		api.PUT("/calibration/:id", h.putCalibration)
		api.DELETE("/calibration/:id", h.deleteCalibration)
	}
	if deps.Negotiate != nil {
		api.POST("/negotiate", h.negotiate)
	}
	if deps.Extra != nil {
		deps.Extra(r)
	}
	if deps.Dashboard != nil {
		files := http.FileServer(deps.Dashboard)
		r.NoRoute(func(c *gin.Context) {
			if c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead {
				c.JSON(http.StatusNotFound, errorBody{Error: "not found"})
				return
			}
			files.ServeHTTP(c.Writer, c.Request)
		})
	}
	return r
}

// requestLog logs server errors and slow requests; the rest is noise at
// telemetry rates.
func requestLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		began := time.Now()
		c.Next()
		took := time.Since(began)
		if status := c.Writer.Status(); status >= 500 || took > 2*time.Second {
			log.Warn("request", "method", c.Request.Method, "path", c.FullPath(),
				"status", status, "took", took, "errors", c.Errors.String())
		}
	}
}

func limitBody(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, n)
		c.Next()
	}
}
