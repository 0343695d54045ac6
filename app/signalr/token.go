package signalr

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Azure SignalR tokens are compact JWS with HS256 over the AccessKey,
// signed and verified with golang-jwt.

// leeway tolerates clock skew between the token's minter and this service.
const leeway = 30 * time.Second

// claims is the verified content of a token.
type claims struct {
	Audience []string
	Expiry   time.Time
	User     string
}

// signToken mints an HS256 token for aud, valid until exp, naming user in
// sub when user is not empty. aud is written as a string, as
// components-contrib and the Azure SDKs write it.
func signToken(key []byte, aud string, exp time.Time, user string) (string, error) {
	c := jwt.MapClaims{"aud": aud, "exp": exp.Unix()}
	if user != "" {
		c["sub"] = user
	}
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(key)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return token, nil
}

// verifyToken checks the signature, algorithm, exp and nbf of a token and
// returns its claims. Every failure wraps ErrUnauthorized.
func verifyToken(key []byte, token string, now time.Time) (claims, error) {
	// A JWS has one encoding (base64url, no padding): base64 decoders also
	// skip line breaks, so without this one signed token would verify in
	// many forms. Strict decoding refuses unused low bits set.
	if !compact(token) {
		return claims{}, fmt.Errorf("%w: malformed token", ErrUnauthorized)
	}
	// HS256 only: never none, never an asymmetric algorithm with the access
	// key as its "public key". golang-jwt refuses a token from exp+leeway
	// on; the extra nanosecond keeps this service's rule, valid through
	// exp+leeway inclusive.
	var tc tokenClaims
	_, err := jwt.ParseWithClaims(token, &tc, func(*jwt.Token) (any, error) { return key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(leeway+time.Nanosecond),
		jwt.WithStrictDecoding(),
		jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil {
		return claims{}, fmt.Errorf("%w: %s", ErrUnauthorized, reason(err))
	}
	return claims{Expiry: tc.Expiry.Time, Audience: tc.Audience, User: tc.user()}, nil
}

// compact reports whether token is three base64url segments.
func compact(token string) bool {
	dots := 0
	for i := range len(token) {
		switch b := token[i]; {
		case b == '.':
			dots++
		case 'A' <= b && b <= 'Z', 'a' <= b && b <= 'z', '0' <= b && b <= '9', b == '-', b == '_':
		default:
			return false
		}
	}
	return dots == 2
}

// reason says briefly why golang-jwt refused a token, without its text.
func reason(err error) string {
	for _, r := range []struct {
		err  error
		text string
	}{
		{jwt.ErrTokenExpired, "token expired"},
		{jwt.ErrTokenNotValidYet, "token not valid yet"},
		{jwt.ErrTokenRequiredClaimMissing, "missing exp"},
		{jwt.ErrTokenSignatureInvalid, "bad signature or algorithm"},
		{jwt.ErrTokenUnverifiable, "unsupported token header"},
	} {
		if errors.Is(err, r.err) {
			return r.text
		}
	}
	return "malformed token"
}

// tokenClaims are the claims read from a token. The user of a client
// connection is named, in order of preference, by asrs.s.uid or nameid (the
// Azure management SDK writes them), the long nameidentifier claim, or sub
// (components-contrib writes it). They are read leniently: one that is not
// a string names no one, rather than spoiling the token.
type tokenClaims struct {
	Audience       jwt.ClaimStrings `json:"aud"`
	Expiry         *jwt.NumericDate `json:"exp"`
	NotBefore      *jwt.NumericDate `json:"nbf"`
	UID            userClaim        `json:"asrs.s.uid"`
	NameID         userClaim        `json:"nameid"`
	NameIdentifier userClaim        `json:"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier"`
	Subject        userClaim        `json:"sub"`
}

var _ jwt.Claims = (*tokenClaims)(nil)

// user is the first user claim of userClaims that the token carries.
func (c *tokenClaims) user() string {
	for _, u := range []userClaim{c.UID, c.NameID, c.NameIdentifier, c.Subject} {
		if u != "" {
			return string(u)
		}
	}
	return ""
}

func (c *tokenClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.Expiry, nil }
func (c *tokenClaims) GetNotBefore() (*jwt.NumericDate, error)      { return c.NotBefore, nil }
func (c *tokenClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return nil, nil }
func (c *tokenClaims) GetIssuer() (string, error)                   { return "", nil }
func (c *tokenClaims) GetSubject() (string, error)                  { return string(c.Subject), nil }
func (c *tokenClaims) GetAudience() (jwt.ClaimStrings, error)       { return c.Audience, nil }

// userClaim is a claim that names a user when it is a string.
type userClaim string

func (u *userClaim) UnmarshalJSON(data []byte) error {
	var s string
	if json.Unmarshal(data, &s) == nil {
		*u = userClaim(s)
	}
	return nil
}
