package signalr

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
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

// parseOrigins reads the allowed origins into a set of lowercase
// scheme://host[:port]. A wildcard is refused: the client endpoint answers
// with credentials allowed, and a browser may then be made to connect from
// any site.
func parseOrigins(list []string) (map[string]bool, error) {
	origins := map[string]bool{}
	for _, o := range list {
		if strings.Contains(o, "*") {
			return nil, errors.New(`allowed origin "*": a wildcard would let any web site connect; list each origin, such as http://127.0.0.1:8080`)
		}
		ou, err := url.Parse(o)
		if err != nil || (ou.Scheme != "http" && ou.Scheme != "https") || ou.Host == "" || strings.Trim(ou.Path, "/") != "" {
			return nil, fmt.Errorf("allowed origin %q is not http(s)://host[:port]", o)
		}
		origins[strings.ToLower(ou.Scheme+"://"+ou.Host)] = true
	}
	return origins, nil
}
