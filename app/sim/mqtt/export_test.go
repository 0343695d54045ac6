package mqtt

import "crypto/x509"

// WithRootCAs returns cfg trusting pool, rather than the system's root CAs,
// for the hub's certificate: the tests' hub has a self-signed one.
func WithRootCAs(cfg Config, pool *x509.CertPool) Config {
	cfg.rootCAs = pool
	return cfg
}

// BrokerURL returns the broker s dials.
func BrokerURL(s *Sender) string { return s.cfg.Broker }
