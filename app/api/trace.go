package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// untraced are the routes that get no span: probes and scrapes, every few
// seconds, would drown the traces worth reading.
var untraced = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// traceRequests starts a server span for each request to an API route,
// continuing the W3C trace context of its headers (traceparent and
// tracestate): daprd sends them with each input binding delivery, so the
// app's spans join the trace daprd started at the binding. The span goes
// into the request's context, where the pipeline's commit links to it and
// the logs read its ids. Without a provider it does nothing.
func traceRequests(tp trace.TracerProvider) gin.HandlerFunc {
	if tp == nil {
		return func(c *gin.Context) { c.Next() }
	}
	tracer := tp.Tracer("github.com/enviromon/enviromon/app/api")
	w3c := propagation.TraceContext{}
	return func(c *gin.Context) {
		route := c.FullPath() // "" for the dashboard's files and unknown paths
		if route == "" || untraced[route] {
			c.Next()
			return
		}
		method := c.Request.Method
		ctx := w3c.Extract(c.Request.Context(), propagation.HeaderCarrier(c.Request.Header))
		ctx, span := tracer.Start(ctx, method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", method), attribute.String("http.route", route)))
		defer span.End()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
		status := c.Writer.Status()
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		if status >= http.StatusInternalServerError {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
	}
}
