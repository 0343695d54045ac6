package mqtt

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/enviromon/enviromon/app/iothub"
)

// DefaultSASTTL is how long each SAS token is valid unless Config.SASTTL
// says otherwise.
const DefaultSASTTL = time.Hour

// The URL schemes paho dials with TLS, and those it dials without.
var (
	tlsSchemes   = map[string]bool{"ssl": true, "tls": true, "mqtts": true, "mqtt+ssl": true, "tcps": true, "wss": true}
	plainSchemes = map[string]bool{"tcp": true, "mqtt": true, "ws": true, "unix": true}
)

// withHub checks cfg.Credentials, fills in the defaults that come with
// them and returns them by device id.
func withHub(cfg *Config) (map[string]iothub.Credentials, error) {
	creds := make(map[string]iothub.Credentials, len(cfg.Credentials))
	host := cfg.Credentials[0].HostName
	for _, c := range cfg.Credentials {
		switch {
		case c.HostName == "" || c.DeviceID == "" || len(c.Key) == 0:
			return nil, errors.New("iot hub credentials need a host name, a device id and a key")
		case !strings.EqualFold(c.HostName, host):
			return nil, fmt.Errorf("devices of two hubs, %s and %s: one sender speaks to one", host, c.HostName)
		}
		if _, dup := creds[c.DeviceID]; dup {
			return nil, fmt.Errorf("device %s given twice", c.DeviceID)
		}
		creds[c.DeviceID] = c
	}
	if cfg.SASTTL < 0 {
		return nil, errors.New("negative SAS token lifetime")
	}
	if cfg.SASTTL == 0 {
		cfg.SASTTL = DefaultSASTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Broker == "" {
		cfg.Broker = "ssl://" + host + ":" + strconv.Itoa(iothub.Port)
	}
	return creds, nil
}

// loopback reports whether host, a URL's host name, is this machine.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// hubOptions makes opts connect as the hub device cred on c, recording in
// c when each token it hands out expires.
func (s *Sender) hubOptions(opts *paho.ClientOptions, c *conn, cred iothub.Credentials) {
	opts.SetTLSConfig(&tls.Config{ // used only when the broker's scheme is a TLS one
		MinVersion: tls.VersionTLS12,
		ServerName: cred.HostName, // also when Broker dials another address
		RootCAs:    s.cfg.RootCAs,
	}).
		// IoT Hub speaks 3.1.1 only; without this paho would retry a
		// refused connect as 3.1.
		SetProtocolVersion(4).
		// Called at every connect, the automatic reconnects included, so
		// each gets a token dated from then.
		SetCredentialsProvider(func() (string, string) {
			expiry := s.cfg.Now().Add(s.cfg.SASTTL)
			c.expiry.Store(expiry.Unix())
			return cred.Username(), cred.Token(expiry)
		})
}

// renewDue reports whether the token of c's connection has less than a
// fifth of its lifetime left, so the connection should be made anew.
func (s *Sender) renewDue(c *conn) bool {
	if s.creds == nil {
		return false
	}
	return s.cfg.Now().Add(s.cfg.SASTTL/5).Unix() >= c.expiry.Load()
}
