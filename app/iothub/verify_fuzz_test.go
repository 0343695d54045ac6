package iothub_test

import (
	"errors"
	"testing"
	"time"

	"github.com/enviromon/enviromon/app/iothub"
)

// FuzzParseSAS feeds arbitrary text to ParseSAS and every check after it:
// nothing may panic, every error must say it is unauthorized, and a token
// that parses must be refused for a device whose keys did not sign it.
func FuzzParseSAS(f *testing.F) {
	dev := iothub.Credentials{HostName: host, DeviceID: device, Key: primary}
	for _, seed := range []string{
		dev.Token(at.Add(time.Hour)),
		dev.Token(at.Add(time.Hour)) + "&skn=owner",
		"SharedAccessSignature sr=a&sig=b&se=1",
		"SharedAccessSignature sr=%&sig=%&se=%",
		"SharedAccessSignature &&&",
		"SharedAccessSignature sr=" + host + "%2Fdevices%2F&sig=&se=99999999999",
		"SharedAccessSignature ==&=",
		"",
	} {
		f.Add(seed)
	}
	other := []byte("fuzz-key-that-signed-nothing-012")
	f.Fuzz(func(t *testing.T, token string) {
		s, err := iothub.ParseSAS(token)
		if err != nil {
			if !errors.Is(err, iothub.ErrUnauthorized) || !errors.Is(err, iothub.ErrMalformed) {
				t.Fatalf("error %v wraps neither ErrUnauthorized nor ErrMalformed", err)
			}
			return
		}
		if _, err := s.DeviceID(host); err != nil && !errors.Is(err, iothub.ErrUnauthorized) {
			t.Fatalf("DeviceID: %v is not ErrUnauthorized", err)
		}
		if err := s.Check(host, device, [][]byte{other, nil}, at); err == nil {
			t.Fatalf("%q accepted for a key that signed nothing", token)
		} else if !errors.Is(err, iothub.ErrUnauthorized) {
			t.Fatalf("Check: %v is not ErrUnauthorized", err)
		}
		_ = s.Check(host, device, [][]byte{primary, secondary}, at)
	})
}
