package api

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/internal/testenv"
	"github.com/enviromon/enviromon/app/notify"
	"github.com/enviromon/enviromon/app/telemetry"
)

const writeRole = "Enviromon.Write"

// authRouter is the API with auth on: iss's tokens for its audience, with
// the write role required.
func authRouter(t *testing.T, iss *testenv.Issuer, f *fakePipeline, n *userNegotiator) http.Handler {
	t.Helper()
	auth, err := NewOIDC(OIDCConfig{Issuer: iss.URL, Audience: iss.Audience})
	require.NoError(t, err)
	deps := Deps{Ingest: f, Devices: f, Calibrations: f, Auth: auth, WriteRole: writeRole}
	if n != nil {
		deps.Negotiate = n
	}
	return NewRouter(deps)
}

// call sends a request with an optional bearer token.
func call(r http.Handler, method, path, body, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	return w
}

// TestWritesNeedToken: PUT and DELETE of a calibration with tokens of the
// in-test issuer, and with every kind of token that must not pass.
func TestWritesNeedToken(t *testing.T) {
	iss := testenv.StartIssuer(t)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	otherEC, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(&iss.RSA.PublicKey)
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})

	valid := func() jwt.MapClaims { return iss.Claims("user-1", writeRole) }
	with := func(change func(jwt.MapClaims)) jwt.MapClaims {
		c := valid()
		change(c)
		return c
	}
	rs256 := func(c jwt.MapClaims) string { return iss.Token(t, c) }
	ago := func(d time.Duration) int64 { return time.Now().Add(-d).Unix() }
	tests := []struct {
		name  string
		token string
		want  int
	}{
		{"valid RS256", rs256(valid()), http.StatusOK},
		{"valid ES256", testenv.Sign(t, jwt.SigningMethodES256, testenv.IssuerECKid, iss.EC, valid()), http.StatusOK},
		{"expired within the clock skew", rs256(with(func(c jwt.MapClaims) { c["exp"] = ago(30 * time.Second) })), http.StatusOK},
		{"role among others", rs256(with(func(c jwt.MapClaims) { c["roles"] = []string{"Reader", writeRole} })), http.StatusOK},
		{"missing", "", http.StatusUnauthorized},
		{"expired", rs256(with(func(c jwt.MapClaims) { c["exp"] = ago(2 * time.Minute) })), http.StatusUnauthorized},
		{"not valid yet", rs256(with(func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(5 * time.Minute).Unix() })), http.StatusUnauthorized},
		{"no exp", rs256(with(func(c jwt.MapClaims) { delete(c, "exp") })), http.StatusUnauthorized},
		{"wrong audience", rs256(with(func(c jwt.MapClaims) { c["aud"] = "api://another-app" })), http.StatusUnauthorized},
		{"wrong issuer", rs256(with(func(c jwt.MapClaims) { c["iss"] = "https://login.microsoftonline.com/other/v2.0" })), http.StatusUnauthorized},
		{"wrong signature", testenv.Sign(t, jwt.SigningMethodRS256, testenv.IssuerRSAKid, other, valid()), http.StatusUnauthorized},
		{"wrong EC signature", testenv.Sign(t, jwt.SigningMethodES256, testenv.IssuerECKid, otherEC, valid()), http.StatusUnauthorized},
		{"ES256 header on the RSA key", testenv.Sign(t, jwt.SigningMethodES256, testenv.IssuerRSAKid, iss.EC, valid()), http.StatusUnauthorized},
		{"unknown key id", testenv.Sign(t, jwt.SigningMethodRS256, "rsa-2", other, valid()), http.StatusUnauthorized},
		{"alg none", noneToken(valid()), http.StatusUnauthorized},
		{"HS256 with the public key's PEM", testenv.Sign(t, jwt.SigningMethodHS256, testenv.IssuerRSAKid, pubPEM, valid()), http.StatusUnauthorized},
		{"HS256 with the public key's DER", testenv.Sign(t, jwt.SigningMethodHS256, testenv.IssuerRSAKid, der, valid()), http.StatusUnauthorized},
		{"RS512", testenv.Sign(t, jwt.SigningMethodRS512, testenv.IssuerRSAKid, iss.RSA, valid()), http.StatusUnauthorized},
		{"tampered claims", tamperClaims(rs256(valid())), http.StatusUnauthorized},
		{"garbage", "not.a.jwt", http.StatusUnauthorized},
		{"no user", rs256(with(func(c jwt.MapClaims) { delete(c, "oid"); delete(c, "sub") })), http.StatusUnauthorized},
		{"no role", rs256(with(func(c jwt.MapClaims) { delete(c, "roles") })), http.StatusForbidden},
		{"another role", rs256(with(func(c jwt.MapClaims) { c["roles"] = []string{"Enviromon.Read"} })), http.StatusForbidden},
		{"role in another case", rs256(with(func(c jwt.MapClaims) { c["roles"] = []string{"enviromon.write"} })), http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakePipeline{saved: map[string]telemetry.Calibration{"d2": {}}}
			r := authRouter(t, iss, f, nil)

			w := call(r, http.MethodPut, "/api/calibration/d1", `{"temperatureSlope":2}`, tt.token)
			assert.Equal(t, tt.want, w.Code, w.Body.String())
			d := call(r, http.MethodDelete, "/api/calibration/d2", "", tt.token)
			switch tt.want {
			case http.StatusOK:
				require.Contains(t, f.saved, "d1")
				assert.Equal(t, 2.0, *f.saved["d1"].TemperatureSlope)
				assert.Equal(t, http.StatusNoContent, d.Code)
				assert.NotContains(t, f.saved, "d2")
			case http.StatusUnauthorized:
				assert.True(t, strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer "), "WWW-Authenticate %q", w.Header().Get("WWW-Authenticate"))
				assert.NotContains(t, f.saved, "d1", "a refused write changed nothing")
				assert.Equal(t, http.StatusUnauthorized, d.Code)
				assert.Contains(t, f.saved, "d2", "a refused delete changed nothing")
			case http.StatusForbidden:
				assert.Contains(t, w.Header().Get("WWW-Authenticate"), `error="insufficient_scope"`)
				assert.Contains(t, w.Body.String(), writeRole)
				assert.NotContains(t, f.saved, "d1")
				assert.Contains(t, f.saved, "d2")
			}
			if tt.token != "" {
				assert.NotContains(t, w.Body.String()+w.Header().Get("WWW-Authenticate"), tt.token, "the answer echoes the token")
			}
		})
	}
}

