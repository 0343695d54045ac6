package api

import (
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
)

// permissionsPolicy turns off the powerful features the dashboard never
// uses, for it and anything it might embed.
const permissionsPolicy = "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()"

// securityHeaders sets the security headers on every answer: the API's too,
// since they cost a few bytes and a JSON answer opened as a page gets the
// same protection. The Content-Security-Policy allows scripts, styles and
// connections from the page's own origin only, plus connections to the
// SignalR service (connect: its origins, each also as ws(s) for
// WebSockets); no inline script, no plugins, no framing, no <base>.
// Strict-Transport-Security goes only on answers over HTTPS (TLS here, or
// at the ingress that says so in X-Forwarded-Proto): over plain HTTP a
// browser ignores it anyway.
func securityHeaders(connect []string) gin.HandlerFunc {
	csp := contentSecurityPolicy(connect)
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Permissions-Policy", permissionsPolicy)
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if c.Request.TLS != nil || strings.EqualFold(c.GetHeader("X-Forwarded-Proto"), "https") {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		c.Next()
	}
}

// contentSecurityPolicy is the policy for the dashboard, whose only other
// origin is the SignalR service's.
func contentSecurityPolicy(connect []string) string {
	sources := []string{"'self'"}
	for _, o := range connect {
		sources = append(sources, connectSources(o)...)
	}
	return strings.Join([]string{
		"default-src 'self'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self' data:",
		"connect-src " + strings.Join(sources, " "),
		"object-src 'none'",
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; ")
}

// connectSources returns an origin as CSP sources: itself and its
// WebSocket twin (ws for http, wss for https). A source expression with
// the http scheme does not cover ws: URLs. Anything CheckOrigin refuses is
// left out, so no value can add a directive.
func connectSources(origin string) []string {
	if CheckOrigin(origin) != nil {
		return nil
	}
	u, err := url.Parse(strings.TrimSuffix(origin, "/"))
	if err != nil {
		return nil
	}
	twin := map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
	return []string{u.Scheme + "://" + u.Host, twin + "://" + u.Host}
}
