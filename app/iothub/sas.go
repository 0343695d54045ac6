package iothub

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strconv"
	"time"
)

// APIVersion is the IoT Hub API version a device names in its MQTT user name.
const APIVersion = "2021-04-12"

// Port is the port of IoT Hub's MQTT-over-TLS endpoint.
const Port = 8883

// ResourceURI is what a device token grants access to: the device's own
// endpoints, "{HostName}/devices/{DeviceId}", without a scheme.
func (c Credentials) ResourceURI() string { return c.HostName + "/devices/" + c.DeviceID }

// Username is the MQTT CONNECT user name IoT Hub expects from the device:
// "{HostName}/{DeviceId}/?api-version={APIVersion}".
func (c Credentials) Username() string {
	return c.HostName + "/" + c.DeviceID + "/?api-version=" + APIVersion
}

// Token returns a SAS token, the device's MQTT password, valid until expiry
// (whole Unix seconds):
//
//	SharedAccessSignature sr={enc(uri)}&sig={enc(b64(HMAC-SHA256(key, enc(uri)+"\n"+se)))}&se={se}
//
// where uri is ResourceURI and enc is url.QueryEscape. A device key signs
// for itself, so there is no skn (policy name).
//
// The encoding follows the Python sample of Microsoft's "Control access to
// IoT Hub with shared access signatures" (urllib.parse.quote_plus): the
// resource URI is encoded as written, not lower-cased, with upper-case hex
// digits. For every character a host name or device id may hold,
// QueryEscape and quote_plus agree byte for byte; the Node sample's
// encodeURIComponent agrees too except on ! ' ( ) *, which it leaves as
// they are (Microsoft's samples differ there, each signing the sr it sends).
func (c Credentials) Token(expiry time.Time) string {
	sr := url.QueryEscape(c.ResourceURI())
	se := strconv.FormatInt(expiry.Unix(), 10)
	mac := hmac.New(sha256.New, c.Key)
	mac.Write([]byte(sr + "\n" + se)) // a hash.Hash never fails to write
	sig := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	return "SharedAccessSignature sr=" + sr + "&sig=" + url.QueryEscape(sig) + "&se=" + se
}