// TestAuthLeavesReadsAndIngestOpen: reads need no token, nor does device
// ingest (SAS, not OIDC), nor a token in the query string count.
func TestAuthLeavesReadsAndIngestOpen(t *testing.T) {
	iss := testenv.StartIssuer(t)
	f := &fakePipeline{saved: map[string]telemetry.Calibration{"d1": {}}}
	r := authRouter(t, iss, f, nil)
	assert.Equal(t, http.StatusOK, call(r, http.MethodGet, "/api/calibration/d1", "", "").Code)
	assert.Equal(t, http.StatusOK, call(r, http.MethodGet, "/api/devices", "", "").Code)
	assert.NotEqual(t, http.StatusUnauthorized, call(r, http.MethodPost, "/api/telemetry", `{"deviceId":"d1"}`, "").Code)
	token := iss.Token(t, iss.Claims("user-1", writeRole))
	assert.Equal(t, http.StatusUnauthorized, call(r, http.MethodPut, "/api/calibration/d1?access_token="+token, `{}`, "").Code,
		"a token in the URL is not taken")
	req := httptest.NewRequest(http.MethodPut, "/api/calibration/d1", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("user:"+token)))
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	assert.Equal(t, http.StatusUnauthorized, w.Code, "another scheme")
}

// TestWritesOpenWithoutAuth: without an Authenticator (the app allows it
// on loopback alone) a write needs no token.
func TestWritesOpenWithoutAuth(t *testing.T) {
	f := &fakePipeline{saved: map[string]telemetry.Calibration{}}
	r := NewRouter(Deps{Calibrations: f})
	w := call(r, http.MethodPut, "/api/calibration/d1", `{"temperatureSlope":3}`, "")
	assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Contains(t, f.saved, "d1")
	assert.Equal(t, 3.0, *f.saved["d1"].TemperatureSlope)
}

