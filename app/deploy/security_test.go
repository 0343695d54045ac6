package deploy

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"

	"github.com/dapr/dapr/pkg/injector/consts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// The Dapr annotations that give daprd its tokens, from Secrets whose key
// "token" the injector reads (dapr@v1.16.0
// pkg/injector/patcher/sidecar_container.go).
const (
	apiTokenAnnotation = "dapr.io/api-token-secret"
	appTokenAnnotation = "dapr.io/app-token-secret"
	tokenKey           = "token"
)

// entraIssuer is an Entra ID v2 issuer of one tenant (not common or
// organizations, whose discovery documents name no single issuer).
var entraIssuer = regexp.MustCompile(`^https://login\.microsoftonline\.com/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/v2\.0$`)

// envValue returns the literal value of the container's variable name.
func envValue(c *corev1.Container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name && e.ValueFrom == nil {
			return e.Value, true
		}
	}
	return "", false
}

// secretRef returns the Secret and key the container's variable name
// comes from.
func secretRef(c *corev1.Container, name string) (secret, key string) {
	for _, e := range c.Env {
		if e.Name == name && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			return e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key
		}
	}
	return "", ""
}

// setting is what the app reads for flag: the argument, else its
// ENVIROMON_ twin.
func (a appDeployment) setting(flag string) string {
	if v, ok := a.args[flag]; ok {
		return v
	}
	v, _ := envValue(a.app, "ENVIROMON_"+strings.ToUpper(strings.ReplaceAll(flag, "-", "_")))
	return v
}

// checkWriteAuth applies the app's start-up rule to the Deployment: on an
// address other machines reach, writes need an issuer and an audience, or
// the explicit -auth-insecure-open-writes (else the app refuses to start).
func checkWriteAuth(a appDeployment) []string {
	host, _, err := net.SplitHostPort(a.setting("addr"))
	if err != nil {
		return []string{fmt.Sprintf("-addr %q: %v", a.setting("addr"), err)}
	}
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return nil
	}
	issuer, audience := a.setting("auth-issuer"), a.setting("auth-audience")
	switch {
	case issuer != "" && audience != "":
		return nil
	case issuer != "" || audience != "":
		return []string{fmt.Sprintf("auth-issuer %q and auth-audience %q: the app needs both", issuer, audience)}
	case a.setting("auth-insecure-open-writes") == "true":
		return nil
	}
	return []string{fmt.Sprintf("the app listens on %s with no auth-issuer: it refuses to start (writes would be open to all)", a.setting("addr"))}
}

// checkAKSAuth: on AKS writes always need an Entra ID token with the write
// role, and the dashboard may connect to the SignalR service.
func checkAKSAuth(a appDeployment, signalrEndpoint string) []string {
	var bad []string
	if v := a.setting("auth-issuer"); !entraIssuer.MatchString(v) {
		bad = append(bad, fmt.Sprintf("ENVIROMON_AUTH_ISSUER %q is not https://login.microsoftonline.com/{tenant id}/v2.0", v))
	}
	if v := a.setting("auth-audience"); !uuidPattern.MatchString(v) {
		bad = append(bad, fmt.Sprintf("ENVIROMON_AUTH_AUDIENCE %q is not an app registration's client id (the aud of v2 tokens)", v))
	}
	if v := a.setting("auth-role"); v != "Enviromon.Write" {
		bad = append(bad, fmt.Sprintf("ENVIROMON_AUTH_ROLE %q, want Enviromon.Write (Terraform's app role)", v))
	}
	if v := a.setting("auth-insecure-open-writes"); v != "" && v != "false" {
		bad = append(bad, fmt.Sprintf("auth-insecure-open-writes %q on AKS", v))
	}
	if v := a.setting("connect-src"); v != signalrEndpoint {
		bad = append(bad, fmt.Sprintf("ENVIROMON_CONNECT_SRC %q, want the SignalR endpoint %q (the dashboard's CSP)", v, signalrEndpoint))
	}
	return append(bad, checkWriteAuth(a)...)
}

