package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

// Issuer is an OpenID Connect issuer for tests, on 127.0.0.1: it serves a
// discovery document and a JWKS with one RSA and one P-256 key, generated
// for the test, and mints access tokens with them.
type Issuer struct {
	URL      string // the issuer, as tokens' iss and the discovery document name it
	Audience string // the default aud of minted tokens
	RSA      *rsa.PrivateKey
	EC       *ecdsa.PrivateKey
	// KeysServed counts the JWKS fetches.
	KeysServed atomic.Int32

	mu    sync.Mutex
	extra []jose.JSONWebKey // keys published besides RSA and EC
}

// Key ids of the issuer's keys.
const (
	IssuerRSAKid = "rsa-1"
	IssuerECKid  = "ec-1"
)

// StartIssuer starts an Issuer until the test ends.
func StartIssuer(t testing.TB) *Issuer {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	iss := &Issuer{RSA: rk, EC: ek, Audience: "00000000-0000-4000-8000-00000000a0d1"}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /discovery/keys", func(w http.ResponseWriter, _ *http.Request) {
		iss.KeysServed.Add(1)
		writeJSON(w, iss.keySet())
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	iss.URL = srv.URL + "/tenant/v2.0" // the shape of an Entra ID v2 issuer
	mux.HandleFunc("GET /tenant/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]string{"issuer": iss.URL, "jwks_uri": srv.URL + "/discovery/keys"})
	})
	return iss
}

// Publish adds a key to the JWKS, as an issuer rotating its keys does.
func (i *Issuer) Publish(kid string, key any, alg string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.extra = append(i.extra, jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: alg, Use: "sig"})
}

func (i *Issuer) keySet() jose.JSONWebKeySet {
	i.mu.Lock()
	defer i.mu.Unlock()
	return jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey{
		{Key: &i.RSA.PublicKey, KeyID: IssuerRSAKid, Algorithm: "RS256", Use: "sig"},
		{Key: &i.EC.PublicKey, KeyID: IssuerECKid, Algorithm: "ES256", Use: "sig"},
	}, i.extra...)}
}

// Claims returns the claims of a valid access token for user with roles,
// issued now and valid for an hour, as Entra ID writes them (oid, roles).
func (i *Issuer) Claims(user string, roles ...string) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"iss": i.URL, "aud": i.Audience, "sub": "pairwise-" + user, "oid": user,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	if len(roles) > 0 {
		c["roles"] = roles
	}
	return c
}

// Token signs claims with the issuer's RSA key (RS256).
func (i *Issuer) Token(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	return Sign(t, jwt.SigningMethodRS256, IssuerRSAKid, i.RSA, claims)
}

// Sign signs claims with method and key, naming kid in the header ("" for
// none).
func Sign(t testing.TB, method jwt.SigningMethod, kid string, key any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
