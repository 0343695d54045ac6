package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	"github.com/enviromon/enviromon/app/api"
	"github.com/enviromon/enviromon/app/component"
)

// writeRoleExample is the app role the README and the aks overlay use.
const writeRoleExample = "Enviromon.Write"

// checkSecurity validates the settings of section "Security" of the README:
// write auth, CORS origins, CSP sources, trusted proxies.
func (c config) checkSecurity() []error {
	var errs []error
	switch {
	case c.AuthIssuer == "" && c.AuthAudience != "":
		errs = append(errs, errors.New("auth-audience is set without auth-issuer"))
	case c.AuthIssuer != "" && c.AuthAudience == "":
		errs = append(errs, errors.New("auth-issuer is set without auth-audience (Entra ID: the API app registration's client id)"))
	case c.AuthIssuer != "":
		if err := api.CheckIssuer(c.AuthIssuer); err != nil {
			errs = append(errs, fmt.Errorf("auth-issuer: %w", err))
		}
	case c.AuthRole != "":
		errs = append(errs, errors.New("auth-role is set without auth-issuer"))
	case loopbackOnly(c.Addr) != nil && !c.AuthInsecureOpenWrites:
		errs = append(errs, fmt.Errorf("addr %s is reachable from other machines, and with no auth-issuer anyone there could change calibrations and the device registry: "+
			"set -auth-issuer and -auth-audience (README, Security), listen on 127.0.0.1, or accept open writes with -auth-insecure-open-writes", c.Addr))
	}
	for _, o := range c.CORSOrigins {
		if err := api.CheckOrigin(o); err != nil {
			errs = append(errs, fmt.Errorf("cors-origins: %w", err))
		}
	}
	for _, o := range c.ConnectSrc {
		if err := api.CheckOrigin(o); err != nil {
			errs = append(errs, fmt.Errorf("connect-src: %w", err))
		}
	}
	for _, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				errs = append(errs, fmt.Errorf("trusted-proxies: %q is neither an address nor a CIDR", p))
			}
		}
	}
	if c.NegotiatePerMinute <= 0 {
		errs = append(errs, errors.New("negotiate-per-minute must be positive"))
	}
	return errs
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// authenticator returns the verifier of write and negotiate tokens, or nil
// when writes are open, which the start-up log then says, once. ctx bounds
// the first fetch of the issuer's keys: the app's run.
func (a *app) authenticator(ctx context.Context, cfg config) (api.Authenticator, error) {
	if cfg.AuthIssuer == "" {
		if loopbackOnly(a.httpAddr) == nil {
			a.log.Warn("writes are open: no auth-issuer, and the app listens on loopback alone; anyone on this machine may change calibrations", "addr", a.httpAddr)
		} else {
			a.log.Warn("writes are open to anyone who reaches the app (-auth-insecure-open-writes)", "addr", a.httpAddr)
		}
		return nil, nil
	}
	auth, err := api.NewOIDC(api.OIDCConfig{Issuer: cfg.AuthIssuer, Audience: cfg.AuthAudience, Log: a.log})
	if err != nil {
		return nil, err
	}
	if cfg.AuthRole == "" {
		a.log.Warn("writes take any valid token for the audience: no auth-role", "example", writeRoleExample)
	}
	// Fetch the keys now, to report a wrong issuer at start rather than at
	// the first write; a failure leaves the app serving (reads, ingest) and
	// is retried with the first token.
	a.goRun("auth keys", func() error {
		_, _ = auth.Refresh(ctx) // logged by the key set; bounded by its fetch timeout
		return nil
	})
	return auth, nil
}

// connectSources are the origins the dashboard's CSP lets it connect to:
// -connect-src, and the SignalR endpoint of the output component when the
// app runs it in-process.
func connectSources(cfg config, signalr string) []string {
	out := append([]string(nil), cfg.ConnectSrc...)
	if signalr != "" {
		out = append(out, signalr)
	}
	return out
}

// signalrOrigin is the origin of a bindings.azure.signalr component's
// endpoint, which its clientNegotiate hands to browsers: the endpoint
// metadata, or the Endpoint of its connection string. "" when neither is
// an http(s) URL.
func signalrOrigin(c component.Component) string {
	meta := func(name string) string { // as components-contrib reads it: any case
		for k, v := range c.Metadata {
			if strings.EqualFold(k, name) {
				return v
			}
		}
		return ""
	}
	endpoint := meta("endpoint")
	if endpoint == "" {
		for _, part := range strings.Split(meta("connectionString"), ";") {
			if k, v, ok := strings.Cut(part, "="); ok && strings.EqualFold(strings.TrimSpace(k), "Endpoint") {
				endpoint = strings.TrimSpace(v)
			}
		}
	}
	u, err := url.Parse(strings.TrimSpace(endpoint))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}
