package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
)

// Authenticator verifies the bearer tokens of API callers (an OpenID
// Connect issuer's access tokens: see OIDC).
type Authenticator interface {
	// Authenticate verifies token and returns whom it names. A token that
	// does not pass wraps ErrUnauthenticated; a failure to check it at all
	// (the issuer's keys cannot be fetched) wraps ErrAuthUnavailable.
	Authenticate(ctx context.Context, token string) (Principal, error)
}

var (
	// ErrUnauthenticated marks a missing, malformed, expired or otherwise
	// invalid bearer token: 401.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrAuthUnavailable marks a token that could not be checked: 503.
	ErrAuthUnavailable = errors.New("token check unavailable")
)

// Principal is the caller a verified token names.
type Principal struct {
	// User identifies the caller: Entra ID's oid claim (the same across
	// the tenant's apps), else sub.
	User string
	// Roles are the token's roles claim: app roles assigned to the user or
	// the calling application.
	Roles []string
}

// realm names the API in WWW-Authenticate challenges.
const realm = `Bearer realm="enviromon"`

// requireWrite guards a route that changes state. With no Authenticator
// writes are open: the app allows that only while it listens on loopback
// alone. Otherwise it takes a valid bearer token (401 without one) that
// carries deps.WriteRole when one is set (403 without it).
func (h *handlers) requireWrite(c *gin.Context) {
	if h.deps.Auth == nil {
		c.Next()
		return
	}
	p, ok := h.authenticate(c)
	if !ok {
		return
	}
	if role := h.deps.WriteRole; role != "" && !slices.Contains(p.Roles, role) {
		c.Header("WWW-Authenticate", fmt.Sprintf(`%s, error="insufficient_scope", error_description="the role %s is required"`, realm, role))
		c.AbortWithStatusJSON(http.StatusForbidden, errorBody{Error: fmt.Sprintf("forbidden: this change needs the role %s", role)})
		return
	}
	c.Next()
}

// authenticate verifies the request's bearer token. When it returns false
// it has answered the request.
func (h *handlers) authenticate(c *gin.Context) (Principal, bool) {
	token, ok := bearer(c.Request)
	if !ok {
		c.Header("WWW-Authenticate", realm)
		c.AbortWithStatusJSON(http.StatusUnauthorized, errorBody{Error: "unauthenticated: an Authorization: Bearer token is required"})
		return Principal{}, false
	}
	p, err := h.deps.Auth.Authenticate(c.Request.Context(), token)
	switch {
	case err == nil:
		return p, true
	case errors.Is(err, ErrUnauthenticated):
		// err says why (expired, audience...), never the token itself.
		h.log.Debug("bearer token refused", "path", c.FullPath(), "err", err)
		c.Header("WWW-Authenticate", fmt.Sprintf(`%s, error="invalid_token", error_description=%q`, realm, describe(err)))
		c.AbortWithStatusJSON(http.StatusUnauthorized, errorBody{Error: err.Error()})
	default:
		h.fail(c, err)
	}
	return Principal{}, false
}

// bearer returns the token of an Authorization: Bearer header. Tokens in
// query strings are not taken: URLs end up in logs and browser history.
func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	return token, ok && strings.EqualFold(scheme, "Bearer") && token != ""
}

// describe is err's text as a quoted-string may hold it.
func describe(err error) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, err.Error())
}
