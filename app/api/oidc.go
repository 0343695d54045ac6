package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// OIDCConfig configures an OIDC verifier.
type OIDCConfig struct {
	// Issuer is the token issuer, exactly as tokens' iss and the discovery
	// document's issuer write it. Entra ID (v2 tokens):
	// https://login.microsoftonline.com/{tenant id}/v2.0.
	Issuer string
	// Audience is the aud tokens must carry; Entra ID v2 access tokens
	// carry the API app registration's client id.
	Audience string
	// Client fetches the discovery document and the keys; nil means a
	// client with a 10 s timeout.
	Client *http.Client
	// Log gets key refreshes and their failures; nil discards.
	Log *slog.Logger
	// Now is the clock for token checks; nil means time.Now.
	Now func() time.Time
}

// OIDC verifies access tokens of one OpenID Connect issuer for one
// audience, with golang-jwt: RS256 or ES256 signatures by a key of the
// issuer's JWKS (found through {issuer}/.well-known/openid-configuration),
// and exp, nbf, iss and aud.
type OIDC struct {
	issuer   string
	audience string
	keys     *keySet
	now      func() time.Time
}

var _ Authenticator = (*OIDC)(nil)

// clockSkew is the leeway on exp and nbf.
const clockSkew = time.Minute

// algorithms are the signatures accepted: never none, never HMAC (which
// would take the issuer's public key as a shared secret).
var algorithms = []string{jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg()}

// NewOIDC checks cfg and returns a verifier. It fetches nothing yet: the
// keys come with the first token, or with Refresh.
func NewOIDC(cfg OIDCConfig) (*OIDC, error) {
	if err := CheckIssuer(cfg.Issuer); err != nil {
		return nil, err
	}
	if cfg.Audience == "" {
		return nil, errors.New("oidc: the audience is empty")
	}
	client := cfg.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &OIDC{issuer: cfg.Issuer, audience: cfg.Audience, now: now,
		keys: newKeySet(cfg.Issuer, client, log, now)}, nil
}

// CheckIssuer accepts an https URL, or an http one on a loopback host (a
// development identity provider, a test's).
func CheckIssuer(issuer string) error {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("oidc: issuer %q is not an https URL", issuer)
	}
	if u.Scheme == "http" && loopbackHost(u.Hostname()) {
		return nil
	}
	if u.Scheme != "https" {
		return fmt.Errorf("oidc: issuer %q is not an https URL (http only on loopback)", issuer)
	}
	return nil
}

func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Refresh fetches the issuer's keys now; the app calls it at start to
// report a wrong issuer early.
func (o *OIDC) Refresh(ctx context.Context) (int, error) {
	return o.keys.refresh(ctx)
}

// accessClaims are the claims read from an access token.
type accessClaims struct {
	jwt.RegisteredClaims
	OID   string   `json:"oid"`
	Roles []string `json:"roles"`
}

// Authenticate verifies token: see Authenticator.
func (o *OIDC) Authenticate(ctx context.Context, token string) (Principal, error) {
	var c accessClaims
	_, err := jwt.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) { return o.keys.key(ctx, t) },
		jwt.WithValidMethods(algorithms),
		jwt.WithIssuer(o.issuer),
		jwt.WithAudience(o.audience),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(clockSkew),
		jwt.WithTimeFunc(o.now))
	if err != nil {
		if errors.Is(err, ErrAuthUnavailable) {
			return Principal{}, err
		}
		return Principal{}, fmt.Errorf("%w: %s", ErrUnauthenticated, refusal(err))
	}
	p := Principal{User: c.OID, Roles: c.Roles}
	if p.User == "" {
		p.User = c.Subject
	}
	if p.User == "" {
		return Principal{}, fmt.Errorf("%w: the token names no one (no oid or sub claim)", ErrUnauthenticated)
	}
	return p, nil
}

// errUnknownKey marks a kid the issuer's key set does not hold.
var errUnknownKey = errors.New("signed with a key the issuer does not publish")

// refusal says briefly why a token was refused; golang-jwt's own text is
// long, and none of it may quote the token.
func refusal(err error) string {
	for _, r := range []struct {
		err  error
		text string
	}{
		{errUnknownKey, errUnknownKey.Error()},
		{jwt.ErrTokenExpired, "token expired"},
		{jwt.ErrTokenNotValidYet, "token not valid yet"},
		{jwt.ErrTokenInvalidIssuer, "wrong issuer"},
		{jwt.ErrTokenInvalidAudience, "wrong audience"},
		{jwt.ErrTokenRequiredClaimMissing, "a required claim is missing"},
		{jwt.ErrTokenSignatureInvalid, "bad signature, or an algorithm other than RS256 or ES256"},
		{jwt.ErrTokenUnverifiable, "unsupported token"},
	} {
		if errors.Is(err, r.err) {
			return r.text
		}
	}
	return "malformed token"
}