// checkDaprTokens: daprd gets its two tokens from two Secrets (one token
// for both ways would let whoever holds APP_API_TOKEN call daprd), and the
// app container gets the same two, so each side checks what the other
// sends. The injector's own code builds the daprd container.
func checkDaprTokens(dep *appsv1.Deployment) []string {
	var bad []string
	ann := dep.Spec.Template.Annotations
	apiSecret, appSecret := ann[apiTokenAnnotation], ann[appTokenAnnotation]
	if apiSecret == "" || appSecret == "" {
		return []string{fmt.Sprintf("pod template: %s %q and %s %q: want both", apiTokenAnnotation, apiSecret, appTokenAnnotation, appSecret)}
	}
	if apiSecret == appSecret {
		bad = append(bad, fmt.Sprintf("%s and %s name the same Secret %q: the injector reads its key %q for both, so both tokens would be one", apiTokenAnnotation, appTokenAnnotation, apiSecret, tokenKey))
	}
	pod, err := injectSidecar(dep)
	if err != nil {
		return append(bad, err.Error())
	}
	daprd, app := container(pod, consts.SidecarContainerName), container(pod, appName)
	if daprd == nil || app == nil {
		return append(bad, "after injection: no daprd or app container")
	}
	for _, want := range []struct{ env, secret string }{
		{"DAPR_API_TOKEN", apiSecret},
		{"APP_API_TOKEN", appSecret},
	} {
		for _, c := range []*corev1.Container{daprd, app} {
			if s, k := secretRef(c, want.env); s != want.secret || k != tokenKey {
				bad = append(bad, fmt.Sprintf("container %s: %s from Secret %q key %q, want Secret %q key %q", c.Name, want.env, s, k, want.secret, tokenKey))
			}
		}
	}
	return bad
}

// checkTokenSecrets: a Secret of the overlay named by the annotations holds
// the key the injector reads; on AKS none is committed at all.
func checkTokenSecrets(dep *appsv1.Deployment, objs []object, committed bool) []string {
	var bad []string
	for _, name := range []string{dep.Spec.Template.Annotations[apiTokenAnnotation], dep.Spec.Template.Annotations[appTokenAnnotation]} {
		var found *corev1.Secret
		for _, s := range objectsOf[corev1.Secret](objs) {
			if s.Name == name {
				found = s
			}
		}
		switch {
		case found == nil && committed:
			bad = append(bad, fmt.Sprintf("no Secret %q in the overlay", name))
		case found != nil && !committed:
			bad = append(bad, fmt.Sprintf("Secret %q is committed: create it beside the overlay (README)", name))
		case found != nil && len(found.Data[tokenKey]) == 0 && found.StringData[tokenKey] == "":
			bad = append(bad, fmt.Sprintf("Secret %q has no key %q", name, tokenKey))
		}
	}
	return bad
}

// TestSecurityWiring: in each overlay the app starts with writes guarded
// or explicitly open, and the tokens between daprd and the app are wired
// both ways; on AKS writes always need an Entra ID token.
func TestSecurityWiring(t *testing.T) {
	root := repoRoot(t)
	for _, dir := range overlays {
		t.Run(dir, func(t *testing.T) {
			objs := renderedObjects(t, root, dir)
			a, err := findApp(objs)
			require.NoError(t, err)
			assert.Empty(t, checkWriteAuth(a))
			assert.Empty(t, checkDaprTokens(a.dep))
			aks := dir == "deploy/overlays/aks"
			assert.Empty(t, checkTokenSecrets(a.dep, objs, !aks))
			if aks {
				env := readEnv(t, root+"/"+dir+"/azure.env")
				assert.Empty(t, checkAKSAuth(a, env["SIGNALR_ENDPOINT"]))
				assert.Equal(t, env["AUTH_ISSUER"], a.setting("auth-issuer"))
				assert.Equal(t, env["AUTH_AUDIENCE"], a.setting("auth-audience"))
			}
		})
	}
}

