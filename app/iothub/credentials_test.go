package iothub_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/iothub"
)

// key is a well-formed 32-byte device key; secret appears in no error.
const (
	key    = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYiE="
	host   = "enviromon.azure-devices.net"
	device = "sensor-01"
)

func TestParseConnectionString(t *testing.T) {
	keyBytes, err := base64.StdEncoding.DecodeString(key)
	require.NoError(t, err)
	want := iothub.Credentials{HostName: host, DeviceID: device, Key: keyBytes}
	tests := []struct {
		name, in string
		want     iothub.Credentials
	}{
		{"as the portal shows it", "HostName=" + host + ";DeviceId=" + device + ";SharedAccessKey=" + key, want},
		{"any order", "SharedAccessKey=" + key + ";DeviceId=" + device + ";HostName=" + host, want},
		{"one trailing semicolon", "HostName=" + host + ";DeviceId=" + device + ";SharedAccessKey=" + key + ";", want},
		{"surrounding white space, e.g. a newline from a file", " HostName=" + host + ";DeviceId=" + device + ";SharedAccessKey=" + key + "\n", want},
		{"special characters in the device id", "HostName=" + host + ";DeviceId=a-.%_*?!(),:=@$';SharedAccessKey=" + key,
			iothub.Credentials{HostName: host, DeviceID: "a-.%_*?!(),:=@$'", Key: keyBytes}},
		{"sovereign cloud", "HostName=hub.azure-devices.cn;DeviceId=" + device + ";SharedAccessKey=" + key,
			iothub.Credentials{HostName: "hub.azure-devices.cn", DeviceID: device, Key: keyBytes}},
		{"a local broker by a single-label name", "HostName=localhost;DeviceId=" + device + ";SharedAccessKey=" + key,
			iothub.Credentials{HostName: "localhost", DeviceID: device, Key: keyBytes}},
		{"a local broker by IPv4 address", "HostName=127.0.0.1;DeviceId=" + device + ";SharedAccessKey=" + key,
			iothub.Credentials{HostName: "127.0.0.1", DeviceID: device, Key: keyBytes}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := iothub.ParseConnectionString(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseConnectionStringRefuses(t *testing.T) {
	ok := map[string]string{"HostName": host, "DeviceId": device, "SharedAccessKey": key}
	// with returns the good connection string with name set to value
	// ("" drops the part).
	with := func(name, value string) string {
		var parts []string
		for _, n := range []string{"HostName", "DeviceId", "SharedAccessKey"} {
			v := ok[n]
			if n == name {
				if value == "" {
					continue
				}
				v = value
			}
			parts = append(parts, n+"="+v)
		}
		return strings.Join(parts, ";")
	}
	good := with("", "")
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "empty"},
		{"only white space", " \t\n", "empty"},
		{"only separators", ";;", "part 1 is empty"},
		{"empty part inside", "HostName=" + host + ";;DeviceId=" + device + ";SharedAccessKey=" + key, "part 2 is empty"},
		{"two trailing semicolons", good + ";;", "part 4 is empty"},
		{"part without =", good + ";garbage", "part 4 has no \"=\""},
		{"missing host", with("HostName", ""), "HostName is missing"},
		{"missing device", with("DeviceId", ""), "DeviceId is missing"},
		{"missing key", with("SharedAccessKey", ""), "SharedAccessKey is missing"},
		{"empty value", "HostName=;DeviceId=" + device + ";SharedAccessKey=" + key, "HostName is empty"},
		{"names are case-sensitive", "hostname=" + host + ";DeviceId=" + device + ";SharedAccessKey=" + key, `part 1: "hostname" must be spelt "HostName"`},
		{"misspelt key name", "HostName=" + host + ";DeviceId=" + device + ";SharedAccesKey=" + key, "part 3: unknown name"},
		{"key that lost its name", "HostName=" + host + ";DeviceId=" + device + ";" + key, "part 3: unknown name"},
		{"key with two padding characters that lost its name", "HostName=" + host + ";DeviceId=" + device + ";c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMy==", "part 3: unknown name"},
		{"duplicate", good + ";DeviceId=other", "DeviceId given twice"},
		{"module identity", good + ";ModuleId=m1", "ModuleId is not supported"},
		{"hub policy", good + ";SharedAccessKeyName=iothubowner", "SharedAccessKeyName is not supported"},
		{"IoT Edge gateway", good + ";GatewayHostName=edge.local", "GatewayHostName is not supported"},
		{"X.509 device", "HostName=" + host + ";DeviceId=" + device + ";x509=true", "x509 is not supported"},
		{"ready-made token", good + ";SharedAccessSignature=SharedAccessSignature sr=x", "SharedAccessSignature is not supported"},
		{"service connection string", "HostName=" + host + ";SharedAccessKeyName=service;SharedAccessKey=" + key, "SharedAccessKeyName is not supported"},
		{"event hubs connection string", "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=a;SharedAccessKey=" + key, "part 1: unknown name"},
		{"host with scheme", with("HostName", "https://"+host), "not a DNS name"},
		{"host with port", with("HostName", host+":8883"), "not a DNS name"},
		{"host with path", with("HostName", host+"/x"), "not a DNS name"},
		{"host with user info", with("HostName", "evil@"+host), "not a DNS name"},
		{"IPv6 host", with("HostName", "::1"), "not a DNS name"},
		{"device id that is a dot segment", with("DeviceId", ".."), "dot segment"},
		{"host with trailing dot", with("HostName", host+"."), "not a DNS name"},
		{"host label starting with a hyphen", with("HostName", "-hub.azure-devices.net"), "not a DNS name"},
		{"host label too long", with("HostName", strings.Repeat("a", 64)+".azure-devices.net"), "not a DNS name"},
		{"host too long", with("HostName", strings.Repeat("a.", 127)+"net"), "want at most 253"},
		{"non-ASCII host", with("HostName", "hüb.azure-devices.net"), "not a DNS name"},
		{"device id with slash: another device's topic", with("DeviceId", "a/../b"), `character '/'`},
		{"device id with MQTT wildcard +", with("DeviceId", "a+"), `character '+'`},
		{"device id with MQTT wildcard #", with("DeviceId", "a#"), `character '#'`},
		{"device id with space", with("DeviceId", "a b"), `character ' '`},
		{"device id with NUL", with("DeviceId", "a\x00b"), `character '\x00'`},
		{"device id with newline", with("DeviceId", "a\nb"), `character '\n'`},
		{"device id with non-ASCII", with("DeviceId", "gerät"), "not allowed"},
		{"device id too long", with("DeviceId", strings.Repeat("d", 129)), "want at most 128"},
		{"key not base64", with("SharedAccessKey", "not base64!"), "not standard base64"},
		{"key in URL-safe base64", with("SharedAccessKey", "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYi-_"), "not standard base64"},
		{"key without padding", with("SharedAccessKey", strings.TrimRight(key, "=")), "not standard base64"},
		{"key with stray bits", with("SharedAccessKey", "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYiF="), "not standard base64"},
		{"key with white space inside", with("SharedAccessKey", key[:20]+" "+key[20:]), "not standard base64"},
		{"huge input", "HostName=" + strings.Repeat("a", 1<<20), "want at most 1024"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := iothub.ParseConnectionString(tt.in)
			require.Error(t, err)
			assert.ErrorIs(t, err, iothub.ErrConnectionString)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), key[:16], "the key never appears in an error")
			assert.Less(t, len(err.Error()), 400, "hostile input does not flood the message")
		})
	}
}

func TestConnectionStringRoundTrips(t *testing.T) {
	in := "HostName=" + host + ";DeviceId=" + device + ";SharedAccessKey=" + key
	c, err := iothub.ParseConnectionString(in)
	require.NoError(t, err)
	assert.Equal(t, in, c.ConnectionString())
}

func TestCredentialsStringMasksTheKey(t *testing.T) {
	c, err := iothub.ParseConnectionString("HostName=" + host + ";DeviceId=" + device + ";SharedAccessKey=" + key)
	require.NoError(t, err)
	for _, s := range []string{c.String(), fmt.Sprint(c), fmt.Sprintf("%v", &c)} {
		assert.Equal(t, "HostName="+host+";DeviceId="+device+";SharedAccessKey=***", s)
	}
}
