package dapr

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
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
func InputRoute(r gin.IRoutes, binding string, handle func(ctx context.Context, m pipeline.Message) error, opts ...RouteOption) {
	h := input{handle: handle}
	for _, o := range opts {
		o(&h)
	}
	path := "/" + strings.TrimPrefix(binding, "/")
	r.POST(path, h.authorize, h.event)
	// The probe stays open: it reveals nothing, and daprd takes a refused
	// probe to mean "not subscribed" and silently reads nothing, where a
	// refused delivery is an error it logs.
	r.OPTIONS(path, h.probe)
}

// RouteOption configures InputRoute.
type RouteOption func(*input)

// WithAppToken makes deliveries carry token, the APP_API_TOKEN that daprd
// sends in the dapr-api-token header when it has one: any other delivery is
// answered 401. An empty token leaves the route open, as daprd without
// APP_API_TOKEN sends none.
func WithAppToken(token string) RouteOption {
	return func(h *input) {
		if token != "" {
			sum := sha256.Sum256([]byte(token))
			h.token = sum[:]
		}
	}
}

// AppTokenHeader is the header daprd sends APP_API_TOKEN in.
const AppTokenHeader = "dapr-api-token"

type input struct {
	handle func(ctx context.Context, m pipeline.Message) error
	token  []byte // SHA-256 of APP_API_TOKEN; nil for none
}

// authorize compares the delivery's token with APP_API_TOKEN in constant
// time, as digests, so that not even the token's length shows.
func (h input) authorize(c *gin.Context) {
	if h.token == nil {
		c.Next()
		return
	}
	got := sha256.Sum256([]byte(c.GetHeader(AppTokenHeader)))
	if subtle.ConstantTimeCompare(got[:], h.token) != 1 {
		c.AbortWithStatusJSON(http.StatusUnauthorized, errorBody{Error: "the " + AppTokenHeader + " header does not carry APP_API_TOKEN"})
		return
	}
	c.Next()
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
