package iothub_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/enviromon/enviromon/app/iothub"
)

var (
	primary   = []byte("primary-key-0123456789abcdef-012")
	secondary = []byte("secondary-key-0123456789abcdef-0")
	at        = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

// sign makes a token over sr and se exactly as given, the way any SDK
// would once it has encoded sr its own way.
func sign(key []byte, sr, se string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(sr + "\n" + se))
	return "SharedAccessSignature sr=" + sr + "&sig=" + url.QueryEscape(base64.StdEncoding.EncodeToString(mac.Sum(nil))) + "&se=" + se
}

func TestCheckAccepts(t *testing.T) {
	dev := iothub.Credentials{HostName: host, DeviceID: device, Key: primary}
	se := "1767229200" // at + 1 h
	tests := []struct {
		name, token string
		host, id    string
	}{
		{"primary key", dev.Token(at.Add(time.Hour)), host, device},
		{"secondary key", iothub.Credentials{HostName: host, DeviceID: device, Key: secondary}.Token(at.Add(time.Hour)), host, device},
		{"host in another case", dev.Token(at.Add(time.Hour)), strings.ToUpper(host), device},
		{"token made for the host in another case", iothub.Credentials{HostName: "EnviroMon.Azure-Devices.net", DeviceID: device, Key: primary}.Token(at.Add(time.Hour)), host, device},
		{"sr with lower-case escapes, signed as sent", sign(primary, strings.ReplaceAll(url.QueryEscape(host+"/devices/"+device), "%2F", "%2f"), se), host, device},
		{"sr with / unescaped (encodeURI)", sign(primary, host+"/devices/"+device, se), host, device},
		{"trailing slash on the resource", sign(primary, url.QueryEscape(host+"/devices/"+device+"/"), se), host, device},
		{"fields in another order, names in upper case", reorder(dev.Token(at.Add(time.Hour))), host, device},
		{"special characters in the device id", iothub.Credentials{HostName: host, DeviceID: "a-.%_*?!(),:=@$'Z", Key: primary}.Token(at.Add(time.Hour)), host, "a-.%_*?!(),:=@$'Z"},
		{"expires a second from now", dev.Token(at.Add(time.Second)), host, device},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := iothub.ParseSAS(tt.token)
			require.NoError(t, err)
			assert.NoError(t, s.Check(tt.host, tt.id, [][]byte{primary, secondary}, at))
			id, err := s.DeviceID(tt.host)
			require.NoError(t, err)
			assert.Equal(t, tt.id, id)
		})
	}
}

// reorder moves se first and upper-cases the field names.
func reorder(token string) string {
	rest := strings.TrimPrefix(token, "SharedAccessSignature ")
	f := strings.Split(rest, "&")
	return "SharedAccessSignature SE" + strings.TrimPrefix(f[2], "se") + "&SIG" + strings.TrimPrefix(f[1], "sig") + "&Sr" + strings.TrimPrefix(f[0], "sr")
}