func TestSecurityWiringRefuses(t *testing.T) {
	root := repoRoot(t)
	requireOverlay(t, root, "deploy/overlays/aks")
	setEnv := func(c *corev1.Container, name, value string) {
		for i := range c.Env {
			if c.Env[i].Name == name {
				c.Env[i].Value = value
				return
			}
		}
		c.Env = append(c.Env, corev1.EnvVar{Name: name, Value: value})
	}
	dropEnv := func(c *corev1.Container, name string) {
		for i := range c.Env {
			if c.Env[i].Name == name {
				c.Env = append(c.Env[:i], c.Env[i+1:]...)
				return
			}
		}
	}
	signalr := "https://enviromon-example.service.signalr.net"
	for _, tc := range []struct {
		name   string
		mutate func(a appDeployment, objs []object)
		check  func(a appDeployment, objs []object) []string
		want   string
	}{
		{"no issuer on a public address",
			func(a appDeployment, _ []object) { dropEnv(a.app, "ENVIROMON_AUTH_ISSUER") },
			func(a appDeployment, _ []object) []string { return checkWriteAuth(a) },
			"auth-issuer \"\" and auth-audience"},
		{"no auth at all on a public address",
			func(a appDeployment, _ []object) {
				dropEnv(a.app, "ENVIROMON_AUTH_ISSUER")
				dropEnv(a.app, "ENVIROMON_AUTH_AUDIENCE")
			},
			func(a appDeployment, _ []object) []string { return checkWriteAuth(a) },
			"it refuses to start"},
		{"Entra's common endpoint",
			func(a appDeployment, _ []object) {
				setEnv(a.app, "ENVIROMON_AUTH_ISSUER", "https://login.microsoftonline.com/common/v2.0")
			},
			func(a appDeployment, _ []object) []string { return checkAKSAuth(a, signalr) },
			"is not https://login.microsoftonline.com/{tenant id}/v2.0"},
		{"open writes on AKS",
			func(a appDeployment, _ []object) { setEnv(a.app, "ENVIROMON_AUTH_INSECURE_OPEN_WRITES", "true") },
			func(a appDeployment, _ []object) []string { return checkAKSAuth(a, signalr) },
			"auth-insecure-open-writes \"true\" on AKS"},
		{"no write role",
			func(a appDeployment, _ []object) { dropEnv(a.app, "ENVIROMON_AUTH_ROLE") },
			func(a appDeployment, _ []object) []string { return checkAKSAuth(a, signalr) },
			"ENVIROMON_AUTH_ROLE \"\""},
		{"CSP without the SignalR service",
			func(a appDeployment, _ []object) { dropEnv(a.app, "ENVIROMON_CONNECT_SRC") },
			func(a appDeployment, _ []object) []string { return checkAKSAuth(a, signalr) },
			"ENVIROMON_CONNECT_SRC \"\""},
		{"misspelt token annotation",
			func(a appDeployment, _ []object) {
				ann := a.dep.Spec.Template.Annotations
				ann["dapr.io/api-token-secrets"] = ann[apiTokenAnnotation]
				delete(ann, apiTokenAnnotation)
			},
			func(a appDeployment, _ []object) []string { return checkDaprTokens(a.dep) },
			apiTokenAnnotation},
		{"one Secret for both tokens",
			func(a appDeployment, _ []object) {
				a.dep.Spec.Template.Annotations[appTokenAnnotation] = a.dep.Spec.Template.Annotations[apiTokenAnnotation]
			},
			func(a appDeployment, _ []object) []string { return checkDaprTokens(a.dep) },
			"name the same Secret"},
		{"app reads another key",
			func(a appDeployment, _ []object) {
				for _, e := range a.app.Env {
					if e.Name == "APP_API_TOKEN" {
						e.ValueFrom.SecretKeyRef.Key = "app-token"
					}
				}
			},
			func(a appDeployment, _ []object) []string { return checkDaprTokens(a.dep) },
			`container enviromon: APP_API_TOKEN from Secret "enviromon-app-api-token" key "app-token"`},
		{"app without DAPR_API_TOKEN",
			func(a appDeployment, _ []object) { dropEnv(a.app, "DAPR_API_TOKEN") },
			func(a appDeployment, _ []object) []string { return checkDaprTokens(a.dep) },
			`container enviromon: DAPR_API_TOKEN from Secret ""`},
		{"token Secret committed",
			func(a appDeployment, objs []object) {},
			func(a appDeployment, objs []object) []string {
				s := &corev1.Secret{Data: map[string][]byte{tokenKey: []byte("x")}}
				s.Name = "enviromon-app-api-token"
				return checkTokenSecrets(a.dep, append(objs, object{value: s}), false)
			},
			"is committed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := renderedObjects(t, root, "deploy/overlays/aks")
			a, err := findApp(objs)
			require.NoError(t, err)
			tc.mutate(a, objs)
			assert.Contains(t, strings.Join(tc.check(a, objs), "\n"), tc.want)
		})
	}
	t.Run("local Secret without the key", func(t *testing.T) {
		objs := renderedObjects(t, root, "deploy/overlays/local")
		a, err := findApp(objs)
		require.NoError(t, err)
		for _, s := range objectsOf[corev1.Secret](objs) {
			delete(s.Data, tokenKey)
			delete(s.StringData, tokenKey)
		}
		assert.Contains(t, strings.Join(checkTokenSecrets(a.dep, objs, true), "\n"), `has no key "token"`)
	})
}
