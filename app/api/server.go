// Package api is Enviromon's HTTP interface: the device and calibration API,
// HTTPS ingest, health and metrics endpoints, and the dashboard's files.
package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

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
	HistoryReader
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
	// Negotiate returns a negotiation whose access token names user (sends
	// to the user reach the connection); "" for an anonymous one.
	Negotiate(ctx context.Context, user string) (notify.Negotiation, error)
}

// Check reports whether a dependency is ready; nil means ready.
type Check func(ctx context.Context) error

// Deps are what the handlers need. Routes whose dependency is nil are not
// registered.
type Deps struct {
	Ingest       Ingester
	Devices      DeviceReader
	Calibrations Calibrations
	Ready        map[string]Check // name → check, run by /readyz
	Negotiate    Negotiator       // POST /api/negotiate; nil without live updates
	Dashboard    http.FileSystem  // served at /; nil for none
	// Alerts serves /api/alert-rules and /api/alerts; nil for none.
	Alerts Alerts
	// Registry serves /api/registry/devices; nil for none.
	Registry DeviceRegistry
	// DeviceAuth checks the SAS tokens of HTTP ingest. RequireDeviceAuth
	// refuses ingest without one (401): the app sets it unless it listens
	// on loopback alone.
	DeviceAuth        DeviceAuthenticator
	RequireDeviceAuth bool
	// AllowedOrigins may call the API from another origin (a dashboard
	// deployed as a static website); none by default, never "*".
	AllowedOrigins []string
	// Auth verifies bearer tokens. With it, routes that change state need
	// a token (with WriteRole, when set) and negotiate needs one, whose
	// user the SignalR connection is bound to. nil leaves both open: the
	// app allows that only while it listens on loopback alone.
	Auth      Authenticator
	WriteRole string
	// ConnectSources are the origins, besides the page's own, that the
	// dashboard's Content-Security-Policy lets it connect to: the SignalR
	// service's, which negotiate hands out (ws: and wss: twins are added).
	ConnectSources []string
	// NegotiatePerMinute bounds negotiations per client address, per
	// minute and in a burst; 0 means DefaultNegotiatePerMinute.
	NegotiatePerMinute int
	// TrustedProxies are the addresses or CIDRs whose X-Forwarded-For
	// names the client (an ingress controller); none by default, so a
	// client cannot pick its own address for the rate limit.
	TrustedProxies []string
	Log            *slog.Logger
	// Metrics is served at GET /metrics; nil for none.
	Metrics prometheus.Gatherer
	// Tracing starts a span per API request, continuing the caller's
	// traceparent (daprd's, on a binding delivery); nil for none.
	Tracing trace.TracerProvider
	// Extra registers more routes (the sidecar binding route, negotiate).
	Extra func(r *gin.Engine)
}

// maxBody bounds request bodies: a telemetry payload's limit.
const maxBody = telemetry.MaxPayload

// NewRouter returns the gin engine with every route of deps.
func NewRouter(deps Deps) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(traceRequests(deps.Tracing)) // first, so that its span covers every other middleware
	log := deps.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := r.SetTrustedProxies(deps.TrustedProxies); err != nil {
		log.Error("trusted proxies ignored", "err", err) // the app's config checks them first
		_ = r.SetTrustedProxies(nil)
	}
	r.Use(recovery(log), requestLog(log), securityHeaders(deps.ConnectSources), cors(deps.AllowedOrigins), limitBody(maxBody))
	h := &handlers{deps: deps, log: log}

	r.GET("/healthz", h.healthz)
	r.GET("/readyz", h.readyz)
	if deps.Metrics != nil {
		r.GET("/metrics", serveMetrics(deps.Metrics, log))
	}
	api := r.Group("/api")
	if deps.Ingest != nil {
		api.POST("/telemetry", h.authenticateDevice, h.ingest) // a device's SAS token (deviceauth.go)
	}
	if deps.Devices != nil {
		api.GET("/devices", h.listDevices)
		api.GET("/devices/:id", h.getDevice)
		api.GET("/devices/:id/history", h.history)
		api.GET("/summary", h.summary)
		api.GET("/rejected", h.listRejected)
	}
	// Every route that changes state goes in writes (the device registry's
	// too): it takes a bearer token with the write role once auth is on.
	// Device ingest (SAS) and the sidecar's binding route (APP_API_TOKEN)
	// authenticate otherwise.
	writes := api.Group("", h.requireWrite)
	if deps.Calibrations != nil {
		api.GET("/calibration/:id", h.getCalibration)
		writes.PUT("/calibration/:id", h.putCalibration)
		writes.DELETE("/calibration/:id", h.deleteCalibration)
	}
	if deps.Registry != nil {
		// GET answers the device's keys: guarded as the writes are.
		writes.POST("/registry/devices", h.registerDevice) // write: needs the write guard
		writes.GET("/registry/devices/:id", h.getIdentity)
		writes.DELETE("/registry/devices/:id", h.deleteIdentity) // write: needs the write guard
	}
	if deps.Alerts != nil {
		h.alertRoutes(api, writes) // alerts.go
	}
	if deps.Negotiate != nil {
		perMinute := deps.NegotiatePerMinute
		if perMinute <= 0 {
			perMinute = DefaultNegotiatePerMinute
		}
		api.POST("/negotiate", limitPerClient(newClientLimiter(perMinute, maxClients, time.Now)), h.negotiate)
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
// telemetry rates. It logs the route, never the URL or the headers: they
// carry tokens (Authorization, dapr-api-token, SAS, access_token).
func requestLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		began := time.Now()
		c.Next()
		took := time.Since(began)
		if status := c.Writer.Status(); status >= 500 || took > 2*time.Second {
			// The request's context carries its span: the record gets
			// its trace id.
			log.WarnContext(c.Request.Context(), "request", "method", c.Request.Method, "path", c.FullPath(),
				"status", status, "took", took, "errors", c.Errors.String())
		}
	}
}

// recovery answers 500 to a handler's panic and logs it without the
// request: gin's own Recovery prints the request's headers in some cases,
// tokens included, and past the app's logger.
func recovery(log *slog.Logger) gin.HandlerFunc {
	return gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, v any) {
		log.ErrorContext(c.Request.Context(), "panic serving a request", "method", c.Request.Method, "path", c.FullPath(), "panic", v, "stack", string(debug.Stack()))
		c.AbortWithStatusJSON(http.StatusInternalServerError, errorBody{Error: http.StatusText(http.StatusInternalServerError)})
	})
}

func limitBody(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, n)
		c.Next()
	}
}
