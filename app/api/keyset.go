package api

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

// Key set refreshes: an unknown kid (the issuer rotated its keys) triggers
// one at most every minRefresh, so tokens with made-up kids cannot make the
// app hammer the issuer; keys older than maxKeyAge are refreshed on the
// next use, so a key the issuer withdrew stops working within a day.
const (
	minRefresh = 30 * time.Second
	maxKeyAge  = 24 * time.Hour
	// maxDocument bounds the discovery document and the JWKS.
	maxDocument = 1 << 20
	// fetchTimeout bounds one refresh, whatever the request that caused it.
	fetchTimeout = 10 * time.Second
)

// keySet is an issuer's signing keys (kid → public key), fetched through
// its discovery document and cached.
type keySet struct {
	issuer string
	client *http.Client
	log    *slog.Logger
	now    func() time.Time

	mu      sync.RWMutex
	keys    map[string]any // *rsa.PublicKey or *ecdsa.PublicKey
	algs    map[string]string
	fetched time.Time // last successful refresh

	fetching sync.Mutex // one refresh at a time
	tried    time.Time  // last refresh attempt; under fetching
}

func newKeySet(issuer string, client *http.Client, log *slog.Logger, now func() time.Time) *keySet {
	return &keySet{issuer: issuer, client: client, log: log, now: now}
}

// key returns the key that verifies t, refreshing the set once (within the
// rate limit) when t names a kid it does not hold.
func (s *keySet) key(ctx context.Context, t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	alg := t.Method.Alg()
	if k, ok, fresh := s.lookup(kid, alg); ok && fresh {
		return k, nil
	}
	s.fetching.Lock()
	defer s.fetching.Unlock()
	k, ok, fresh := s.lookup(kid, alg) // a refresh may have landed meanwhile
	if ok && fresh {
		return k, nil
	}
	if !s.tried.IsZero() && s.now().Sub(s.tried) < minRefresh {
		if ok {
			return k, nil // stale, but the issuer was asked a moment ago
		}
		if s.empty() {
			return nil, fmt.Errorf("%w: the issuer's keys could not be fetched; retrying within %s", ErrAuthUnavailable, minRefresh)
		}
		return nil, errUnknownKey
	}
	// Not the request's own deadline: the keys serve every request.
	if _, err := s.refreshLocked(context.WithoutCancel(ctx)); err != nil {
		if ok {
			s.log.Warn("keeping the issuer's previous keys", "err", err)
			return k, nil
		}
		return nil, err
	}
	if k, ok, _ := s.lookup(kid, alg); ok {
		return k, nil
	}
	return nil, errUnknownKey
}

// lookup finds the key for kid and alg; fresh is false when the set is
// older than maxKeyAge.
func (s *keySet) lookup(kid, alg string) (key any, ok, fresh bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	fresh = s.now().Sub(s.fetched) < maxKeyAge
	key, ok = s.keys[kid]
	if ok && s.algs[kid] != "" && s.algs[kid] != alg {
		return nil, false, fresh // the issuer restricts this key to another algorithm
	}
	return key, ok, fresh
}

func (s *keySet) empty() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.keys) == 0
}

// refresh fetches the keys now and returns how many it holds.
func (s *keySet) refresh(ctx context.Context) (int, error) {
	s.fetching.Lock()
	defer s.fetching.Unlock()
	return s.refreshLocked(ctx)
}

func (s *keySet) refreshLocked(ctx context.Context) (int, error) {
	s.tried = s.now()
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	keys, algs, err := s.fetch(ctx)
	if err != nil {
		s.log.Warn("cannot fetch the token issuer's keys", "issuer", s.issuer, "err", err)
		return 0, fmt.Errorf("%w: %w", ErrAuthUnavailable, err)
	}
	s.mu.Lock()
	s.keys, s.algs, s.fetched = keys, algs, s.now()
	s.mu.Unlock()
	s.log.Info("fetched the token issuer's keys", "issuer", s.issuer, "keys", len(keys))
	return len(keys), nil
}

// fetch reads the discovery document, then the JWKS it names.
func (s *keySet) fetch(ctx context.Context) (map[string]any, map[string]string, error) {
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	discovery := strings.TrimSuffix(s.issuer, "/") + "/.well-known/openid-configuration"
	if err := s.get(ctx, discovery, &doc); err != nil {
		return nil, nil, err
	}
	if doc.Issuer != s.issuer {
		return nil, nil, fmt.Errorf("the discovery document names issuer %q, not %q (Entra ID: the tenant id, not common or organizations)", doc.Issuer, s.issuer)
	}
	u, err := url.Parse(doc.JWKSURI)
	if err != nil || !(u.Scheme == "https" || (u.Scheme == "http" && loopbackHost(u.Hostname()))) {
		return nil, nil, fmt.Errorf("jwks_uri %q is not an https URL", doc.JWKSURI)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := s.get(ctx, doc.JWKSURI, &set); err != nil {
		return nil, nil, err
	}
	keys, algs := map[string]any{}, map[string]string{}
	for _, raw := range set.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil || !usable(k) {
			continue // a key type this verifier never accepts
		}
		keys[k.KeyID], algs[k.KeyID] = k.Key, k.Algorithm
	}
	if len(keys) == 0 {
		return nil, nil, fmt.Errorf("%s holds no RSA (2048 bits or more) or P-256 signing key", doc.JWKSURI)
	}
	return keys, algs, nil
}

// usable reports whether k is a public signing key that RS256 or ES256
// tokens can name.
func usable(k jose.JSONWebKey) bool {
	if k.Use != "" && k.Use != "sig" {
		return false
	}
	switch pub := k.Key.(type) {
	case *rsa.PublicKey:
		return pub.N.BitLen() >= 2048
	case *ecdsa.PublicKey:
		return pub.Curve == elliptic.P256()
	}
	return false
}

// get fetches url's JSON into v.
func (s *keySet) get(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", url, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch %s: %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument+1))
	if err != nil {
		return fmt.Errorf("fetch %s: %w", url, err)
	}
	if len(body) > maxDocument {
		return fmt.Errorf("fetch %s: larger than %d bytes", url, maxDocument)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("fetch %s: not JSON: %w", url, err)
	}
	return nil
}
