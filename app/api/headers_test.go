package api

import (
	"bytes"
	"crypto/tls"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/telemetry"
)

// TestSecurityHeaders: the dashboard's files and the API's answers, errors
// included, carry the security headers; the CSP lets the page connect to
// its own origin and the SignalR service's only.
func TestSecurityHeaders(t *testing.T) {
	r := NewRouter(Deps{
		Devices:        &fakePipeline{},
		Dashboard:      http.FS(fstest.MapFS{"index.html": {Data: []byte("<h1>dash</h1>")}}),
		ConnectSources: []string{"http://127.0.0.1:8088", "https://enviromon.service.signalr.net/", "javascript:alert(1)", "https://x; script-src *"},
	})
	for _, path := range []string{"/", "/index.html", "/api/devices", "/api/devices/nope", "/nothing-here.js"} {
		t.Run(path, func(t *testing.T) {
			w := httptest.NewRecorder()
			r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
			h := w.Header()
			assert.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
			assert.Equal(t, "no-referrer", h.Get("Referrer-Policy"))
			assert.Equal(t, "DENY", h.Get("X-Frame-Options"))
			assert.Equal(t, "same-origin", h.Get("Cross-Origin-Opener-Policy"))
			assert.Contains(t, h.Get("Permissions-Policy"), "camera=()")
			assert.Empty(t, h.Get("Strict-Transport-Security"), "not over plain HTTP")

			csp := directives(h.Get("Content-Security-Policy"))
			assert.Equal(t, "'self'", csp["script-src"], "no inline script, no eval")
			assert.Equal(t, "'self'", csp["default-src"])
			assert.Equal(t, "'self'", csp["style-src"])
			assert.Equal(t, "'none'", csp["frame-ancestors"])
			assert.Equal(t, "'none'", csp["base-uri"])
			assert.Equal(t, "'none'", csp["object-src"])
			assert.Equal(t, "'self' http://127.0.0.1:8088 ws://127.0.0.1:8088 https://enviromon.service.signalr.net wss://enviromon.service.signalr.net",
				csp["connect-src"], "the SignalR origins, and nothing that is not an origin")
			assert.NotContains(t, h.Get("Content-Security-Policy"), "'unsafe-inline'")
		})
	}
}

// directives splits a policy into directive → value.
func directives(policy string) map[string]string {
	out := map[string]string{}
	for _, d := range strings.Split(policy, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		if _, dup := out[name]; dup {
			out[name] = "DUPLICATE"
			continue
		}
		out[name] = value
	}
	return out
}

func TestStrictTransportSecurity(t *testing.T) {
	r := NewRouter(Deps{})
	for _, tt := range []struct {
		name  string
		setup func(*http.Request)
		want  bool
	}{
		{"plain HTTP", func(*http.Request) {}, false},
		{"TLS", func(r *http.Request) { r.TLS = &tls.ConnectionState{} }, true},
		{"TLS at the ingress", func(r *http.Request) { r.Header.Set("X-Forwarded-Proto", "https") }, true},
		{"plain HTTP at the ingress", func(r *http.Request) { r.Header.Set("X-Forwarded-Proto", "http") }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
			tt.setup(req)
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)
			if tt.want {
				assert.Equal(t, "max-age=31536000", w.Header().Get("Strict-Transport-Security"))
			} else {
				assert.Empty(t, w.Header().Get("Strict-Transport-Security"))
			}
		})
	}
}

// TestCORSOnlyListedOrigins: a listed origin gets a grant that lets it send
// a bearer token and read paging links; a wildcard in the list grants
// nothing to anyone.
func TestCORSOnlyListedOrigins(t *testing.T) {
	f := &fakePipeline{saved: map[string]telemetry.Calibration{}}
	for _, tt := range []struct {
		name    string
		allowed []string
		origin  string
		want    string
	}{
		{"listed", []string{"https://dash.example"}, "https://dash.example", "https://dash.example"},
		{"unlisted", []string{"https://dash.example"}, "https://evil.example", ""},
		{"wildcard listed: no grant", []string{"*"}, "https://evil.example", ""},
		{"wildcard origin header", []string{"*"}, "*", ""},
		{"none listed", nil, "https://dash.example", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRouter(Deps{Calibrations: f, AllowedOrigins: tt.allowed})
			req := httptest.NewRequest(http.MethodOptions, "/api/calibration/d1", nil)
			req.Header.Set("Origin", tt.origin)
			req.Header.Set("Access-Control-Request-Method", "PUT")
			req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)
			assert.Equal(t, tt.want, w.Header().Get("Access-Control-Allow-Origin"))
			assert.NotEqual(t, "*", w.Header().Get("Access-Control-Allow-Origin"))
			if tt.want != "" {
				assert.Contains(t, w.Header().Get("Access-Control-Allow-Headers"), "Authorization")
				assert.Empty(t, w.Header().Get("Access-Control-Allow-Credentials"), "no cookies")
			}
		})
	}
	r := NewRouter(Deps{Devices: f, AllowedOrigins: []string{"https://dash.example"}})
	req := httptest.NewRequest(http.MethodGet, "/api/devices", nil)
	req.Header.Set("Origin", "https://dash.example")
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	assert.Contains(t, w.Header().Get("Access-Control-Expose-Headers"), "Link")
}

func TestCheckOrigin(t *testing.T) {
	for _, ok := range []string{"https://dash.example", "http://127.0.0.1:8080", "https://dash.example/"} {
		assert.NoError(t, CheckOrigin(ok), ok)
	}
	for bad, want := range map[string]string{
		"*":                      "a wildcard would let any web site call the API",
		"https://*.example.com":  "a wildcard",
		"dash.example":           "is not http(s)://host[:port]",
		"https://dash.example/x": "is not http(s)://host[:port]",
		"ftp://dash.example":     "is not http(s)://host[:port]",
		"https://a@dash.example": "is not http(s)://host[:port]",
		"":                       "is not http(s)://host[:port]",
	} {
		err := CheckOrigin(bad)
		require.Error(t, err, bad)
		assert.Contains(t, err.Error(), want, bad)
	}
}

// TestRequestLogOmitsSecrets: the request log names the route of a failed
// or slow request, never its query string or headers, and a panic is
// logged without the request.
func TestRequestLogOmitsSecrets(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r := NewRouter(Deps{Devices: &fakePipeline{err: assert.AnError}, Log: log, Extra: func(r *gin.Engine) {
		r.GET("/boom", func(*gin.Context) { panic("boom") })
	}})
	const secret = "eyJhbGciOi.secret-token.sig"
	for _, path := range []string{"/api/devices?access_token=" + secret, "/boom?access_token=" + secret} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("dapr-api-token", secret)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		assert.Equal(t, http.StatusInternalServerError, w.Code)
	}
	assert.Contains(t, logs.String(), "/api/devices", "the failure is logged")
	assert.Contains(t, logs.String(), "panic serving a request")
	assert.NotContains(t, logs.String(), secret)
	assert.NotContains(t, logs.String(), "secret-token")
}
