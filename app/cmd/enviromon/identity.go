package main

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"

	"github.com/enviromon/enviromon/app/broker"
	"github.com/enviromon/enviromon/app/component"
	"github.com/enviromon/enviromon/app/iothub"
	"github.com/enviromon/enviromon/app/pipeline"
	"github.com/enviromon/enviromon/app/registry"
)

// defaultHubHost is the host name in the connection strings the registry
// hands out unless -hub-host says otherwise: the plain broker listens on
// loopback only, so devices there reach it as localhost.
const defaultHubHost = "localhost"

// newRegistry opens the device registry in the state store.
func newRegistry(cfg config, store pipeline.Store) (*registry.Registry, error) {
	reg, err := registry.New(store, registry.Config{Host: cfg.HubHost})
	if err != nil {
		return nil, fmt.Errorf("device registry: %w", err)
	}
	return reg, nil
}

// serviceCredential makes up, for this run, the credential of the app's
// own MQTT client: the input binding, the one client that may read every
// device's telemetry. It never leaves the process.
func serviceCredential(appID string) (*broker.Credential, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("broker service credential: %w", err)
	}
	return &broker.Credential{Username: appID, Password: base64.RawURLEncoding.EncodeToString(b)}, nil
}

// withService returns the input binding c with cred in its URL when it is
// bindings.mqtt3 reading from the embedded broker at brokerAddr (the
// binding sends a URL's user and password in its CONNECT), and as it is
// otherwise: an external broker, or a URL that carries credentials of its
// own. The metadata is copied, not changed in place, and the component is
// not logged again: the URL now holds a secret.
func withService(c component.Component, cred broker.Credential, brokerAddr string) component.Component {
	if c.Type != "bindings.mqtt3" {
		return c
	}
	u, err := url.Parse(c.Metadata["url"])
	if err != nil || u.User != nil || !sameBroker(u.Host, brokerAddr) {
		return c
	}
	u.User = url.UserPassword(cred.Username, cred.Password)
	c.Metadata = maps.Clone(c.Metadata)
	c.Metadata["url"] = u.String()
	return c
}

// sameBroker reports whether a client dialing dial reaches a broker
// listening on listen: the same port, and the same host, or a loopback
// one dialed where the broker listens on loopback.
func sameBroker(dial, listen string) bool {
	dh, dp, err1 := net.SplitHostPort(dial)
	lh, lp, err2 := net.SplitHostPort(listen)
	if err1 != nil || err2 != nil || dp != lp {
		return false
	}
	return dh == lh || broker.Loopback(dial) && broker.Loopback(listen)
}

// brokerTLS adds the TLS listener of -broker-tls-cert and -broker-tls-key
// to bc, if they are given.
func brokerTLS(cfg config, bc *broker.Config) error {
	if cfg.BrokerTLSCert == "" {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.BrokerTLSCert, cfg.BrokerTLSKey)
	if err != nil {
		return fmt.Errorf("broker TLS: %w", err)
	}
	bc.TLSAddr = cfg.BrokerTLSAddr
	bc.TLS = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	return nil
}

// checkIdentity validates the settings of the README's "Device identity".
func (c config) checkIdentity() []error {
	var errs []error
	if err := iothub.CheckHostName(c.HubHost); err != nil {
		errs = append(errs, fmt.Errorf("hub-host %q: %w", c.HubHost, err))
	}
	if c.BrokerAddr != "" && !broker.Loopback(c.BrokerAddr) {
		errs = append(errs, fmt.Errorf("broker %s: %w (-broker-tls-cert, -broker-tls-key and -broker-tls-addr)", c.BrokerAddr, broker.ErrPlaintext))
	}
	switch {
	case (c.BrokerTLSCert == "") != (c.BrokerTLSKey == ""):
		errs = append(errs, errors.New("broker-tls-cert and broker-tls-key go together"))
	case c.BrokerTLSCert != "" && c.BrokerAddr == "":
		errs = append(errs, errors.New("broker-tls-cert needs the embedded broker (-broker)"))
	case c.BrokerTLSCert != "" && c.BrokerTLSAddr == "":
		errs = append(errs, errors.New("broker-tls-cert needs broker-tls-addr"))
	}
	return errs
}
