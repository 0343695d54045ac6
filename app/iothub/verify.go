package iothub

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ErrUnauthorized is wrapped by every error ParseSAS and SAS.Check return,
// together with the sentinel that says why.
var ErrUnauthorized = errors.New("unauthorized")

// Why a token is refused.
var (
	ErrMalformed = errors.New("malformed SAS token")
	ErrExpired   = errors.New("SAS token expired")
	ErrResource  = errors.New("SAS token is for another resource")
	ErrSignature = errors.New("SAS token signature matches no key of the device")
	ErrPolicy    = errors.New("SAS token signed with a policy (skn): only device keys are supported")
)

// sasPrefix starts every token, as IoT Hub spells it (case-sensitive).
const sasPrefix = "SharedAccessSignature "

// maxSAS bounds a token: a 253-byte host name and a 128-byte device id,
// percent-encoded three times over at worst, fit with room to spare.
const maxSAS = 2048

// SAS is a parsed shared access signature token. Parsing checks its form
// only; Check says whether it grants anything.
type SAS struct {
	Resource string    // sr, URL-decoded: "{host}/devices/{id}" for a device token
	Expiry   time.Time // se, whole seconds
	KeyName  string    // skn, the policy that signed it; "" for a device key

	signed []byte // what the signature covers: sr as sent, "\n", se as sent
	sig    []byte // the HMAC-SHA256, base64-decoded
}

// ParseSAS reads a token as IoT Hub does:
//
//	SharedAccessSignature sr={url-encoded resource}&sig={url-encoded base64}&se={unix seconds}[&skn={policy}]
//
// Field names are case-insensitive and may come in any order; each must
// appear once, and no other may. Errors wrap ErrUnauthorized and
// ErrMalformed, and never quote the signature.
func ParseSAS(token string) (SAS, error) {
	bad := func(format string, a ...any) (SAS, error) {
		return SAS{}, fmt.Errorf("%w: %w: "+format, append([]any{ErrUnauthorized, ErrMalformed}, a...)...)
	}
	if len(token) > maxSAS {
		return bad("%d bytes, want at most %d", len(token), maxSAS)
	}
	rest, ok := strings.CutPrefix(strings.TrimSpace(token), sasPrefix)
	if !ok {
		return bad("does not start with %q", sasPrefix)
	}
	if strings.ContainsAny(rest, " \t\r\n") {
		return bad("white space inside")
	}
	raw := map[string]string{}
	for field := range strings.SplitSeq(rest, "&") {
		if field == "" {
			continue // as IoT Hub: "a&&b" and a trailing "&" are harmless
		}
		name, value, ok := strings.Cut(field, "=")
		name = strings.ToLower(name)
		switch {
		case !ok:
			return bad("a field has no \"=\"")
		case name != "sr" && name != "sig" && name != "se" && name != "skn":
			return bad("unknown field %q, want sr, sig, se and optionally skn", printable(name))
		}
		if _, dup := raw[name]; dup {
			return bad("%s given twice", name)
		}
		raw[name] = value
	}
	for _, name := range []string{"sr", "sig", "se"} {
		if raw[name] == "" {
			return bad("%s is missing or empty", name)
		}
	}

	var s SAS
	var err error
	if s.Resource, err = url.QueryUnescape(raw["sr"]); err != nil {
		return bad("sr is not URL-encoded: %w", err)
	}
	if s.KeyName, err = url.QueryUnescape(raw["skn"]); err != nil {
		return bad("skn is not URL-encoded: %w", err)
	}
	se, err := url.QueryUnescape(raw["se"])
	if err != nil || strings.TrimLeft(se, "0123456789") != "" || len(se) > 11 {
		return bad("se is not a time in Unix seconds")
	}
	secs, err := strconv.ParseInt(se, 10, 64)
	if err != nil {
		return bad("se is not a time in Unix seconds")
	}
	s.Expiry = time.Unix(secs, 0).UTC()
	sig, err := url.QueryUnescape(raw["sig"])
	if err == nil {
		s.sig, err = base64.StdEncoding.DecodeString(sig)
	}
	if err != nil || len(s.sig) != sha256.Size {
		return bad("sig is not a URL-encoded base64 HMAC-SHA256")
	}
	// IoT Hub signs sr as it was sent, escapes and their case included, and
	// se as decoded.
	s.signed = []byte(raw["sr"] + "\n" + se)
	return s, nil
}

// DeviceID returns the device a device token names: its resource must be
// "{host}/devices/{id}", host matched without regard to case, as IoT Hub
// matches it; a trailing "/" is ignored. Errors wrap ErrUnauthorized and
// ErrResource.
func (s SAS) DeviceID(host string) (string, error) {
	res := strings.TrimRight(s.Resource, "/")
	prefix := host + "/devices/"
	if len(res) <= len(prefix) || !strings.EqualFold(res[:len(prefix)], prefix) {
		return "", fmt.Errorf("%w: %w: %q, want %s{device id}", ErrUnauthorized, ErrResource, printable(s.Resource), prefix)
	}
	id := res[len(prefix):]
	if err := CheckDeviceID(id); err != nil {
		return "", fmt.Errorf("%w: %w: %w", ErrUnauthorized, ErrResource, err)
	}
	return id, nil
}

// Check returns nil when the token lets device id of the hub host connect
// at now: it is signed with a device key, not a policy; its resource names
// that device (see DeviceID; the id is case-sensitive); it expires after
// now; and its signature is the HMAC-SHA256 of one of keys (the primary and
// the secondary), compared in constant time. Errors wrap ErrUnauthorized
// and one of ErrPolicy, ErrResource, ErrExpired or ErrSignature.
func (s SAS) Check(host, id string, keys [][]byte, now time.Time) error {
	if s.KeyName != "" {
		return fmt.Errorf("%w: %w", ErrUnauthorized, ErrPolicy)
	}
	got, err := s.DeviceID(host)
	if err != nil {
		return err
	}
	if got != id {
		return fmt.Errorf("%w: %w: it names device %q, not %q", ErrUnauthorized, ErrResource, got, id)
	}
	if !s.Expiry.After(now) {
		return fmt.Errorf("%w: %w at %s", ErrUnauthorized, ErrExpired, s.Expiry.UTC().Format(time.RFC3339))
	}
	match := false
	for _, key := range keys {
		if len(key) == 0 {
			continue
		}
		mac := hmac.New(sha256.New, key)
		mac.Write(s.signed) // a hash.Hash never fails to write
		// Every key is tried, so the time taken says nothing of which one
		// matched.
		match = hmac.Equal(mac.Sum(nil), s.sig) || match
	}
	if !match {
		return fmt.Errorf("%w: %w", ErrUnauthorized, ErrSignature)
	}
	return nil
}
