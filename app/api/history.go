package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/enviromon/enviromon/app/telemetry"
)

// HistoryReader reads a device's downsampled history.
type HistoryReader interface {
	// History returns the non-empty buckets of metric for device id that
	// start in [from, to), in time order. Errors wrap
	// telemetry.ErrHistoryQuery for a query it cannot answer (a bad range
	// or step, or one outside the retention) and pipeline.ErrNotFound for
	// an unknown device.
	History(ctx context.Context, id string, metric telemetry.Metric, from, to time.Time, step time.Duration) ([]telemetry.Point, error)
}

// historyBody is the answer of GET /api/devices/{id}/history.
type historyBody struct {
	DeviceID string      `json:"deviceId"`
	Metric   string      `json:"metric"`
	Step     string      `json:"step"`
	Points   []pointBody `json:"points"`
}

// pointBody is one bucket: its start, min, average, max and count.
type pointBody struct {
	T   time.Time `json:"t"`
	Min float64   `json:"min"`
	Avg float64   `json:"avg"`
	Max float64   `json:"max"`
	N   int64     `json:"n"`
}

// history answers GET /api/devices/{id}/history?metric=&from=&to=&step=:
// the buckets of one metric that start in [from, to) (RFC 3339 times), in
// time order, empty ones left out. step is 1m (at most 48 h a request) or
// 1h (at most 31 days). A bad metric, step or time, a range backwards, too
// long or wholly outside the retention is a 400 with the reason; an
// unknown device a 404.
func (h *handlers) history(c *gin.Context) {
	metric, err := telemetry.ParseMetric(c.Query("metric"))
	if err != nil {
		h.fail(c, err)
		return
	}
	step, err := telemetry.ParseStep(c.Query("step"))
	if err != nil {
		h.fail(c, err)
		return
	}
	from, err := parseTime("from", c.Query("from"))
	if err != nil {
		h.fail(c, err)
		return
	}
	to, err := parseTime("to", c.Query("to"))
	if err != nil {
		h.fail(c, err)
		return
	}
	points, err := h.deps.Devices.History(c.Request.Context(), c.Param("id"), metric, from, to, step)
	if err != nil {
		h.fail(c, err)
		return
	}
	body := historyBody{DeviceID: c.Param("id"), Metric: string(metric), Step: c.Query("step"), Points: make([]pointBody, len(points))}
	for i, p := range points {
		body.Points[i] = pointBody(p)
	}
	c.JSON(http.StatusOK, body)
}

// parseTime reads an RFC 3339 query time.
func parseTime(name, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return t, fmt.Errorf("%w: %s must be an RFC 3339 time such as 2025-03-01T07:00:00Z, not %.40q", telemetry.ErrHistoryQuery, name, v)
	}
	return t, nil
}
