package api

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
)

// cors lets the listed origins call the API from a browser. Same-origin
// requests need nothing; any other origin gets no CORS headers, so the
// browser refuses it. Credentials (cookies) are never allowed: a caller
// authenticates with an Authorization header, which it must send itself.
// An entry that is not an origin (a wildcard) is ignored: the app's config
// refuses it first, with CheckOrigin.
func cors(origins []string) gin.HandlerFunc {
	var allowed []string
	for _, o := range origins {
		if CheckOrigin(o) == nil {
			allowed = append(allowed, strings.TrimRight(strings.ToLower(o), "/"))
		}
	}
	return func(c *gin.Context) {
		origin := c.GetHeader("Origin")
		if origin == "" || !slices.Contains(allowed, strings.ToLower(origin)) {
			c.Next()
			return
		}
		h := c.Writer.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		if c.Request.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Requested-With, X-SignalR-User-Agent")
			h.Set("Access-Control-Max-Age", "600")
			c.AbortWithStatus(http.StatusNoContent)
			return
		}
		// Paging's Link, and what a refused or throttled caller needs.
		h.Set("Access-Control-Expose-Headers", "Link, Retry-After, WWW-Authenticate")
		c.Next()
	}
}

// CheckOrigin accepts an origin as CORS lists and CSP sources take it,
// http(s)://host[:port]. A wildcard is refused, with the reason.
func CheckOrigin(origin string) error {
	if strings.Contains(origin, "*") {
		return fmt.Errorf("origin %q: a wildcard would let any web site call the API; list each origin, such as https://dashboard.example.com", origin)
	}
	u, err := url.Parse(strings.TrimSuffix(origin, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" ||
		u.RawQuery != "" || u.User != nil || strings.ContainsAny(u.Host, " ;,'") {
		return fmt.Errorf("origin %q is not http(s)://host[:port]", origin)
	}
	return nil
}