func TestCheckRefuses(t *testing.T) {
	dev := iothub.Credentials{HostName: host, DeviceID: device, Key: primary}
	valid := dev.Token(at.Add(time.Hour))
	se := "1767229200"
	sr := url.QueryEscape(host + "/devices/" + device)
	tests := []struct {
		name, token string
		keys        [][]byte
		want        error
	}{
		{"wrong device: another's token, signed with its own key",
			iothub.Credentials{HostName: host, DeviceID: "sensor-02", Key: primary}.Token(at.Add(time.Hour)), nil, iothub.ErrResource},
		{"device id in another case", iothub.Credentials{HostName: host, DeviceID: "SENSOR-01", Key: primary}.Token(at.Add(time.Hour)), nil, iothub.ErrResource},
		{"another hub", iothub.Credentials{HostName: "other.azure-devices.net", DeviceID: device, Key: primary}.Token(at.Add(time.Hour)), nil, iothub.ErrResource},
		{"a hub-wide resource", sign(primary, url.QueryEscape(host), se), nil, iothub.ErrResource},
		{"a module", sign(primary, url.QueryEscape(host+"/devices/"+device+"/modules/m"), se), nil, iothub.ErrResource},
		{"device id by prefix only", sign(primary, url.QueryEscape(host+"/devices/sensor-0"), se), nil, iothub.ErrResource},
		{"a scheme in front", sign(primary, url.QueryEscape("https://"+host+"/devices/"+device), se), nil, iothub.ErrResource},
		{"wrong key", iothub.Credentials{HostName: host, DeviceID: device, Key: []byte("another-key-0123456789abcdef-012")}.Token(at.Add(time.Hour)), nil, iothub.ErrSignature},
		{"no keys", valid, [][]byte{}, iothub.ErrSignature},
		{"empty keys", valid, [][]byte{nil, {}}, iothub.ErrSignature},
		{"expired", dev.Token(at.Add(-time.Second)), nil, iothub.ErrExpired},
		{"expires now", dev.Token(at), nil, iothub.ErrExpired},
		{"tampered: later expiry, same signature", strings.Replace(valid, "&se="+se, "&se=1767232800", 1), nil, iothub.ErrSignature},
		{"tampered: one bit of the signature", flipSig(valid), nil, iothub.ErrSignature},
		{"tampered: leading zeros on se", strings.Replace(valid, "&se=", "&se=0", 1), nil, iothub.ErrSignature},
		{"signed by a policy", sign(primary, sr, se) + "&skn=iothubowner", nil, iothub.ErrPolicy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys := tt.keys
			if keys == nil {
				keys = [][]byte{primary, secondary}
			}
			s, err := iothub.ParseSAS(tt.token)
			require.NoError(t, err, "well-formed")
			err = s.Check(host, device, keys, at)
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.want)
			assert.ErrorIs(t, err, iothub.ErrUnauthorized)
			assertNoSecret(t, err, tt.token)
		})
	}
}

func TestCheckRefusesAResourceTamperedWith(t *testing.T) {
	// Two devices with the same key: the signature still binds the token to
	// the resource it was made for.
	valid := iothub.Credentials{HostName: host, DeviceID: device, Key: primary}.Token(at.Add(time.Hour))
	s, err := iothub.ParseSAS(strings.Replace(valid, "sensor-01", "sensor-02", 1))
	require.NoError(t, err)
	assert.ErrorIs(t, s.Check(host, "sensor-02", [][]byte{primary}, at), iothub.ErrSignature)
}

// flipSig changes one bit of the token's signature.
func flipSig(token string) string {
	i := strings.Index(token, "&sig=") + len("&sig=")
	j := strings.Index(token, "&se=")
	sig, _ := url.QueryUnescape(token[i:j])
	b, _ := base64.StdEncoding.DecodeString(sig)
	b[7] ^= 1
	return token[:i] + url.QueryEscape(base64.StdEncoding.EncodeToString(b)) + token[j:]
}

// assertNoSecret checks that an error quotes no signature.
func assertNoSecret(t *testing.T, err error, token string) {
	t.Helper()
	for f := range strings.SplitSeq(token, "&") {
		if name, v, _ := strings.Cut(f, "="); strings.EqualFold(name, "sig") && len(v) > 8 {
			assert.NotContains(t, err.Error(), v[:8], "the signature never appears in an error")
		}
	}
}

