// Package component reads Dapr Component manifests (the YAML files daprd
// loads with --resources-path) so that the same files configure components
// run in-process. It resolves what daprd would resolve before handing the
// metadata to a component: env secrets, envRef and {uuid}-style placeholders.
//
// Manifests decode into Dapr's own components/v1alpha1 types. The folder
// loading and the resolving are written here because daprd's cannot be
// reused: its loader is in dapr's internal packages, and its secret
// processor needs daprd's component store and reads the process
// environment itself.
package component

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Component is one resolved `kind: Component` manifest.
type Component struct {
	// Name is metadata.name, the name the app uses for the component.
	Name string
	// Type is spec.type, such as "state.sqlite" or "bindings.mqtt3".
	Type string
	// Version is spec.version, such as "v1"; it may be empty.
	Version string
	// Metadata is spec.metadata with every value resolved to a string:
	// secretKeyRef and envRef replaced, placeholders substituted.
	Metadata map[string]string
	// Scopes lists the app ids allowed to load the component; empty means all.
	Scopes []string
	// InitTimeout bounds the component's Init: spec.initTimeout, else
	// DefaultInitTimeout. Zero (a Component not read by LoadDir) means
	// DefaultInitTimeout too.
	InitTimeout time.Duration
	// IgnoreErrors is spec.ignoreErrors: daprd logs a failure to
	// initialise the component and goes on without it.
	IgnoreErrors bool

	// secret names the Metadata entries that came from a secretKeyRef, so
	// Redacted masks them whatever they are called.
	secret map[string]bool
}

// masked replaces a secret value in Redacted output.
const masked = "***"

// String returns the component with secret-looking values masked; it is
// safe to log.
func (c Component) String() string { return c.Redacted() }

// Redacted describes the component for logs: its name, type and version,
// its metadata in key order, with values masked when they came from a
// secretKeyRef or their name looks secret (see IsSecretName), its scopes,
// and its init timeout and ignoreErrors when they are not the defaults.
// Passwords in URL values are masked too, and a value with user info that
// does not parse as a URL is masked whole.
func (c Component) Redacted() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s", c.Name, c.Type)
	if c.Version != "" {
		fmt.Fprintf(&b, "/%s", c.Version)
	}
	b.WriteString(") {")
	keys := make([]string, 0, len(c.Metadata))
	for k := range c.Metadata {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: %q", k, c.redact(k))
	}
	b.WriteString("}")
	if len(c.Scopes) > 0 {
		fmt.Fprintf(&b, " scopes=%v", c.Scopes)
	}
	if c.InitTimeout != 0 && c.InitTimeout != DefaultInitTimeout {
		fmt.Fprintf(&b, " initTimeout=%s", c.InitTimeout)
	}
	if c.IgnoreErrors {
		b.WriteString(" ignoreErrors=true")
	}
	return b.String()
}

func (c Component) redact(name string) string {
	v := c.Metadata[name]
	if v == "" {
		return v
	}
	if c.secret[name] || IsSecretName(name) {
		return masked
	}
	u, err := url.Parse(v)
	switch {
	case err != nil:
		// url.Parse refuses a URL whose password or host holds a character
		// it would have to escape (a space, a bad %-escape), and then cannot
		// say where the password is.
		if _, rest, ok := strings.Cut(v, "://"); ok && strings.Contains(rest, "@") {
			return masked
		}
	case u.User != nil:
		if _, ok := u.User.Password(); ok {
			return u.Redacted()
		}
	}
	return v
}

// IsSecretName reports whether a metadata name looks like it holds a
// credential: it contains secret, password, token or connectionString, or
// ends in key (accountKey, accessKey, clientKey), case-insensitively.
// "keyPrefix" is not a secret.
func IsSecretName(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"secret", "password", "token", "connectionstring"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return strings.HasSuffix(n, "key")
}
