package oauthwire

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// ParseAccessToken is the one gate both the authorization server (revoke)
// and the guard pass a token through: only an asymmetrically signed at+jwt.
func TestParseAccessToken(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(key jose.SigningKey, typ string) string {
		t.Helper()
		opts := new(jose.SignerOptions)
		if typ != "" {
			opts = opts.WithType(jose.ContentType(typ))
		}
		signer, err := jose.NewSigner(key, opts)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := jwt.Signed(signer).Claims(AccessClaims{ClientID: "c"}).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	es256 := jose.SigningKey{Algorithm: jose.ES256, Key: ec}
	hs256 := jose.SigningKey{Algorithm: jose.HS256, Key: []byte("0123456789abcdef0123456789abcdef")}
	for name, c := range map[string]struct {
		raw  string
		want error
	}{
		"ES256 at+jwt":             {sign(es256, "at+jwt"), nil},
		"application/at+jwt":       {sign(es256, "application/at+jwt"), nil},
		"ID token (typ JWT)":       {sign(es256, "JWT"), ErrNotAccessToken},
		"no typ":                   {sign(es256, ""), ErrNotAccessToken},
		"HMAC, whatever its typ":   {sign(hs256, "at+jwt"), ErrNotSignedJWT},
		"not a JWS":                {"a.b", ErrNotSignedJWT},
		"unsigned (alg none) form": {"eyJhbGciOiJub25lIn0.e30.", ErrNotSignedJWT},
	} {
		if _, _, err := ParseAccessToken(c.raw); !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}