// userNegotiator records the user each negotiation is for.
type userNegotiator struct {
	mu    sync.Mutex
	users []string
}

func (n *userNegotiator) Negotiate(_ context.Context, user string) (notify.Negotiation, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.users = append(n.users, user)
	return notify.Negotiation{URL: "http://127.0.0.1:8088/client/?hub=enviromon", AccessToken: "for-" + user}, nil
}

// TestNegotiateBoundToUser: with auth on, negotiate takes any valid token
// (no write role needed) and negotiates for its user: oid, else sub. A bad
// token is refused; no token at all gets an anonymous viewer (user "").
func TestNegotiateBoundToUser(t *testing.T) {
	iss := testenv.StartIssuer(t)
	n := &userNegotiator{}
	r := authRouter(t, iss, &fakePipeline{}, n)

	expired := iss.Claims("alice")
	expired["exp"] = time.Now().Add(-time.Hour).Unix()
	w := call(r, http.MethodPost, "/api/negotiate", "", iss.Token(t, expired))
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.Contains(t, w.Header().Get("WWW-Authenticate"), `Bearer realm="enviromon", error="invalid_token"`)
	assert.Empty(t, n.users, "no negotiation with an invalid token")

	w = call(r, http.MethodPost, "/api/negotiate?negotiateVersion=1", "", "")
	require.Equal(t, http.StatusOK, w.Code, "an anonymous viewer: "+w.Body.String())
	require.Equal(t, []string{""}, n.users, "an anonymous viewer is no user")
	n.users = nil

	w = call(r, http.MethodPost, "/api/negotiate", "", iss.Token(t, iss.Claims("alice")))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var got notify.Negotiation
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
	assert.Equal(t, "for-alice", got.AccessToken)
	assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))

	subOnly := iss.Claims("bob")
	delete(subOnly, "oid")
	require.Equal(t, http.StatusOK, call(r, http.MethodPost, "/api/negotiate", "", iss.Token(t, subOnly)).Code)
	assert.Equal(t, []string{"alice", "pairwise-bob"}, n.users)

	open := &userNegotiator{}
	require.Equal(t, http.StatusOK, call(NewRouter(Deps{Negotiate: open}), http.MethodPost, "/api/negotiate", "", "").Code)
	assert.Equal(t, []string{""}, open.users, "without auth, anonymous")
}

// TestKeyRotation: a token signed with a key the issuer published after the
// app fetched its keys passes once the set is refreshed, and made-up key
// ids cannot make the app fetch the keys more than once per minRefresh.
func TestKeyRotation(t *testing.T) {
	iss := testenv.StartIssuer(t)
	clock := &fakeClock{t: time.Now()}
	auth, err := NewOIDC(OIDCConfig{Issuer: iss.URL, Audience: iss.Audience, Now: clock.now})
	require.NoError(t, err)
	ctx := t.Context()

	_, err = auth.Authenticate(ctx, iss.Token(t, iss.Claims("u1")))
	require.NoError(t, err)
	require.EqualValues(t, 1, iss.KeysServed.Load())

	rotated, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	iss.Publish("rsa-2", &rotated.PublicKey, "RS256")
	next := testenv.Sign(t, jwt.SigningMethodRS256, "rsa-2", rotated, iss.Claims("u1"))
	for i := range 20 {
		made := testenv.Sign(t, jwt.SigningMethodRS256, "made-up-"+string(rune('a'+i)), rotated, iss.Claims("u1"))
		_, err := auth.Authenticate(ctx, made)
		require.ErrorIs(t, err, ErrUnauthenticated)
	}
	_, err = auth.Authenticate(ctx, next)
	require.ErrorIs(t, err, ErrUnauthenticated, "within minRefresh of the last fetch, the new key is not fetched yet")
	assert.LessOrEqual(t, iss.KeysServed.Load(), int32(2), "unknown kids refresh at most once per %s", minRefresh)

	clock.advance(minRefresh)
	p, err := auth.Authenticate(ctx, next)
	require.NoError(t, err, "the rotated key, after a refresh")
	assert.Equal(t, "u1", p.User)
}

