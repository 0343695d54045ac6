package component

import (
	"crypto/rand"
	"fmt"
	"os"
	"strings"

	"github.com/dapr/dapr/pkg/apis/common"
)

// EnvSecretStore is the secret store type whose lookups LoadDir performs
// itself: a secretKeyRef reads an environment variable.
const EnvSecretStore = "secretstores.local.env"

// resolver turns manifest metadata into the strings daprd would pass to the
// component's Init.
type resolver struct {
	opts   Options
	stores map[string]manifest // loaded components by name, to find auth.secretStore
}

func newResolver(ms []manifest, opts Options) *resolver {
	stores := make(map[string]manifest, len(ms))
	for _, m := range ms {
		stores[m.Name] = m
	}
	return &resolver{opts: opts, stores: stores}
}

func (r *resolver) resolve(m manifest) (Component, error) {
	timeout, err := initTimeout(m.Spec.InitTimeout)
	if err != nil {
		return Component{}, fmt.Errorf("component %q: %w", m.Name, err)
	}
	c := Component{
		Name:         m.Name,
		Type:         m.Spec.Type,
		Version:      m.Spec.Version,
		Metadata:     make(map[string]string, len(m.Spec.Metadata)),
		Scopes:       m.Scopes,
		InitTimeout:  timeout,
		IgnoreErrors: m.Spec.IgnoreErrors,
		secret:       map[string]bool{},
	}
	for _, it := range m.Spec.Metadata {
		v, err := r.value(m, it)
		if err != nil {
			return Component{}, fmt.Errorf("component %q, metadata %q: %w", c.Name, it.Name, err)
		}
		if it.SecretKeyRef.Name != "" {
			c.secret[it.Name] = true
		}
		if v, err = r.substitute(v); err != nil {
			return Component{}, fmt.Errorf("component %q, metadata %q: %w", c.Name, it.Name, err)
		}
		c.Metadata[it.Name] = v
	}
	return c, nil
}

// value resolves one entry in daprd's order: envRef only when there is no
// value (`value:` with nothing after it is none), then a secretKeyRef
// replaces whatever value there was. A value is a string without its
// quotes, anything else (number, bool, object) its JSON text, as daprd
// passes it.
func (r *resolver) value(m manifest, it common.NameValuePair) (string, error) {
	v := it.Value.String()
	if !it.HasValue() && it.EnvRef != "" {
		if !envAllowed(it.EnvRef) {
			return "", fmt.Errorf("envRef %q: daprd refuses DAPR_* and APP_API_TOKEN variables", it.EnvRef)
		}
		v = r.opts.Getenv(it.EnvRef)
	}
	switch {
	case it.SecretKeyRef.Name == "":
		return v, nil
	case r.opts.LeaveSecrets:
		return "", nil
	}
	return r.secret(m, it.SecretKeyRef.Name, it.SecretKeyRef.Key)
}

// secret looks a secretKeyRef up as secretstores.local.env does: it reads
// the variable <prefix><name> and answers it under the key <name>, so a
// key other than the name would find nothing in daprd either. The prefix
// comes from the local.env store that auth.secretStore names. Without
// auth.secretStore the variable is read all the same; daprd would leave
// such a reference unresolved outside Kubernetes and read a Kubernetes
// secret inside it, so manifests shared with daprd should name the store.
func (r *resolver) secret(m manifest, name, key string) (string, error) {
	prefix := ""
	if store := m.Auth.SecretStore; store != "" {
		s, ok := r.stores[store]
		switch {
		case !ok:
			return "", fmt.Errorf("secretKeyRef %q: auth.secretStore %q is not among the loaded components", name, store)
		case !strings.EqualFold(s.Spec.Type, EnvSecretStore):
			return "", fmt.Errorf("secretKeyRef %q: auth.secretStore %q is a %s; in-process only %s secrets can be resolved", name, store, s.Spec.Type, EnvSecretStore)
		}
		for _, it := range s.Spec.Metadata {
			if strings.EqualFold(it.Name, "prefix") {
				prefix = it.Value.String()
			}
		}
	}
	if key != "" && key != name {
		return "", fmt.Errorf("secretKeyRef %q has key %q: %s answers only the key equal to the name, so give key %q or none", name, key, EnvSecretStore, name)
	}
	if !envAllowed(prefix + name) {
		return "", fmt.Errorf("secretKeyRef %q: %s refuses DAPR_* and APP_API_TOKEN variables", name, EnvSecretStore)
	}
	v := r.opts.Getenv(prefix + name)
	if v == "" {
		return "", fmt.Errorf("secretKeyRef %q: environment variable %s is not set", name, prefix+name)
	}
	return v, nil
}

// substitute replaces the placeholders daprd replaces: every {uuid} with a
// new random UUID, {podName}, {namespace} and {appID}.
func (r *resolver) substitute(v string) (string, error) {
	if parts := strings.Split(v, "{uuid}"); len(parts) > 1 {
		// One pass: replacing one at a time rescans and copies the value
		// for each placeholder, quadratic in a long value.
		var b strings.Builder
		b.WriteString(parts[0])
		for _, p := range parts[1:] {
			u, err := newUUID()
			if err != nil {
				return "", err
			}
			b.WriteString(u)
			b.WriteString(p)
		}
		v = b.String()
	}
	if strings.Contains(v, "{podName}") {
		pod, err := r.podName()
		if err != nil {
			return "", err
		}
		v = strings.ReplaceAll(v, "{podName}", pod)
	}
	v = strings.ReplaceAll(v, "{namespace}", r.opts.Getenv("NAMESPACE")+"."+r.opts.AppID)
	return strings.ReplaceAll(v, "{appID}", r.opts.AppID), nil
}

// podName is POD_NAME, as daprd reads it in Kubernetes, else the host name
// (daprd outside Kubernetes refuses {podName}; a host name is the useful
// equivalent for one process per host).
func (r *resolver) podName() (string, error) {
	if p := r.opts.Getenv("POD_NAME"); p != "" {
		return p, nil
	}
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "", fmt.Errorf("{podName}: POD_NAME is not set and the host name is unknown: %v", err)
	}
	return h, nil
}

// envAllowed is daprd's deny list for envRef and local.env lookups.
func envAllowed(name string) bool {
	n := strings.ToUpper(name)
	return n != "" && n != "APP_API_TOKEN" && !strings.HasPrefix(n, "DAPR_") && !strings.Contains(n, " ")
}

// newUUID returns a random (version 4) UUID.
func newUUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("uuid: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}
