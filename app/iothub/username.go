package iothub

import (
	"fmt"
	"strings"
)

// ParseUsername reads the MQTT user name of a device, as Username makes it,
// "{host}/{id}/?api-version=2021-04-12". Like IoT Hub it takes any query
// (another api-version, DeviceClientType, model-id) and none at all. The
// host is returned as written; the caller compares it to its own without
// regard to case. A module's user name, "{host}/{id}/{module}/?…", is
// refused. Errors wrap ErrUnauthorized.
func ParseUsername(username string) (host, deviceID string, err error) {
	bad := func(why string) (string, string, error) {
		return "", "", fmt.Errorf("%w: user name %q: %s", ErrUnauthorized, printable(username), why)
	}
	host, rest, ok := strings.Cut(username, "/")
	if !ok || host == "" {
		return bad("want {host}/{device id}/?api-version=" + APIVersion)
	}
	deviceID, tail, ok := strings.Cut(rest, "/")
	if !ok {
		return bad("want {host}/{device id}/?api-version=" + APIVersion)
	}
	if tail != "" && tail[0] != '?' {
		return bad("module identities are not supported")
	}
	if err := CheckDeviceID(deviceID); err != nil {
		return "", "", fmt.Errorf("%w: user name: %w", ErrUnauthorized, err)
	}
	return host, deviceID, nil
}
