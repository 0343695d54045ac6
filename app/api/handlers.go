package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/enviromon/enviromon/app/pipeline"
	"github.com/enviromon/enviromon/app/telemetry"
)

type handlers struct {
	deps Deps
	log  *slog.Logger
}

// ingest is HTTPS device ingest, like IoT Hub's HTTP device endpoint: the
// body is one telemetry object or an array; the optional Message-Id header
// de-duplicates a resent request whose payload has no message id. A body
// that is not telemetry at all is answered 400 with the reason (and
// dead-lettered, as the pipeline does for every transport); a body over
// telemetry.MaxPayload is answered 413 before it reaches the pipeline.
// Readings that decode but are invalid are answered 200, with one reason
// each.
func (h *handlers) ingest(c *gin.Context) {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		h.fail(c, fmt.Errorf("%w: read body: %w", errBadRequest, err))
		return
	}
	res, err := h.deps.Ingest.Process(c.Request.Context(), pipeline.Message{
		Payload:   body,
		DeviceID:  c.GetString(deviceKey), // the SAS token's device, if any
		MessageID: c.GetHeader("Message-Id"),
	})
	if err == nil {
		err = res.Refused // dead-lettered, and still the client's mistake
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, res)
}

func (h *handlers) listDevices(c *gin.Context) {
	pg, err := parsePage(c.Query("limit"), c.Query("cursor"))
	if err != nil {
		h.fail(c, err)
		return
	}
	ds, next, err := h.deps.Devices.DevicePage(c.Request.Context(), pg.after, pg.limit)
	if err != nil {
		h.fail(c, err)
		return
	}
	if next != "" {
		c.Header("Link", nextLink(c.Request.URL.Path, pg.limit, next))
	}
	c.JSON(http.StatusOK, ds)
}

// summary answers the fleet's figures without the device list:
// ?offlineAfter= (a Go duration, 1s to 24h, default 60s as the dashboard's)
// says how recent "online" is.
func (h *handlers) summary(c *gin.Context) {
	offlineAfter := defaultOfflineAfter
	if v := c.Query("offlineAfter"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second || d > 24*time.Hour {
			h.fail(c, fmt.Errorf("%w: offlineAfter must be a duration from 1s to 24h, such as 90s", errBadRequest))
			return
		}
		offlineAfter = d
	}
	f, err := h.deps.Devices.Fleet(c.Request.Context(), offlineAfter)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, f)
}

// defaultOfflineAfter matches the dashboard's default offline threshold.
const defaultOfflineAfter = 60 * time.Second

func (h *handlers) getDevice(c *gin.Context) {
	d, err := h.deps.Devices.Device(c.Request.Context(), c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, d)
}

func (h *handlers) listRejected(c *gin.Context) {
	rs, err := h.deps.Devices.Rejected(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	if rs == nil {
		rs = []pipeline.Rejection{}
	}
	c.JSON(http.StatusOK, rs)
}

// calibrationBody is the calibration API's JSON. Field names match
// case-insensitively, so the original system's PascalCase names work too.
type calibrationBody struct {
	TemperatureSlope      *float64 `json:"temperatureSlope"`
	TemperatureYIntercept *float64 `json:"temperatureYIntercept"`
	HumiditySlope         *float64 `json:"humiditySlope"`
	HumidityYIntercept    *float64 `json:"humidityYIntercept"`
	PressureSlope         *float64 `json:"pressureSlope"`
	PressureYIntercept    *float64 `json:"pressureYIntercept"`
}

func (b calibrationBody) domain() telemetry.Calibration { return telemetry.Calibration(b) }

func (h *handlers) getCalibration(c *gin.Context) {
	cal, err := h.deps.Calibrations.Calibration(c.Request.Context(), c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, calibrationBody(cal))
}

func (h *handlers) putCalibration(c *gin.Context) {
	var body calibrationBody
	dec := json.NewDecoder(c.Request.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		h.fail(c, fmt.Errorf("%w: calibration must be a JSON object of finite numbers: %w", errBadRequest, err))
		return
	}
	if dec.More() {
		h.fail(c, fmt.Errorf("%w: one JSON object expected", errBadRequest))
		return
	}
	if err := h.deps.Calibrations.SetCalibration(c.Request.Context(), c.Param("id"), body.domain()); err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, body)
}

func (h *handlers) deleteCalibration(c *gin.Context) {
	if err := h.deps.Calibrations.DeleteCalibration(c.Request.Context(), c.Param("id")); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// negotiate is the first call of a SignalR client built with the URL
// {app}/api: it answers with the service URL and an access token. With
// auth on, a request that brings a bearer token must bring a valid one
// (any role), and the access token names its user, so the connection is
// bound to them. A request without one gets an anonymous viewer's
// connection: the live stream carries what GET /api/devices serves without
// a token, and the dashboard has no sign-in yet.
func (h *handlers) negotiate(c *gin.Context) {
	var user string
	if h.deps.Auth != nil && c.GetHeader("Authorization") != "" {
		p, ok := h.authenticate(c)
		if !ok {
			return
		}
		user = p.User
	}
	n, err := h.deps.Negotiate.Negotiate(c.Request.Context(), user)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, n)
}

func (h *handlers) healthz(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) }

// readyz runs every readiness check with a short deadline and names the
// failing ones.
func (h *handlers) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	failing := map[string]string{}
	for name, check := range h.deps.Ready {
		if err := check(ctx); err != nil {
			failing[name] = err.Error()
		}
	}
	if len(failing) > 0 {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "not ready", "failing": failing})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}
