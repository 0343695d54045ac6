package signalr

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRESTAuthorization(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	_, srv := startService(t, Config{Now: func() time.Time { return now }})
	url := srv.URL + "/api/hubs/enviromon/:send?api-version=2022-11-01"
	sign := func(key, aud string, exp time.Time) string {
		token, err := signToken([]byte(key), aud, exp, "")
		require.NoError(t, err)
		return token
	}
	later := now.Add(15 * time.Minute)
	good := sign(testKey, url, later)
	tests := []struct {
		name  string
		token string
		want  int
	}{
		{"good", good, http.StatusAccepted},
		{"aud without query", sign(testKey, srv.URL+"/api/hubs/enviromon/:send", later), http.StatusAccepted},
		{"aud via localhost", sign(testKey, strings.Replace(url, "127.0.0.1", "localhost", 1), later), http.StatusAccepted},
		{"expired within leeway", sign(testKey, url, now.Add(-10*time.Second)), http.StatusAccepted},
		{"bad signature", sign("another-key", url, later), http.StatusUnauthorized},
		{"tampered claims", tamper(good), http.StatusUnauthorized},
		{"wrong aud path", sign(testKey, srv.URL+"/api/hubs/other/:send?api-version=2022-11-01", later), http.StatusUnauthorized},
		{"wrong aud host", sign(testKey, "http://example.com/api/hubs/enviromon/:send?api-version=2022-11-01", later), http.StatusUnauthorized},
		{"wrong aud query", sign(testKey, srv.URL+"/api/hubs/enviromon/:send?api-version=2021-01-01", later), http.StatusUnauthorized},
		{"expired", sign(testKey, url, now.Add(-2*time.Minute)), http.StatusUnauthorized},
		{"alg none", unsigned(url, later), http.StatusUnauthorized},
		{"malformed", "not-a-jwt", http.StatusUnauthorized},
		{"missing", "", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := restWithToken(t, http.MethodPost, url, tt.token, message{Target: "newMessage"})
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestClientAuthorization(t *testing.T) {
	svc, srv := startService(t, Config{})
	good, err := svc.ClientNegotiation("Enviromon", "alice", time.Hour)
	require.NoError(t, err)
	other, err := svc.ClientNegotiation("other", "alice", time.Hour)
	require.NoError(t, err)
	expired, err := svc.ClientNegotiation("enviromon", "alice", -time.Hour)
	require.NoError(t, err)
	negotiate := srv.URL + "/client/negotiate?hub=enviromon&negotiateVersion=1"
	tests := []struct {
		name   string
		method string
		url    string
		token  string
		want   int
	}{
		{"good header", http.MethodPost, negotiate, good.AccessToken, http.StatusOK},
		{"good query", http.MethodPost, negotiate + "&access_token=" + good.AccessToken, "", http.StatusOK},
		{"hub name in other case", http.MethodPost, srv.URL + "/client/negotiate?hub=EnviroMon", good.AccessToken, http.StatusOK},
		{"token for another hub", http.MethodPost, negotiate, other.AccessToken, http.StatusUnauthorized},
		{"expired", http.MethodPost, negotiate, expired.AccessToken, http.StatusUnauthorized},
		{"bad signature", http.MethodPost, negotiate, tamper(good.AccessToken), http.StatusUnauthorized},
		{"missing", http.MethodPost, negotiate, "", http.StatusUnauthorized},
		{"connect without token", http.MethodGet, srv.URL + "/client/?hub=enviromon&id=x", "", http.StatusUnauthorized},
		{"invalid hub", http.MethodPost, srv.URL + "/client/negotiate?hub=bad-hub", good.AccessToken, http.StatusBadRequest},
		{"negotiate by GET", http.MethodGet, negotiate, good.AccessToken, http.StatusMethodNotAllowed},
		{"connect without id", http.MethodGet, srv.URL + "/client/?hub=enviromon", good.AccessToken, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, restWithToken(t, tt.method, tt.url, tt.token, nil))
		})
	}
}

func TestVerifyTokenUser(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name   string
		claims string
		want   string
	}{
		{"sub", `{"aud":"a","exp":%d,"sub":"alice"}`, "alice"},
		{"nameid wins over sub", `{"aud":["a"],"exp":%d,"nameid":"bob","sub":"alice"}`, "bob"},
		{"asrs.s.uid", `{"aud":"a","exp":%d,"asrs.s.uid":"carol"}`, "carol"},
		{"anonymous", `{"aud":"a","exp":%d}`, ""},
		{"fractional exp", `{"aud":"a","exp":%d.5,"sub":"dave"}`, "dave"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := hs256(testKey, strings.Replace(tt.claims, "%d", itoa(now.Add(time.Minute).Unix()), 1))
			c, err := verifyToken([]byte(testKey), token, now)
			require.NoError(t, err)
			assert.Equal(t, tt.want, c.User)
			assert.Equal(t, []string{"a"}, c.Audience)
		})
	}
}

// tamper changes the claims of a token and keeps its signature.
func tamper(token string) string {
	parts := strings.Split(token, ".")
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"aud":"x","exp":99999999999}`))
	return strings.Join(parts, ".")
}

// unsigned is an alg "none" token, which must never pass.
func unsigned(aud string, exp time.Time) string {
	return b64(`{"alg":"none","typ":"JWT"}`) + "." +
		b64(`{"aud":"`+aud+`","exp":`+itoa(exp.Unix())+`}`) + "."
}

// hs256 signs raw claims JSON.
func hs256(key, claimsJSON string) string {
	head := b64(`{"alg":"HS256","typ":"JWT"}`) + "." + b64(claimsJSON)
	return head + "." + base64.RawURLEncoding.EncodeToString(mac([]byte(key), head))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
