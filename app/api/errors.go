package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/enviromon/enviromon/app/alert"
	"github.com/enviromon/enviromon/app/iothub"
	"github.com/enviromon/enviromon/app/pipeline"
	"github.com/enviromon/enviromon/app/registry"
	"github.com/enviromon/enviromon/app/telemetry"
)

// errorBody is every error response.
type errorBody struct {
	Error string `json:"error"`
}

// statuses maps domain errors to HTTP statuses, first match wins.
var statuses = []struct {
	err    error
	status int
}{
	{pipeline.ErrNotFound, http.StatusNotFound},
	{registry.ErrNotFound, http.StatusNotFound},
	{registry.ErrExists, http.StatusConflict},
	{iothub.ErrDeviceID, http.StatusBadRequest},
	{iothub.ErrDevice, http.StatusBadRequest},
	{iothub.ErrUnauthorized, http.StatusUnauthorized},
	{telemetry.ErrInvalid, http.StatusBadRequest},
	{telemetry.ErrPayload, http.StatusBadRequest},
	{telemetry.ErrCalibration, http.StatusBadRequest},
	{telemetry.ErrHistoryQuery, http.StatusBadRequest},
	{errBadRequest, http.StatusBadRequest},
	{alert.ErrInvalid, http.StatusBadRequest},
	{alert.ErrNotFound, http.StatusNotFound},
	{alert.ErrExists, http.StatusConflict},
	{alert.ErrConflict, http.StatusConflict},
	{ErrUnauthenticated, http.StatusUnauthorized},
	{ErrAuthUnavailable, http.StatusServiceUnavailable},
	{pipeline.ErrConflict, http.StatusConflict},
	{pipeline.ErrStopped, http.StatusServiceUnavailable},
	{context.DeadlineExceeded, http.StatusGatewayTimeout},
}

// errBadRequest marks errors in a request's own form.
var errBadRequest = errors.New("bad request")

// fail writes err with its status. Unexpected errors (500) are logged once
// here and answered without internal detail.
func (h *handlers) fail(c *gin.Context, err error) {
	status := http.StatusInternalServerError
	for _, s := range statuses {
		if errors.Is(err, s.err) {
			status = s.status
			break
		}
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		status = http.StatusRequestEntityTooLarge
	}
	msg := err.Error()
	if status == http.StatusInternalServerError {
		_ = c.Error(err)
		h.log.Error("request failed", "path", c.FullPath(), "err", err)
		msg = http.StatusText(status) // internal detail stays in the log
	}
	c.AbortWithStatusJSON(status, errorBody{Error: msg})
}
