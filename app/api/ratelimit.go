package api

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"
)

// DefaultNegotiatePerMinute is how many negotiations a client address may
// start per minute, and in a burst: a dashboard negotiates once per
// (re)connection.
const DefaultNegotiatePerMinute = 10

// maxClients bounds the buckets a clientLimiter keeps.
const maxClients = 10000

// clientLimiter is a token bucket per client address. It keeps at most max
// buckets: when full, it first drops the buckets that have refilled (their
// clients are as good as new), then the least recently used one.
type clientLimiter struct {
	every rate.Limit
	burst int
	max   int
	now   func() time.Time

	mu      sync.Mutex
	clients map[string]*bucket
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newClientLimiter(perMinute, max int, now func() time.Time) *clientLimiter {
	return &clientLimiter{every: rate.Limit(float64(perMinute) / 60), burst: perMinute, max: max, now: now,
		clients: map[string]*bucket{}}
}

// allow takes a token from key's bucket, or says how long until one is
// there.
func (l *clientLimiter) allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.clients[key]
	if !ok {
		if len(l.clients) >= l.max {
			l.evict(now)
		}
		b = &bucket{lim: rate.NewLimiter(l.every, l.burst)}
		l.clients[key] = b
	}
	b.seen = now
	if b.lim.AllowN(now, 1) {
		return true, 0
	}
	missing := 1 - b.lim.TokensAt(now)
	return false, time.Duration(missing / float64(l.every) * float64(time.Second))
}

// evict makes room for one more bucket.
func (l *clientLimiter) evict(now time.Time) {
	full := time.Duration(float64(l.burst) / float64(l.every) * float64(time.Second))
	var oldest string
	for k, b := range l.clients {
		if now.Sub(b.seen) >= full {
			delete(l.clients, k)
		} else if oldest == "" || b.seen.Before(l.clients[oldest].seen) {
			oldest = k
		}
	}
	if len(l.clients) >= l.max {
		delete(l.clients, oldest)
	}
}

// limitPerClient answers 429, with Retry-After, to a client address over
// its budget. The address is gin's ClientIP: X-Forwarded-For counts only
// from Deps.TrustedProxies. IPv6 clients are counted per /64, which one
// host can rotate through at will.
func limitPerClient(l *clientLimiter) gin.HandlerFunc {
	return func(c *gin.Context) {
		ok, wait := l.allow(clientKey(c.ClientIP()))
		if ok {
			c.Next()
			return
		}
		secs := int(math.Ceil(wait.Seconds()))
		if secs < 1 {
			secs = 1
		}
		c.Header("Retry-After", strconv.Itoa(secs))
		c.AbortWithStatusJSON(http.StatusTooManyRequests,
			errorBody{Error: fmt.Sprintf("too many requests from this address: retry in %d s", secs)})
	}
}

func clientKey(ip string) string {
	addr := net.ParseIP(ip)
	if addr == nil || addr.To4() != nil {
		return ip
	}
	return addr.Mask(net.CIDRMask(64, 128)).String() + "/64"
}
