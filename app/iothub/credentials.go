// Package iothub is Azure IoT Hub's device identity, both sides of it: a
// device's credentials, read from the connection string the Azure portal and
// CLI show, and the SAS tokens and MQTT user name made from them (what the
// simulator sends); and the checks a hub makes of them, with the device
// records of its identity registry (what the embedded broker and the HTTP
// API verify locally).
//
// It is hand-rolled: Microsoft publishes no Go SDK for either side, and the
// whole protocol is an HMAC over one line (see Token and ParseSAS). The
// package imports only the standard library and the domain package
// telemetry, whose device id rules it shares.
package iothub

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/enviromon/enviromon/app/telemetry"
)

// ErrConnectionString is wrapped by every error ParseConnectionString returns.
var ErrConnectionString = errors.New("invalid device connection string")

// maxConnectionString bounds the input: a 253-byte host name, a 128-byte
// device id and a 64-byte key fit with room to spare.
const maxConnectionString = 1024

// Credentials identify one IoT Hub device that authenticates with a
// symmetric key.
type Credentials struct {
	HostName string // the hub's host name, e.g. "myhub.azure-devices.net"
	DeviceID string // case-sensitive, as registered
	Key      []byte // the shared access key, base64-decoded
}

// String returns the connection string with the key masked, so that
// Credentials can be logged.
func (c Credentials) String() string {
	return "HostName=" + c.HostName + ";DeviceId=" + c.DeviceID + ";SharedAccessKey=***"
}

// ConnectionString returns the device connection string, key included, as
// the Azure portal shows it: what ParseConnectionString reads. It is a
// secret; log String instead.
func (c Credentials) ConnectionString() string {
	return "HostName=" + c.HostName + ";DeviceId=" + c.DeviceID + ";SharedAccessKey=" + base64.StdEncoding.EncodeToString(c.Key)
}

// ParseConnectionString reads a device connection string,
// "HostName=<hub>.azure-devices.net;DeviceId=<id>;SharedAccessKey=<base64>",
// in any order and with at most one trailing ";". Part names are
// case-sensitive, as Azure writes them; each must appear once. Parts for
// other kinds of identity (ModuleId, SharedAccessKeyName, GatewayHostName,
// x509, SharedAccessSignature) are refused, as are unknown ones. Errors wrap
// ErrConnectionString and never quote the key.
func ParseConnectionString(s string) (Credentials, error) {
	if len(s) > maxConnectionString {
		return Credentials{}, fmt.Errorf("%w: %d bytes, want at most %d", ErrConnectionString, len(s), maxConnectionString)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return Credentials{}, fmt.Errorf("%w: empty", ErrConnectionString)
	}
	parts := map[string]string{}
	for i, part := range strings.Split(strings.TrimSuffix(s, ";"), ";") {
		name, value, ok := strings.Cut(part, "=")
		switch {
		case part == "":
			return Credentials{}, fmt.Errorf("%w: part %d is empty", ErrConnectionString, i+1)
		case !ok:
			// The part is not echoed: it may be a key that lost its name.
			return Credentials{}, fmt.Errorf("%w: part %d has no \"=\"", ErrConnectionString, i+1)
		case unsupported[name]:
			return Credentials{}, fmt.Errorf("%w: %s is not supported: only a device with a symmetric key (HostName, DeviceId, SharedAccessKey)", ErrConnectionString, name)
		case name != "HostName" && name != "DeviceId" && name != "SharedAccessKey":
			return Credentials{}, fmt.Errorf("%w: part %d: %s", ErrConnectionString, i+1, unknown(name))
		case value == "":
			return Credentials{}, fmt.Errorf("%w: %s is empty", ErrConnectionString, name)
		}
		if _, dup := parts[name]; dup {
			return Credentials{}, fmt.Errorf("%w: %s given twice", ErrConnectionString, name)
		}
		parts[name] = value
	}
	for _, name := range []string{"HostName", "DeviceId", "SharedAccessKey"} {
		if _, ok := parts[name]; !ok {
			return Credentials{}, fmt.Errorf("%w: %s is missing", ErrConnectionString, name)
		}
	}

	c := Credentials{HostName: parts["HostName"], DeviceID: parts["DeviceId"]}
	if err := CheckHostName(c.HostName); err != nil {
		return Credentials{}, fmt.Errorf("%w: HostName %q: %w", ErrConnectionString, printable(c.HostName), err)
	}
	if err := CheckDeviceID(c.DeviceID); err != nil {
		return Credentials{}, fmt.Errorf("%w: DeviceId %q: %w", ErrConnectionString, printable(c.DeviceID), err)
	}
	key, err := base64.StdEncoding.Strict().DecodeString(parts["SharedAccessKey"])
	if err != nil {
		return Credentials{}, fmt.Errorf("%w: SharedAccessKey is not standard base64: %w", ErrConnectionString, err)
	}
	c.Key = key
	return c, nil
}