func TestParseSASRefuses(t *testing.T) {
	valid := iothub.Credentials{HostName: host, DeviceID: device, Key: primary}.Token(at.Add(time.Hour))
	rest := strings.TrimPrefix(valid, "SharedAccessSignature ")
	f := strings.Split(rest, "&") // sr, sig, se
	sig := f[1]
	tests := []struct{ name, token, want string }{
		{"empty", "", "does not start with"},
		{"only the prefix", "SharedAccessSignature ", "does not start with"},
		{"no fields", "SharedAccessSignature &", "sr is missing"},
		{"prefix in lower case", "sharedaccesssignature " + rest, "does not start with"},
		{"a bearer token", "Bearer " + rest, "does not start with"},
		{"no prefix", rest, "does not start with"},
		{"white space inside", "SharedAccessSignature " + f[0] + "& " + f[1] + "&" + f[2], "white space"},
		{"two spaces after the prefix", "SharedAccessSignature  " + rest, "white space"},
		{"missing sr", "SharedAccessSignature " + f[1] + "&" + f[2], "sr is missing"},
		{"missing sig", "SharedAccessSignature " + f[0] + "&" + f[2], "sig is missing"},
		{"missing se", "SharedAccessSignature " + f[0] + "&" + f[1], "se is missing"},
		{"empty se", "SharedAccessSignature " + f[0] + "&" + f[1] + "&se=", "se is missing"},
		{"sr twice", valid + "&" + f[0], "sr given twice"},
		{"sr twice in another case", valid + "&SR=x", "sr given twice"},
		{"unknown field", valid + "&foo=bar", `unknown field "foo"`},
		{"field without =", valid + "&sr", `has no "="`},
		{"se not a number", "SharedAccessSignature " + f[0] + "&" + sig + "&se=soon", "se is not"},
		{"se negative", "SharedAccessSignature " + f[0] + "&" + sig + "&se=-1", "se is not"},
		{"se in milliseconds", "SharedAccessSignature " + f[0] + "&" + sig + "&se=1767229200000", "se is not"},
		{"se fractional", "SharedAccessSignature " + f[0] + "&" + sig + "&se=1767229200.5", "se is not"},
		{"sig not base64", "SharedAccessSignature " + f[0] + "&sig=not-base64!&" + f[2], "sig is not"},
		{"sig with + unescaped: a space once decoded", "SharedAccessSignature " + f[0] + "&sig=ab+cdefghijklmnopqrstuvwxyz0123456789ABCDEFG=&" + f[2], "sig is not"},
		{"sig too short", "SharedAccessSignature " + f[0] + "&sig=" + url.QueryEscape(base64.StdEncoding.EncodeToString([]byte("short"))) + "&" + f[2], "sig is not"},
		{"sr with a bad escape", "SharedAccessSignature sr=host%zz&" + f[1] + "&" + f[2], "sr is not URL-encoded"},
		{"huge", "SharedAccessSignature sr=" + strings.Repeat("a", 1<<20), "want at most 2048"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := iothub.ParseSAS(tt.token)
			require.Error(t, err)
			assert.ErrorIs(t, err, iothub.ErrMalformed)
			assert.ErrorIs(t, err, iothub.ErrUnauthorized)
			assert.Contains(t, err.Error(), tt.want)
			assertNoSecret(t, err, tt.token)
			assert.Less(t, len(err.Error()), 300, "hostile input does not flood the message")
		})
	}
}

func TestParseSASReadsTheFields(t *testing.T) {
	s, err := iothub.ParseSAS("  " + iothub.Credentials{HostName: host, DeviceID: device, Key: primary}.Token(at) + "&&\n")
	require.NoError(t, err)
	assert.Equal(t, host+"/devices/"+device, s.Resource)
	assert.Equal(t, at.Unix(), s.Expiry.Unix())
	assert.Empty(t, s.KeyName)
}

func TestParseUsername(t *testing.T) {
	tests := []struct{ name, in, host, id string }{
		{"as a device SDK sends it", host + "/" + device + "/?api-version=2021-04-12", host, device},
		{"another api version and more", "Hub.Azure-Devices.net/" + device + "/?api-version=2018-06-30&DeviceClientType=c%2F1.0", "Hub.Azure-Devices.net", device},
		{"no query", "localhost/" + device + "/", "localhost", device},
		{"special characters", host + "/a-.%_*?!(),:=@$'/?api-version=2021-04-12", host, "a-.%_*?!(),:=@$'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, id, err := iothub.ParseUsername(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.host, h)
			assert.Equal(t, tt.id, id)
		})
	}
	refused := []struct{ name, in, want string }{
		{"empty", "", "want {host}"},
		{"no slash", "sensor-01", "want {host}"},
		{"no host", "/sensor-01/?api-version=2021-04-12", "want {host}"},
		{"no slash after the id", host + "/" + device, "want {host}"},
		{"a module", host + "/" + device + "/module-1/?api-version=2021-04-12", "module identities"},
		{"a bad device id", host + "/a b/?api-version=2021-04-12", "not allowed"},
		{"an empty device id", host + "//?api-version=2021-04-12", "empty"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := iothub.ParseUsername(tt.in)
			require.Error(t, err)
			assert.ErrorIs(t, err, iothub.ErrUnauthorized)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}
