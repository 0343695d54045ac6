package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/internal/testenv"
)

func TestConfigSecurity(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(name string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == name {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	issuer := "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0"
	for _, tt := range []struct {
		name    string
		args    []string
		getenv  func(string) string
		wantErr string // "" when the config is accepted
	}{
		{"make run's default: loopback, open writes", nil, env(), ""},
		{"localhost", []string{"-addr", "localhost:8080"}, env(), ""},
		{"public address without auth", []string{"-addr", "0.0.0.0:8080"}, env(), "addr 0.0.0.0:8080 is reachable from other machines"},
		{"all interfaces without auth", []string{"-addr", ":8080"}, env(), "set -auth-issuer and -auth-audience"},
		{"public address, open writes said out loud", []string{"-addr", "0.0.0.0:8080", "-auth-insecure-open-writes"}, env(), ""},
		{"public address with auth", []string{"-addr", "0.0.0.0:8080", "-auth-issuer", issuer, "-auth-audience", "api-client-id"}, env(), ""},
		{"auth from the environment", []string{"-addr", "0.0.0.0:8080"},
			env("ENVIROMON_AUTH_ISSUER", issuer, "ENVIROMON_AUTH_AUDIENCE", "api-client-id", "ENVIROMON_AUTH_ROLE", "Enviromon.Write"), ""},
		{"open writes from the environment", []string{"-addr", "0.0.0.0:8080"}, env("ENVIROMON_AUTH_INSECURE_OPEN_WRITES", "true"), ""},
		{"issuer without audience", []string{"-auth-issuer", issuer}, env(), "auth-issuer is set without auth-audience"},
		{"audience without issuer", []string{"-auth-audience", "x"}, env(), "auth-audience is set without auth-issuer"},
		{"role without issuer", []string{"-auth-role", "Enviromon.Write"}, env(), "auth-role is set without auth-issuer"},
		{"plain HTTP issuer", []string{"-auth-issuer", "http://login.example.com/t", "-auth-audience", "a"}, env(), "not an https URL"},
		{"wildcard CORS origin", []string{"-cors-origins", "*"}, env(), `cors-origins: origin "*": a wildcard would let any web site call the API`},
		{"wildcard CORS origin among others", []string{"-cors-origins", "https://dash.example, *"}, env(), "a wildcard"},
		{"wildcard CORS origin from the environment", nil, env("ENVIROMON_CORS_ORIGINS", "https://*.example.com"), "a wildcard"},
		{"CORS origin with a path", []string{"-cors-origins", "https://dash.example/app"}, env(), "is not http(s)://host[:port]"},
		{"listed CORS origins", []string{"-cors-origins", "https://dash.example,http://127.0.0.1:5173"}, env(), ""},
		{"connect-src", []string{"-connect-src", "https://x.service.signalr.net"}, env(), ""},
		{"connect-src that is no origin", []string{"-connect-src", "https://x; script-src *"}, env(), "connect-src"},
		{"trusted proxies", []string{"-trusted-proxies", "10.244.0.0/16, 192.0.2.7"}, env(), ""},
		{"trusted proxy that is no address", []string{"-trusted-proxies", "ingress"}, env(), `trusted-proxies: "ingress" is neither`},
		{"no negotiations", []string{"-negotiate-per-minute", "0"}, env(), "negotiate-per-minute must be positive"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig(tt.args, tt.getenv, io.Discard)
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

// TestAuthEndToEnd runs the app in embedded mode with an in-test issuer:
// a write needs a token with the write role, negotiate a token, whose user
// the SignalR access token names and the local SignalR service accepts;
// every answer carries the CSP with the local SignalR service's origin.
func TestAuthEndToEnd(t *testing.T) {
	iss := testenv.StartIssuer(t)
	a, p, _ := startEmbedded(t, "-auth-issuer", iss.URL, "-auth-audience", iss.Audience, "-auth-role", "Enviromon.Write")
	base := "http://" + a.httpAddr
	writer := iss.Token(t, iss.Claims("writer-oid", "Enviromon.Write"))
	reader := iss.Token(t, iss.Claims("alice-oid"))

	cal := `{"temperatureSlope":2,"temperatureYIntercept":0}`
	assert.Equal(t, http.StatusUnauthorized, doAuth(t, http.MethodPut, base+"/api/calibration/d1", cal, "").StatusCode)
	assert.Equal(t, http.StatusForbidden, doAuth(t, http.MethodPut, base+"/api/calibration/d1", cal, reader).StatusCode)
	assert.Equal(t, http.StatusNotFound, doAuth(t, http.MethodGet, base+"/api/calibration/d1", "", "").StatusCode, "nothing stored by refused writes")
	require.Equal(t, http.StatusOK, doAuth(t, http.MethodPut, base+"/api/calibration/d1", cal, writer).StatusCode)
	got := doAuth(t, http.MethodGet, base+"/api/calibration/d1", "", "")
	require.Equal(t, http.StatusOK, got.StatusCode, "reads stay open")
	var stored map[string]float64
	require.NoError(t, json.NewDecoder(got.Body).Decode(&stored))
	assert.Equal(t, 2.0, stored["temperatureSlope"])

	assert.Equal(t, http.StatusOK, doAuth(t, http.MethodPost, base+"/api/negotiate?negotiateVersion=1", "", "").StatusCode, "an anonymous viewer")
	assert.Equal(t, http.StatusUnauthorized, doAuth(t, http.MethodPost, base+"/api/negotiate?negotiateVersion=1", "", "not-a-token").StatusCode)
	resp := doAuth(t, http.MethodPost, base+"/api/negotiate?negotiateVersion=1", "", reader)
	require.Equal(t, http.StatusOK, resp.StatusCode, "negotiate takes any valid token, no role")
	var n struct{ URL, AccessToken string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&n))
	var claims jwt.MapClaims
	_, _, err := jwt.NewParser().ParseUnverified(n.AccessToken, &claims)
	require.NoError(t, err)
	assert.Equal(t, "alice-oid", claims["sub"], "the SignalR access token names the caller")

	// The local SignalR service takes the token, as the browser's client
	// presents it.
	u, err := url.Parse(n.URL)
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprintf("127.0.0.1:%d", p.signalr), u.Host)
	neg := doAuth(t, http.MethodPost, fmt.Sprintf("http://%s/client/negotiate?%s&negotiateVersion=1", u.Host, u.RawQuery), "", n.AccessToken)
	assert.Equal(t, http.StatusOK, neg.StatusCode)

	csp := doAuth(t, http.MethodGet, base+"/healthz", "", "").Header.Get("Content-Security-Policy")
	assert.Contains(t, csp, fmt.Sprintf("connect-src 'self' http://127.0.0.1:%d ws://127.0.0.1:%d;", p.signalr, p.signalr))
	assert.Contains(t, csp, "script-src 'self';")
}

// doAuth sends a request with an optional bearer token; the body is read
// and closed when the test ends.
func doAuth(t *testing.T, method, url, body, token string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// runLogged runs the app as main does, with env and args, until the test
// ends, and returns its base URL and everything it logged (at -log-level
// debug). stop ends it; what it logs while stopping is in the buffer after.
func runLogged(t *testing.T, env map[string]string, args ...string) (base string, logs *testenv.SyncBuffer, stop func()) {
	t.Helper()
	dir := t.TempDir()
	p := newPorts(t)
	args = append(append(appArgs(dir, embeddedSetup(t, dir, p), p), "-log-level", "debug"), args...)
	ctx, cancel := context.WithCancel(context.Background())
	stdout, logs := &testenv.SyncBuffer{}, &testenv.SyncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, func(name string) string { return env[name] }, stdout, logs) }()
	var once bool
	stop = func() {
		if !once {
			once = true
			cancel()
			require.NoError(t, <-done)
		}
	}
	t.Cleanup(stop)
	running := regexp.MustCompile(`open (http://[^/\s]+)/`)
	deadline := time.After(30 * time.Second)
	for {
		if m := running.FindStringSubmatch(stdout.String()); m != nil {
			return m[1], logs, stop
		}
		select {
		case err := <-done:
			once = true
			t.Fatalf("the app stopped: %v\n%s", err, logs.String())
		case <-deadline:
			t.Fatalf("the app did not start:\n%s", logs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestOpenWritesWarnOnce: on loopback without an issuer writes are open,
// and the start-up log says so once.
func TestOpenWritesWarnOnce(t *testing.T) {
	base, logs, stop := runLogged(t, nil)
	assert.Equal(t, http.StatusOK, doAuth(t, http.MethodPut, base+"/api/calibration/d1", `{"temperatureSlope":1}`, "").StatusCode)
	stop()
	assert.Equal(t, 1, strings.Count(logs.String(), "writes are open"), logs.String())
}

// TestSecretsNeverLogged runs the app with known secrets in its
// environment and in requests (bearer tokens, a SAS token, the SignalR
// access key and the tokens it signs, a device's keys, the sidecar tokens),
// failing requests included, and finds none of them in what it logged at
// debug level, start to stop.
func TestSecretsNeverLogged(t *testing.T) {
	iss := testenv.StartIssuer(t)
	secrets := map[string]string{
		"APP_API_TOKEN":      "app-api-token-1b9e6f0c",
		"DAPR_API_TOKEN":     "dapr-api-token-7d2a4c5e",
		"SIGNALR_ACCESS_KEY": "c2lnbmFsci1hY2Nlc3Mta2V5LTRmOGM5YjJh",
	}
	base, logs, stop := runLogged(t, secrets,
		"-auth-issuer", iss.URL, "-auth-audience", iss.Audience, "-auth-role", "Enviromon.Write")

	writer := iss.Token(t, iss.Claims("writer-oid", "Enviromon.Write"))
	reader := iss.Token(t, iss.Claims("reader-oid"))
	expired := iss.Claims("late-oid", "Enviromon.Write")
	expired["exp"] = time.Now().Add(-time.Hour).Unix()
	expiredToken := iss.Token(t, expired)
	wrongAudience := iss.Claims("other-oid", "Enviromon.Write")
	wrongAudience["aud"] = "api://someone-else"
	misdirected := iss.Token(t, wrongAudience)
	const sas = "SharedAccessSignature sr=localhost%2Fdevices%2Fd1&sig=c2FzLXNpZ25hdHVyZS1zZWNyZXQ%3D&se=4102444800"
	secrets["bearer (writer)"], secrets["bearer (reader)"] = writer, reader
	secrets["bearer (expired)"], secrets["bearer (wrong audience)"] = expiredToken, misdirected
	secrets["SAS signature"] = "c2FzLXNpZ25hdHVyZS1zZWNyZXQ"

	for _, r := range []struct{ method, path, body, token string }{
		{http.MethodPut, "/api/calibration/d1", `{"temperatureSlope":2}`, writer},
		{http.MethodPut, "/api/calibration/d1", `{"temperatureSlope":2}`, reader},
		{http.MethodPut, "/api/calibration/d1", `{"temperatureSlope":2}`, expiredToken},
		{http.MethodPut, "/api/calibration/d1", `{"temperatureSlope":2}`, misdirected},
		{http.MethodPut, "/api/calibration/d1", `{"temperatureSlope":"x"}`, writer},
		{http.MethodDelete, "/api/calibration/d1?access_token=" + reader, "", ""},
		{http.MethodGet, "/api/devices?access_token=" + writer, "", ""},
		{http.MethodPost, "/api/negotiate", "", expiredToken},
	} {
		doAuth(t, r.method, base+r.path, r.body, r.token)
	}

	// A device registered (its keys are secrets), then a SAS token that
	// does not verify.
	resp := doAuth(t, http.MethodPost, base+"/api/registry/devices", `{"deviceId":"d1"}`, writer)
	if resp.StatusCode != http.StatusNotFound { // the registry's API, where it exists
		require.Equal(t, http.StatusOK, resp.StatusCode/100*100, "register: %s", resp.Status)
		var device struct{ PrimaryKey, SecondaryKey, ConnectionString string }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&device))
		require.NotEmpty(t, device.PrimaryKey)
		secrets["device primary key"], secrets["device secondary key"] = device.PrimaryKey, device.SecondaryKey
	}
	req, err := http.NewRequest(http.MethodPost, base+"/api/telemetry", strings.NewReader(`{"deviceId":"d1","temperature":1}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", sas)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "a SAS token that does not verify")

	// A live connection's token, the one the browser puts in SignalR's
	// access_token query parameter, and a forged one.
	resp = doAuth(t, http.MethodPost, base+"/api/negotiate", "", reader)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var n struct{ URL, AccessToken string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&n))
	secrets["SignalR access token"] = n.AccessToken
	u, err := url.Parse(n.URL)
	require.NoError(t, err)
	for _, token := range []string{n.AccessToken, n.AccessToken[:len(n.AccessToken)-2] + "xx"} {
		doAuth(t, http.MethodPost, fmt.Sprintf("http://%s/client/negotiate?%s&access_token=%s", u.Host, u.RawQuery, token), "", "")
	}

	stop()
	text := logs.String()
	require.Contains(t, text, "bearer token refused", "the run logged at debug level, refusals included")
	require.Contains(t, text, iss.URL, "and the start-up configuration")
	for name, secret := range secrets {
		for _, form := range slices.Compact([]string{secret, url.QueryEscape(secret)}) {
			if i := strings.Index(text, form); i >= 0 {
				t.Errorf("%s appears in the log: …%s…", name, text[max(0, i-200):min(len(text), i+len(form)+50)])
			}
		}
	}
	// A JWT's signature is its last segment: no signature of any token
	// minted here shows either.
	for name, secret := range secrets {
		if parts := strings.Split(secret, "."); len(parts) == 3 {
			assert.NotContains(t, text, parts[2], "%s's signature appears in the log", name)
		}
	}
	if t.Failed() {
		t.Log(text)
	}
}
