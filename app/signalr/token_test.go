package signalr

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

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

// budget bounds the work one fuzz input may take, far above what a real
// input needs, so that only quadratic or endless work trips it.
const budget = time.Second

// FuzzToken: whatever the bearer token, verifyToken refuses it with
// ErrUnauthorized and no claims, or it is an unexpired HS256 token whose
// signature segment is exactly the one the key makes for its header and
// claims. A token signToken mints verifies to what it was minted with
// until its exp (plus leeway), and no edit of one of its bytes verifies.
func FuzzToken(f *testing.F) {
	now := time.Unix(1_700_000_000, 0)
	aud := "http://127.0.0.1:8088/api/hubs/enviromon/:send?api-version=2022-11-01"
	exp := itoa(now.Add(time.Hour).Unix())
	good, err := signToken([]byte(testKey), aud, now.Add(time.Hour), "alice")
	require.NoError(f, err)
	parts := strings.Split(good, ".")
	claims, sig := parts[1], parts[2]
	for _, token := range []string{
		good,
		hs256(testKey, `{"aud":["`+aud+`"],"exp":`+exp+`,"nameid":"bob"}`),
		hs256(testKey, `{"aud":"a","exp":`+exp+`.5,"nbf":`+itoa(now.Unix())+`}`),
		hs256(testKey, `{"aud":"a","exp":"`+exp+`"}`),
		hs256(testKey, `{"aud":"a","exp":1e400}`),
		hs256(testKey, `{"aud":"a","exp":-1e15,"nbf":1e15}`),
		hs256(testKey, `{"aud":"a","exp":`+exp+`,"exp":1}`),
		hs256(testKey, `[1,2]`),
		hs256(testKey, `{"aud":{"x":1},"exp":`+exp+`,"sub":5}`),
		hs256("another-key", `{"aud":"a","exp":`+exp+`}`),
		tamper(good),
		unsigned(aud, now.Add(time.Hour)),
		b64(`{"alg":"none"}`) + "." + claims + "." + sig,
		b64(`{"alg":"hs256"}`) + "." + claims + "." + sig,
		b64(`{"alg":"HS512","typ":"JWT"}`) + "." + claims + "." + sig,
		b64(`{"alg":"RS256","typ":"JWT"}`) + "." + claims + "." + sig,
		b64(`{"alg":["HS256"]}`) + "." + claims + "." + sig,
		good + ".", "." + good, good + "=", good + "\n", "\r\n" + good,
		strings.Replace(good, sig, sig[:9]+"\r\n"+sig[9:], 1),
		good[:len(good)-1] + string(base64url[strings.IndexByte(base64url, good[len(good)-1])^1]), // unused low bit set
		strings.Replace(good, ".", "=.", 1),
		"", ".", "..", "...", "a.b.c", "not-a-jwt", "Bearer " + good,
		"!!!.@@@.###", "eyJ.eyJ.", "\xff\xfe.\x00.\x80",
		strings.Repeat("A", 1<<12) + "." + claims + "." + sig,
		hs256(testKey, `{"aud":"a","exp":`+exp+`,"sub":`+strings.Repeat("[", 10001)+`}`), // deeper than encoding/json goes
	} {
		f.Add(token, aud, "alice", int32(3600), uint16(0), byte('x'))
	}
	f.Add(good, "", "", int32(-31), uint16(0xffff), byte('='))
	f.Add(good, "http://h/\xff", "\u2028\x00", int32(-30), uint16(1), byte('x'))
	f.Fuzz(func(t *testing.T, token, aud, user string, ttl int32, edit uint16, b byte) {
		start := time.Now()
		checkVerified(t, token, now)

		minted, err := signToken([]byte(testKey), aud, now.Add(time.Duration(ttl)*time.Second), user)
		require.NoError(t, err)
		c, err := verifyToken([]byte(testKey), minted, now)
		if ttl < -int32(leeway/time.Second) {
			require.ErrorIs(t, err, ErrUnauthorized, "expired %ds ago", -ttl)
		} else {
			require.NoError(t, err)
			assert.Equal(t, now.Unix()+int64(ttl), c.Expiry.Unix())
			if utf8.ValidString(aud) && utf8.ValidString(user) { // JSON replaces invalid UTF-8
				assert.Equal(t, []string{aud}, c.Audience)
				assert.Equal(t, user, c.User)
			}
		}
		if edited := editToken(minted, edit, b); edited != minted {
			_, err := verifyToken([]byte(testKey), edited, now)
			require.ErrorIs(t, err, ErrUnauthorized, "edited token %q verifies", edited)
		}
		if elapsed := time.Since(start); elapsed > budget {
			t.Fatalf("verifying took %s", elapsed)
		}
	})
}

const base64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// checkVerified asserts that verifyToken either refuses token or that the
// token is signed with testKey, written as signToken writes it.
func checkVerified(t *testing.T, token string, now time.Time) {
	t.Helper()
	c, err := verifyToken([]byte(testKey), token, now)
	if err != nil {
		require.ErrorIs(t, err, ErrUnauthorized)
		require.Zero(t, c, "claims returned with an error")
		return
	}
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3)
	h := hmac.New(sha256.New, []byte(testKey))
	h.Write([]byte(parts[0] + "." + parts[1]))
	require.Equal(t, base64.RawURLEncoding.EncodeToString(h.Sum(nil)), parts[2],
		"token %q verifies without the signature of its header and claims", token)
	var head struct{ Alg string }
	require.NoError(t, decodeSegment(parts[0], &head))
	require.Equal(t, "HS256", head.Alg)
	require.False(t, now.After(c.Expiry.Add(leeway)), "token expired at %s verifies", c.Expiry)
}

// editToken changes token in one place, chosen by edit: it replaces,
// inserts before or deletes the byte at a position, or cuts the token
// there. Positions count from the end, where the signature is, so that
// small values of edit reach it.
func editToken(token string, edit uint16, b byte) string {
	pos := len(token) - int(edit>>2)%(len(token)+1)
	switch edit & 3 {
	case 0:
		if pos == len(token) {
			return token + string([]byte{b})
		}
		return token[:pos] + string([]byte{b}) + token[pos+1:]
	case 1:
		return token[:pos] + string([]byte{b}) + token[pos:]
	case 2:
		if pos == len(token) {
			return token
		}
		return token[:pos] + token[pos+1:]
	default:
		return token[:pos]
	}
}

func mac(key []byte, signingInput string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(signingInput))
	return h.Sum(nil)
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// decodeSegment decodes one base64url segment of a token into v.
func decodeSegment(seg string, v any) error {
	data, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}
