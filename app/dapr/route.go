package dapr

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/enviromon/enviromon/app/binding"
	"github.com/enviromon/enviromon/app/pipeline"
	"github.com/enviromon/enviromon/app/telemetry"
)

// maxEvent bounds an input binding event; IoT Hub's device-to-cloud limit
// is 256 KB. A larger event is rejected (counted and dead-lettered) and
// acknowledged: delivering it again would not make it smaller.
const maxEvent = telemetry.MaxPayload

// maxErrorText bounds the error text sent back to daprd, which logs it.
const maxErrorText = 200

// errorBody is the JSON answer to a failed delivery.
type errorBody struct {
	Error string `json:"error"`
}

// InputRoute registers the route daprd delivers the input binding's events
// to, with app-protocol http: POST /<binding> (or the Component's route),
// and OPTIONS, which daprd sends once at start-up to learn that the app
// subscribes. Each event's metadata arrives as HTTP headers and becomes the
// message's device id, message id and enqueue time. handle's error answers
// 500, so daprd reports a failure and the binding does not acknowledge
// (mqtt3 then redelivers); success answers 200 with an empty body.
func InputRoute(r gin.IRoutes, binding string, handle func(ctx context.Context, m pipeline.Message) error) {
	h := input{handle: handle}
	path := "/" + strings.TrimPrefix(binding, "/")
	r.POST(path, h.event)
	r.OPTIONS(path, h.probe)
}

type input struct {
	handle func(ctx context.Context, m pipeline.Message) error
}

func (h input) probe(c *gin.Context) {
	c.Status(http.StatusNoContent)
}

func (h input) event(c *gin.Context) {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxEvent))
	var tooBig *http.MaxBytesError
	truncated := errors.As(err, &tooBig)
	if err != nil && !truncated {
		_ = c.Error(err)
		c.AbortWithStatusJSON(http.StatusBadRequest, errorBody{Error: "read event: " + short(err)})
		return
	}
	m := binding.Message(body, headers(c.Request.Header))
	m.Truncated = truncated
	if err := h.handle(c.Request.Context(), m); err != nil {
		_ = c.Error(err) // for the router's request log
		c.AbortWithStatusJSON(http.StatusInternalServerError, errorBody{Error: short(err)})
		return
	}
	c.Status(http.StatusOK)
}

// headers flattens the request headers into binding metadata; daprd sends
// each metadata entry as one header.
func headers(h http.Header) map[string]string {
	meta := make(map[string]string, len(h))
	for k, v := range h {
		if len(v) > 0 {
			meta[k] = v[0]
		}
	}
	return meta
}

func short(err error) string {
	s := err.Error()
	if len(s) > maxErrorText {
		s = s[:maxErrorText] + "…"
	}
	return s
}
