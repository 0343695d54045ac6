package signalr

import (
	"fmt"
	"net/http"
	"strings"
)

// corsHeaders are the request headers the official client sends to the
// client endpoint.
const corsHeaders = "Authorization, Content-Type, X-Requested-With, X-SignalR-User-Agent"

// checkOrigin applies the origin policy to a client endpoint request and
// sets the CORS response headers. A request without Origin (not from a
// browser) passes; a browser must come from the service's own origin or an
// allowed one. The allowed origin is echoed, never "*", because the official
// client sends credentials by default.
func (s *Service) checkOrigin(w http.ResponseWriter, r *http.Request) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	w.Header().Add("Vary", "Origin")
	if !s.originAllowed(origin, r) {
		return fmt.Errorf("%w: origin %q", ErrForbidden, origin)
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
		h.Set("Access-Control-Allow-Headers", corsHeaders)
		h.Set("Access-Control-Max-Age", "600")
	}
	return nil
}

func (s *Service) originAllowed(origin string, r *http.Request) bool {
	o := strings.ToLower(origin)
	if s.origins[o] || o == strings.ToLower(s.endpoint.Scheme+"://"+s.endpoint.Host) {
		return true
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return o == strings.ToLower(scheme+"://"+r.Host)
}
