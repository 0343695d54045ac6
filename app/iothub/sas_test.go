package iothub_test

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/internal/testenv"
	"github.com/enviromon/enviromon/app/iothub"
)

// nodeToken is Microsoft's Node.js generateSasToken (from "Control access to
// IoT Hub with shared access signatures") with the expiry passed in rather
// than read from the clock, and with ! ' ( ) * percent-encoded in upper case
// as urllib.parse.quote_plus does in the Python sample of the same page.
// Node's crypto computes the HMAC, independently of Go's.
const nodeToken = `
const crypto = require('crypto');
const [host, id, key, expires] = process.argv.slice(1);
const enc = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
const resourceUri = enc(host + '/devices/' + id);
const hmac = crypto.createHmac('sha256', Buffer.from(key, 'base64'));
hmac.update(resourceUri + '\n' + expires);
process.stdout.write('SharedAccessSignature sr=' + resourceUri + '&sig=' + enc(hmac.digest('base64')) + '&se=' + expires);
`

func TestTokenMatchesNode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Missing(t, "node", "apt-get install nodejs")
	}
	const key = "q6Wq3n1JbXzW2m4b0i8Gk3Zl1YVxH2mR0tW9pQe7s+8=" // 32 bytes, as Azure makes them; "+" in it on purpose
	expiry := time.Unix(1767225600, 0)                         // 2026-01-01T00:00:00Z
	tests := []struct{ name, host, id string }{
		{"plain id", "enviromon.azure-devices.net", "sensor-01"},
		{"every special character a device id may hold", "enviromon.azure-devices.net", "a-.%_*?!(),:=@$'Z"},
		{"upper case kept", "EnviroMon.azure-devices.net", "Kitchen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := iothub.ParseConnectionString("HostName=" + tt.host + ";DeviceId=" + tt.id + ";SharedAccessKey=" + key)
			require.NoError(t, err)
			out, err := exec.Command(node, "-e", nodeToken, tt.host, tt.id, key, "1767225600").Output()
			require.NoError(t, err)

			got := c.Token(expiry)
			assert.Equal(t, string(out), got)
			assert.NotContains(t, got, "skn=", "a device key names no policy")
			assert.True(t, strings.HasSuffix(got, "&se=1767225600"), "expiry in seconds: %s", got)
		})
	}
}

func TestTokenChangesWithEveryInput(t *testing.T) {
	c := iothub.Credentials{HostName: "h.azure-devices.net", DeviceID: "d", Key: []byte("0123456789abcdef")}
	at := time.Unix(1767225600, 0)
	base := c.Token(at)
	other := c
	other.Key = []byte("0123456789abcdeF")
	assert.NotEqual(t, base, other.Token(at), "key")
	other = c
	other.DeviceID = "D"
	assert.NotEqual(t, base, other.Token(at), "device id, case-sensitive")
	assert.NotEqual(t, base, c.Token(at.Add(time.Second)), "expiry")
	assert.Equal(t, base, c.Token(at.Add(999*time.Millisecond)), "whole seconds")
}

func TestUsername(t *testing.T) {
	c := iothub.Credentials{HostName: "enviromon.azure-devices.net", DeviceID: "sensor-01"}
	assert.Equal(t, "enviromon.azure-devices.net/sensor-01/?api-version=2021-04-12", c.Username())
	assert.Equal(t, "enviromon.azure-devices.net/devices/sensor-01", c.ResourceURI())
}
