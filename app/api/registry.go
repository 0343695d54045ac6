package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/enviromon/enviromon/app/iothub"
)

// DeviceRegistry registers devices with their symmetric keys
// (registry.Registry).
type DeviceRegistry interface {
	// Register adds a device with fresh keys and status ("" for enabled):
	// registry.ErrExists if it is registered, an error wrapping
	// iothub.ErrDeviceID for a bad id.
	Register(ctx context.Context, id string, status iothub.Status) (iothub.Device, error)
	// Device returns a registered device; registry.ErrNotFound if none.
	Device(ctx context.Context, id string) (iothub.Device, error)
	// Delete removes a device; registry.ErrNotFound if none.
	Delete(ctx context.Context, id string) error
	// Host is the hub host name of the devices' connection strings.
	Host() string
}

// registerBody is POST /api/registry/devices's request.
type registerBody struct {
	DeviceID string `json:"deviceId"`
	// Status is "enabled" (the default) or "disabled": a disabled device
	// is refused at connect.
	Status string `json:"status"`
}

// identityBody is a registered device as the registry API answers it: its
// keys, and the connection string a device or the simulator connects with.
type identityBody struct {
	DeviceID         string    `json:"deviceId"`
	PrimaryKey       string    `json:"primaryKey"`
	SecondaryKey     string    `json:"secondaryKey"`
	ConnectionString string    `json:"connectionString"`
	Status           string    `json:"status"`
	Created          time.Time `json:"created"`
}

func newIdentityBody(d iothub.Device, host string) identityBody {
	return identityBody{
		DeviceID:         d.ID,
		PrimaryKey:       base64.StdEncoding.EncodeToString(d.PrimaryKey),
		SecondaryKey:     base64.StdEncoding.EncodeToString(d.SecondaryKey),
		ConnectionString: d.Credentials(host).ConnectionString(),
		Status:           string(d.Status),
		Created:          d.Created,
	}
}

// registerDevice is POST /api/registry/devices: 201 with the device's keys
// and connection string, 409 if it is registered, 400 with the reason for
// a bad id.
func (h *handlers) registerDevice(c *gin.Context) {
	var body registerBody
	dec := json.NewDecoder(c.Request.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		h.fail(c, fmt.Errorf("%w: want {\"deviceId\": \"...\"}: %w", errBadRequest, err))
		return
	}
	if dec.More() {
		h.fail(c, fmt.Errorf("%w: one JSON object expected", errBadRequest))
		return
	}
	d, err := h.deps.Registry.Register(c.Request.Context(), body.DeviceID, iothub.Status(body.Status))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Location", "/api/registry/devices/"+d.ID)
	c.JSON(http.StatusCreated, newIdentityBody(d, h.deps.Registry.Host()))
}

// getIdentity is GET /api/registry/devices/{id}: the device's keys, as
// registered; 404 if it is not.
func (h *handlers) getIdentity(c *gin.Context) {
	d, err := h.deps.Registry.Device(c.Request.Context(), c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, newIdentityBody(d, h.deps.Registry.Host()))
}

// deleteIdentity is DELETE /api/registry/devices/{id}: 204, or 404 if it
// is not registered. Its telemetry and state stay.
func (h *handlers) deleteIdentity(c *gin.Context) {
	if err := h.deps.Registry.Delete(c.Request.Context(), c.Param("id")); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
