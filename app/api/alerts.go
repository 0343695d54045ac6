package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/enviromon/enviromon/app/alert"
)

// Alerts manages alert rules and lists and acknowledges alerts. Errors:
// alert.ErrInvalid (400), alert.ErrNotFound (404), alert.ErrExists and
// alert.ErrConflict (409).
type Alerts interface {
	Rules(ctx context.Context) ([]alert.Rule, error)
	Rule(ctx context.Context, id string) (alert.Rule, error)
	CreateRule(ctx context.Context, r alert.Rule) (alert.Rule, error)
	UpdateRule(ctx context.Context, r alert.Rule) (alert.Rule, error)
	DeleteRule(ctx context.Context, id string) error
	Alerts(ctx context.Context) ([]alert.Alert, error)
	Ack(ctx context.Context, ruleID, deviceID string) (alert.Alert, error)
}

var _ Alerts = (*alert.Service)(nil)

// alertRoutes registers the alert routes: reads open, changes in writes.
func (h *handlers) alertRoutes(api, writes *gin.RouterGroup) {
	api.GET("/alert-rules", h.listRules)
	api.GET("/alert-rules/:id", h.getRule)
	writes.POST("/alert-rules", h.createRule)
	writes.PUT("/alert-rules/:id", h.putRule)
	writes.DELETE("/alert-rules/:id", h.deleteRule)
	api.GET("/alerts", h.listAlerts)
	writes.POST("/alerts/:rule/:device/ack", h.ackAlert)
}

// ruleBody is a rule as the API takes it: the stored rule without the
// time it was created, which the service sets.
type ruleBody struct {
	ID         string         `json:"id"`
	Metric     alert.Metric   `json:"metric,omitempty"`
	Above      *float64       `json:"above,omitempty"`
	Below      *float64       `json:"below,omitempty"`
	For        alert.Duration `json:"for,omitzero"`
	Hysteresis *float64       `json:"hysteresis,omitempty"`
	OfflineFor alert.Duration `json:"offlineFor,omitzero"`
	DeviceID   string         `json:"deviceId,omitempty"`
}

func (b ruleBody) domain() alert.Rule {
	return alert.Rule{ID: b.ID, Metric: b.Metric, Above: b.Above, Below: b.Below, For: b.For,
		Hysteresis: b.Hysteresis, OfflineFor: b.OfflineFor, DeviceID: b.DeviceID}
}

func ruleOut(r alert.Rule) ruleBody {
	return ruleBody{ID: r.ID, Metric: r.Metric, Above: r.Above, Below: r.Below, For: r.For,
		Hysteresis: r.Hysteresis, OfflineFor: r.OfflineFor, DeviceID: r.DeviceID}
}

// alertBody is an alert as the API and the dashboard see it.
type alertBody struct {
	RuleID         string       `json:"ruleId"`
	DeviceID       string       `json:"deviceId"`
	Metric         alert.Metric `json:"metric"`
	State          alert.Phase  `json:"state"`
	Since          time.Time    `json:"since"`
	Value          *float64     `json:"value"`
	AcknowledgedAt *time.Time   `json:"acknowledgedAt,omitempty"`
}

func alertOut(a alert.Alert) alertBody { return alertBody(a) }

// readRule decodes one rule object, unknown fields refused.
func readRule(c *gin.Context) (alert.Rule, error) {
	var b ruleBody
	dec := json.NewDecoder(c.Request.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return alert.Rule{}, fmt.Errorf("%w: alert rule must be a JSON object: %w", errBadRequest, err)
	}
	if dec.More() {
		return alert.Rule{}, fmt.Errorf("%w: one JSON object expected", errBadRequest)
	}
	return b.domain(), nil
}

func (h *handlers) listRules(c *gin.Context) {
	rules, err := h.deps.Alerts.Rules(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]ruleBody, len(rules))
	for i, r := range rules {
		out[i] = ruleOut(r)
	}
	c.JSON(http.StatusOK, out)
}

func (h *handlers) getRule(c *gin.Context) {
	r, err := h.deps.Alerts.Rule(c.Request.Context(), c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, ruleOut(r))
}

func (h *handlers) createRule(c *gin.Context) {
	r, err := readRule(c)
	if err == nil {
		r, err = h.deps.Alerts.CreateRule(c.Request.Context(), r)
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header("Location", "/api/alert-rules/"+r.ID)
	c.JSON(http.StatusCreated, ruleOut(r))
}

func (h *handlers) putRule(c *gin.Context) {
	r, err := readRule(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	switch id := c.Param("id"); {
	case r.ID == "":
		r.ID = id
	case r.ID != id:
		h.fail(c, fmt.Errorf("%w: id %q in the body is not %q of the path", errBadRequest, r.ID, id))
		return
	}
	if r, err = h.deps.Alerts.UpdateRule(c.Request.Context(), r); err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, ruleOut(r))
}

func (h *handlers) deleteRule(c *gin.Context) {
	if err := h.deps.Alerts.DeleteRule(c.Request.Context(), c.Param("id")); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *handlers) listAlerts(c *gin.Context) {
	alerts, err := h.deps.Alerts.Alerts(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]alertBody, len(alerts))
	for i, a := range alerts {
		out[i] = alertOut(a)
	}
	c.JSON(http.StatusOK, out)
}

func (h *handlers) ackAlert(c *gin.Context) {
	a, err := h.deps.Alerts.Ack(c.Request.Context(), c.Param("rule"), c.Param("device"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, alertOut(a))
}