// unsupported are the connection-string parts of identities this package
// does not speak for: modules, hub-level policies, IoT Edge gateways, X.509
// devices and ready-made tokens.
var unsupported = map[string]bool{
	"ModuleId": true, "SharedAccessKeyName": true, "GatewayHostName": true,
	"x509": true, "SharedAccessSignature": true,
}

// unknown explains why a part name is refused. The name is shown only when
// it is a known one in the wrong case: anything else may be a key that lost
// its own name ("...;<base64>=").
func unknown(name string) string {
	for _, known := range []string{"HostName", "DeviceId", "SharedAccessKey"} {
		if strings.EqualFold(name, known) {
			return fmt.Sprintf("%q must be spelt %q: names are case-sensitive", name, known)
		}
	}
	return "unknown name, want HostName, DeviceId or SharedAccessKey (not shown: it may hold the key)"
}

// CheckHostName accepts a DNS name: letters, digits and inner hyphens in
// dot-separated labels; no scheme, port, path or trailing dot. A single
// label is accepted ("localhost", a container's service name): a local
// broker stands in for the hub under such names. An IPv4 address passes
// too; an IPv6 one does not (its colons would read as a port).
func CheckHostName(h string) error {
	if len(h) > 253 {
		return fmt.Errorf("%d bytes, want at most 253", len(h))
	}
	for l := range strings.SplitSeq(h, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return errors.New("not a DNS name")
		}
		for i := 0; i < len(l); i++ {
			if !isAlnum(l[i]) && l[i] != '-' {
				return errors.New("not a DNS name: only letters, digits, hyphens and dots (no scheme, port or path)")
			}
		}
	}
	return nil
}

// ErrDeviceID is wrapped by every error CheckDeviceID returns.
var ErrDeviceID = errors.New("invalid device id")

// CheckDeviceID accepts what IoT Hub does, the rule of
// telemetry.CheckDeviceID: 1 to 128 ASCII letters, digits and
// - . % _ * ? ! ( ) , : = @ $ ', but not "." or "..". The characters it
// leaves out include "/", "+", "#" and space, so the id is safe inside an
// MQTT topic name and a URL path. Errors wrap ErrDeviceID.
func CheckDeviceID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty", ErrDeviceID)
	case len(id) > telemetry.MaxDeviceIDLen:
		return fmt.Errorf("%w: %d bytes, want at most %d", ErrDeviceID, len(id), telemetry.MaxDeviceIDLen)
	case id == "." || id == "..":
		return fmt.Errorf("%w: %q is a URL dot segment", ErrDeviceID, id)
	}
	for i := 0; i < len(id); i++ {
		if !isAlnum(id[i]) && !strings.ContainsRune(telemetry.DeviceIDPunctuation, rune(id[i])) {
			return fmt.Errorf("%w: character %q at byte %d is not allowed: only ASCII letters, digits and %s",
				ErrDeviceID, id[i], i, telemetry.DeviceIDPunctuation)
		}
	}
	return nil
}

func isAlnum(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
}

// printable shortens s for an error message, so hostile input cannot flood
// a log line.
func printable(s string) string {
	const n = 64
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
