package signalr

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// Azure SignalR tokens are compact JWS with HS256 over the AccessKey. The
// format is small enough that the standard library is all it takes, and no
// JWT module is a direct requirement of this module.

// leeway tolerates clock skew between the token's minter and this service.
const leeway = 30 * time.Second

// userClaims are the claims, in order of preference, that name the user of a
// client connection: the Azure management SDK writes asrs.s.uid and nameid,
// components-contrib writes sub.
var userClaims = []string{
	"asrs.s.uid",
	"nameid",
	"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier",
	"sub",
}

// claims is the verified content of a token.
type claims struct {
	Audience []string
	Expiry   time.Time
	User     string
}

// signToken mints an HS256 token for aud, valid until exp, naming user in
// sub when user is not empty.
func signToken(key []byte, aud string, exp time.Time, user string) (string, error) {
	payload := map[string]any{"aud": aud, "exp": exp.Unix()}
	if user != "" {
		payload["sub"] = user
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	head := b64(`{"alg":"HS256","typ":"JWT"}`) + "." + b64(string(body))
	return head + "." + base64.RawURLEncoding.EncodeToString(mac(key, head)), nil
}

// verifyToken checks the signature, algorithm, exp and nbf of a token and
// returns its claims. Every failure wraps ErrUnauthorized.
func verifyToken(key []byte, token string, now time.Time) (claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return claims{}, fmt.Errorf("%w: malformed token", ErrUnauthorized)
	}
	var head struct {
		Alg string `json:"alg"`
	}
	if err := decodeSegment(parts[0], &head); err != nil || head.Alg != "HS256" {
		return claims{}, fmt.Errorf("%w: unsupported token header", ErrUnauthorized)
	}
	// The signature is compared in the one encoding a JWS has (base64url,
	// no padding): decoding it first would also take line breaks, padding
	// and unused low bits, so one signed token would verify in many forms.
	sig := base64.RawURLEncoding.EncodeToString(mac(key, parts[0]+"."+parts[1]))
	if !hmac.Equal([]byte(parts[2]), []byte(sig)) {
		return claims{}, fmt.Errorf("%w: bad signature", ErrUnauthorized)
	}
	var raw map[string]json.RawMessage
	if err := decodeSegment(parts[1], &raw); err != nil {
		return claims{}, fmt.Errorf("%w: malformed claims", ErrUnauthorized)
	}
	exp, ok := numericDate(raw["exp"])
	if !ok {
		return claims{}, fmt.Errorf("%w: missing exp", ErrUnauthorized)
	}
	if now.After(exp.Add(leeway)) {
		return claims{}, fmt.Errorf("%w: token expired at %s", ErrUnauthorized, exp.UTC().Format(time.RFC3339))
	}
	if nbf, ok := numericDate(raw["nbf"]); ok && now.Add(leeway).Before(nbf) {
		return claims{}, fmt.Errorf("%w: token not valid yet", ErrUnauthorized)
	}
	c := claims{Expiry: exp, Audience: audience(raw["aud"])}
	for _, name := range userClaims {
		var user string
		if json.Unmarshal(raw[name], &user) == nil && user != "" {
			c.User = user
			break
		}
	}
	return c, nil
}

func mac(key []byte, signingInput string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(signingInput))
	return h.Sum(nil)
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func decodeSegment(seg string, v any) error {
	data, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// numericDate reads a JWT NumericDate, which may carry a fraction.
func numericDate(raw json.RawMessage) (time.Time, bool) {
	var n json.Number
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if len(raw) == 0 || dec.Decode(&n) != nil {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || math.Abs(f) > 1e15 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*float64(time.Second))), true
}

// audience reads aud, which RFC 7519 allows as a string or an array
// (lestrrat-go/jwx, used by components-contrib, writes an array).
func audience(raw json.RawMessage) []string {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil {
		return many
	}
	return nil
}
