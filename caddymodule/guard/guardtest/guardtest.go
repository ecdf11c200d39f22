// Package guardtest stands in for the authorization server in tests of the
// guard and of handlers behind it: it holds an ES256 signing key, serves the
// guard's KeySource and RevocationChecker, and mints access tokens.
package guardtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// ErrUnavailable is what VerificationKeys returns while SetFailing(true).
var ErrUnavailable = errors.New("guardtest: key source unavailable")

// Issuer is a fake authorization server. Its methods are safe for
// concurrent use.
type Issuer struct {
	key *ecdsa.PrivateKey
	kid string

	mu      sync.Mutex
	keys    []jose.JSONWebKey
	revoked map[string]bool
	fetches int
	failing bool
}

// NewIssuer returns an issuer with a fresh ES256 key named kid, which is
// also its only published verification key.
func NewIssuer(t testing.TB, kid string) *Issuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	i := &Issuer{key: key, kid: kid, revoked: map[string]bool{}}
	i.keys = []jose.JSONWebKey{i.PublicKey()}
	return i
}

// PublicKey returns the issuer's verification key as a JWK.
func (i *Issuer) PublicKey() jose.JSONWebKey {
	return jose.JSONWebKey{Key: &i.key.PublicKey, KeyID: i.kid, Algorithm: string(jose.ES256), Use: "sig"}
}

// SigningKey returns the issuer's private signing key.
func (i *Issuer) SigningKey() jose.SigningKey {
	return jose.SigningKey{Algorithm: jose.ES256, Key: i.key}
}

// VerificationKeys implements guard.KeySource.
func (i *Issuer) VerificationKeys(context.Context) (jose.JSONWebKeySet, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.fetches++
	if i.failing {
		return jose.JSONWebKeySet{}, ErrUnavailable
	}
	return jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey(nil), i.keys...)}, nil
}

// IsRevoked implements guard.RevocationChecker.
func (i *Issuer) IsRevoked(_ context.Context, jti, grantID string) (bool, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.revoked[jti] || i.revoked[grantID], nil
}

// Revoke marks a token id or grant id as revoked (or not).
func (i *Issuer) Revoke(id string, revoked bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.revoked[id] = revoked
}

// SetKeys replaces the published verification keys.
func (i *Issuer) SetKeys(keys ...jose.JSONWebKey) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.keys = keys
}

// SetFailing makes VerificationKeys fail (or work again).
func (i *Issuer) SetFailing(failing bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.failing = failing
}

// Fetches counts VerificationKeys calls.
func (i *Issuer) Fetches() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.fetches
}

// Mint signs claims as an at+jwt access token with the issuer's key.
func (i *Issuer) Mint(t testing.TB, claims map[string]any) string {
	t.Helper()
	return Sign(t, i.SigningKey(), i.kid, "at+jwt", claims)
}

// Claims returns valid access-token claims for the resource
// origin+resourcePath at now: subject "alice", client "client-1", scope
// "mcp memory.read", jti "tok-1", grant "grant-1", valid for an hour.
func Claims(origin, resourcePath string, now time.Time) map[string]any {
	return map[string]any{
		"iss":       origin,
		"sub":       "alice",
		"aud":       origin + resourcePath,
		"exp":       now.Add(time.Hour).Unix(),
		"iat":       now.Unix(),
		"jti":       "tok-1",
		"client_id": "client-1",
		"scope":     "mcp memory.read",
		"sid":       "grant-1",
	}
}

// ClientClaims returns valid claims of a token minted without a user
// (client_credentials): as Claims, with subject "client-1" (the client id)
// and gty "client_credentials".
func ClientClaims(origin, resourcePath string, now time.Time) map[string]any {
	c := Claims(origin, resourcePath, now)
	c["sub"] = c["client_id"]
	c["gty"] = "client_credentials"
	return c
}

// Sign signs claims as a JWT with key, under the given kid and typ headers.
func Sign(t testing.TB, key jose.SigningKey, kid, typ string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader("kid", kid)
	signer, err := jose.NewSigner(key, opts)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
