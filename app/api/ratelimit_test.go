package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// negotiateFrom posts a negotiation from remote, with extra headers.
func negotiateFrom(r http.Handler, remote string, headers map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/api/negotiate?negotiateVersion=1", nil)
	req.RemoteAddr = remote
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	return w
}

// TestNegotiateRateLimit: a client address gets its burst, then 429 with
// Retry-After; another address is unaffected; X-Forwarded-For counts only
// from a trusted proxy.
func TestNegotiateRateLimit(t *testing.T) {
	n := &userNegotiator{}
	r := NewRouter(Deps{Negotiate: n})
	for i := range DefaultNegotiatePerMinute {
		require.Equal(t, http.StatusOK, negotiateFrom(r, "192.0.2.1:4000", nil).Code, "negotiation %d", i+1)
	}
	w := negotiateFrom(r, "192.0.2.1:4001", nil)
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	secs, err := strconv.Atoi(w.Header().Get("Retry-After"))
	require.NoError(t, err, "Retry-After %q", w.Header().Get("Retry-After"))
	assert.InDelta(t, 6, secs, 1, "one negotiation per 6 s refills")
	assert.Len(t, n.users, DefaultNegotiatePerMinute, "a refused negotiation never reaches the service")

	assert.Equal(t, http.StatusOK, negotiateFrom(r, "192.0.2.2:4000", nil).Code, "another client")
	assert.Equal(t, http.StatusTooManyRequests,
		negotiateFrom(r, "192.0.2.1:4002", map[string]string{"X-Forwarded-For": "203.0.113.9"}).Code,
		"X-Forwarded-For from an untrusted peer is ignored")

	behind := NewRouter(Deps{Negotiate: n, NegotiatePerMinute: 2, TrustedProxies: []string{"10.244.0.0/16"}})
	proxy := "10.244.1.7:5000"
	for range 2 {
		require.Equal(t, http.StatusOK, negotiateFrom(behind, proxy, map[string]string{"X-Forwarded-For": "203.0.113.9"}).Code)
	}
	assert.Equal(t, http.StatusTooManyRequests, negotiateFrom(behind, proxy, map[string]string{"X-Forwarded-For": "203.0.113.9"}).Code)
	assert.Equal(t, http.StatusOK, negotiateFrom(behind, proxy, map[string]string{"X-Forwarded-For": "203.0.113.10"}).Code,
		"behind a trusted proxy, each client has its own budget")
}

func TestClientLimiterRefillsAndEvicts(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	l := newClientLimiter(10, 3, clock.now)
	for range 10 {
		ok, _ := l.allow("a")
		require.True(t, ok)
	}
	ok, wait := l.allow("a")
	require.False(t, ok)
	assert.Equal(t, 6*time.Second, wait)
	clock.advance(6 * time.Second)
	ok, _ = l.allow("a")
	assert.True(t, ok, "a token refilled")

	// Bounded: a fourth client evicts the least recently seen one.
	for _, k := range []string{"b", "c"} {
		clock.advance(time.Second)
		ok, _ := l.allow(k)
		require.True(t, ok)
	}
	clock.advance(time.Second)
	l.allow("d")
	assert.Len(t, l.clients, 3)
	assert.NotContains(t, l.clients, "a", "the least recently seen client goes first")

	// Buckets that refilled all go at once.
	clock.advance(time.Minute)
	l.allow("e")
	assert.Equal(t, []string{"e"}, keys(l.clients))

	for i := range 1000 {
		l.allow(fmt.Sprintf("flood-%d", i))
	}
	assert.Len(t, l.clients, 3, "a flood of addresses keeps the map bounded")
}

func TestClientKeyGroupsIPv6Prefix(t *testing.T) {
	assert.Equal(t, "192.0.2.1", clientKey("192.0.2.1"))
	assert.Equal(t, clientKey("2001:db8:1:2::1"), clientKey("2001:db8:1:2:ffff::9"), "one /64")
	assert.NotEqual(t, clientKey("2001:db8:1:2::1"), clientKey("2001:db8:1:3::1"))
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