// TestIssuerUnavailable: keys that cannot be fetched are the app's
// trouble, 503, not the caller's; a discovery document naming another
// issuer (Entra ID's "common") is refused.
func TestIssuerUnavailable(t *testing.T) {
	iss := testenv.StartIssuer(t)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	auth, err := NewOIDC(OIDCConfig{Issuer: down.URL + "/tenant/v2.0", Audience: iss.Audience})
	require.NoError(t, err)
	claims := iss.Claims("u1", writeRole)
	claims["iss"] = down.URL + "/tenant/v2.0"
	f := &fakePipeline{saved: map[string]telemetry.Calibration{}}
	r := NewRouter(Deps{Calibrations: f, Auth: auth, WriteRole: writeRole})
	w := call(r, http.MethodPut, "/api/calibration/d1", `{}`, iss.Token(t, claims))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code, w.Body.String())
	assert.Empty(t, f.saved)

	// The same discovery document, for an issuer it does not name (as
	// Entra ID's .../common/v2.0 names {tenantid}).
	mismatch, err := NewOIDC(OIDCConfig{Issuer: iss.URL + "/", Audience: iss.Audience})
	require.NoError(t, err)
	_, err = mismatch.Refresh(t.Context())
	require.ErrorIs(t, err, ErrAuthUnavailable)
	assert.Contains(t, err.Error(), "the discovery document names issuer")
}

func TestNewOIDCRefusesConfig(t *testing.T) {
	for _, tt := range []struct{ issuer, audience, want string }{
		{"http://login.example.com/t/v2.0", "a", "not an https URL"},
		{"login.microsoftonline.com/t/v2.0", "a", "not an https URL"},
		{"https://login.microsoftonline.com/t/v2.0?x=1", "a", "not an https URL"},
		{"https://login.microsoftonline.com/t/v2.0", "", "audience is empty"},
	} {
		_, err := NewOIDC(OIDCConfig{Issuer: tt.issuer, Audience: tt.audience})
		require.Error(t, err, tt.issuer)
		assert.Contains(t, err.Error(), tt.want)
	}
	for _, ok := range []string{"https://login.microsoftonline.com/t/v2.0", "http://127.0.0.1:9000/realms/x", "http://localhost:8081/"} {
		_, err := NewOIDC(OIDCConfig{Issuer: ok, Audience: "a"})
		assert.NoError(t, err, ok)
	}
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// noneToken is claims with alg none and no signature.
func noneToken(c jwt.MapClaims) string {
	head := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT","kid":"rsa-1"}`))
	body, _ := json.Marshal(c)
	return head + "." + base64.RawURLEncoding.EncodeToString(body) + "."
}

// tamperClaims swaps a token's claims for others, keeping its signature.
func tamperClaims(token string) string {
	parts := strings.Split(token, ".")
	body, _ := base64.RawURLEncoding.DecodeString(parts[1])
	changed := strings.Replace(string(body), `"oid":"user-1"`, `"oid":"admin"`, 1)
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(changed))
	return strings.Join(parts, ".")
}
