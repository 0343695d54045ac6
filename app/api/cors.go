package api

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
)

// cors lets the listed origins call the API from a browser. Same-origin
// requests need nothing; any other origin gets no CORS headers, so the
// browser refuses it. Credentials are never allowed: the API uses none.
func cors(origins []string) gin.HandlerFunc {
	allowed := make([]string, len(origins))
	for i, o := range origins {
		allowed[i] = strings.TrimRight(strings.ToLower(o), "/")
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
			h.Set("Access-Control-Allow-Headers", "Content-Type, X-Requested-With, X-SignalR-User-Agent")
			h.Set("Access-Control-Max-Age", "600")
			c.AbortWithStatus(http.StatusNoContent)
			return
		}
		c.Next()
	}
}
