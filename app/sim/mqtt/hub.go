package mqtt

import (
	"crypto/tls"
	"errors"
	"strconv"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/enviromon/enviromon/app/sim/iothub"
)

// DefaultSASTTL is how long each SAS token is valid unless Config.SASTTL
// says otherwise.
const DefaultSASTTL = time.Hour

// The URL schemes paho dials with TLS, and those it dials without.
var (
	tlsSchemes   = map[string]bool{"ssl": true, "tls": true, "mqtts": true, "mqtt+ssl": true, "tcps": true, "wss": true}
	plainSchemes = map[string]bool{"tcp": true, "mqtt": true, "ws": true, "unix": true}
)

// withHub checks cfg.Hub and fills in the defaults that come with it.
func withHub(cfg *Config) error {
	h := cfg.Hub
	if h.HostName == "" || h.DeviceID == "" || len(h.Key) == 0 {
		return errors.New("iot hub credentials need a host name, a device id and a key")
	}
	if cfg.SASTTL < 0 {
		return errors.New("negative SAS token lifetime")
	}
	if cfg.SASTTL == 0 {
		cfg.SASTTL = DefaultSASTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Broker == "" {
		cfg.Broker = "ssl://" + h.HostName + ":" + strconv.Itoa(iothub.Port)
	}
	return nil
}

// hubOptions makes opts connect as the hub device of c, recording in c when
// each token it hands out expires.
func (s *Sender) hubOptions(opts *paho.ClientOptions, c *conn) {
	h := s.cfg.Hub
	opts.SetTLSConfig(&tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: h.HostName, // also when Broker dials another address
		RootCAs:    s.cfg.rootCAs,
	}).
		// IoT Hub speaks 3.1.1 only; without this paho would retry a
		// refused connect as 3.1.
		SetProtocolVersion(4).
		// Called at every connect, the automatic reconnects included, so
		// each gets a token dated from then.
		SetCredentialsProvider(func() (string, string) {
			expiry := s.cfg.Now().Add(s.cfg.SASTTL)
			c.expiry.Store(expiry.Unix())
			return h.Username(), h.Token(expiry)
		})
}

// renewDue reports whether the token of c's connection has less than a
// fifth of its lifetime left, so the connection should be made anew.
func (s *Sender) renewDue(c *conn) bool {
	if s.cfg.Hub == nil {
		return false
	}
	return s.cfg.Now().Add(s.cfg.SASTTL/5).Unix() >= c.expiry.Load()
}
