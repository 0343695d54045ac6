package signalr

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// bearer returns the access token of r: the Authorization header, else the
// access_token query parameter that browsers must use for WebSockets and
// Server-Sent Events (and the philippseith client for every SSE request).
func bearer(r *http.Request) (string, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") && token != "" {
			return strings.TrimSpace(token), true
		}
		return "", false
	}
	token := r.URL.Query().Get("access_token")
	return token, token != ""
}

// authorize verifies the token of r and that one of its audiences passes
// audOK. Every failure wraps ErrUnauthorized.
func (s *Service) authorize(r *http.Request, audOK func(*url.URL) bool) (claims, error) {
	token, ok := bearer(r)
	if !ok {
		return claims{}, fmt.Errorf("%w: no bearer token", ErrUnauthorized)
	}
	c, err := verifyToken(s.key, token, s.now())
	if err != nil {
		return claims{}, err
	}
	for _, aud := range c.Audience {
		if u, err := url.Parse(aud); err == nil && audOK(u) {
			return c, nil
		}
	}
	return claims{}, fmt.Errorf("%w: audience %q does not match %s", ErrUnauthorized, c.Audience, r.URL.Path)
}

// restAudience accepts the request URL as the sender built it:
// components-contrib signs "{endpoint}/api/hubs/{hub}/:send?api-version=...",
// so the query is compared when the audience has one.
func (s *Service) restAudience(r *http.Request) func(*url.URL) bool {
	return func(u *url.URL) bool {
		return s.knownHost(u.Host, r.Host) && u.Path == r.URL.Path &&
			(u.RawQuery == "" || u.RawQuery == r.URL.RawQuery)
	}
}

// clientAudience accepts "{endpoint}/client/?hub={hub}", the URL that
// components-contrib's clientNegotiate signs and hands to browsers.
func (s *Service) clientAudience(r *http.Request, hub string) func(*url.URL) bool {
	return func(u *url.URL) bool {
		return s.knownHost(u.Host, r.Host) &&
			(u.Path == "/client/" || u.Path == "/client") &&
			strings.EqualFold(u.Query().Get("hub"), hub)
	}
}

// knownHost reports whether host, taken from a token's audience, names this
// service: the configured endpoint, the Host the request arrived with, or a
// loopback alias of either (localhost and 127.0.0.1 are the same endpoint
// to a developer's browser).
func (s *Service) knownHost(host, requestHost string) bool {
	for _, known := range []string{s.endpoint.Host, requestHost} {
		if strings.EqualFold(host, known) || sameLoopback(host, known) {
			return true
		}
	}
	return false
}

func sameLoopback(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	return errA == nil && errB == nil && pa == pb && loopback(ha) && loopback(hb)
}

func loopback(host string) bool {
	if slices.Contains([]string{"localhost", "localhost."}, strings.ToLower(host)) {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
