package upstreamlogin

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// forgedProvider is an OpenID provider that signs, with its published key,
// whatever ID token the test makes: the real provider in oidc_test.go
// cannot be made to issue one for another audience or issuer, which is
// what these tests need.
type forgedProvider struct {
	ts     *httptest.Server
	claims map[string]any // of the next ID token, over the defaults
}

func startForged(t *testing.T) *forgedProvider {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &forgedProvider{}
	mux := http.NewServeMux()
	f.ts = httptest.NewServer(mux)
	t.Cleanup(f.ts.Close)
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": f.ts.URL, "authorization_endpoint": f.ts.URL + "/auth", "token_endpoint": f.ts.URL + "/token",
			"jwks_uri": f.ts.URL + "/jwks", "id_token_signing_alg_values_supported": []string{"ES256"},
		})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		c := map[string]any{
			"iss": f.ts.URL, "sub": "u1", "aud": clientID, "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(),
			"nonce": "the-nonce", "email": "ann@example.com", "email_verified": true,
		}
		for k, v := range f.claims {
			c[k] = v
		}
		raw, err := jwt.Signed(signer).Claims(c).Serialize()
		if err != nil {
			t.Error(err)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 3600, "id_token": raw})
	})
	return f
}

func TestOIDCRefusesForgedIDTokens(t *testing.T) {
	f := startForged(t)
	o := newOIDC(t, f.ts.URL, func(c *OIDCConfig) { c.GroupsClaim = "" })
	a := newAttempt()
	a.Nonce = "the-nonce"
	cb := url.Values{"code": {"c"}, "state": {a.State}}
	if id, err := o.Complete(context.Background(), a, cb); err != nil || id.Subject != f.ts.URL+"#u1" {
		t.Fatalf("the stand-in's own token: %+v, %v", id, err)
	}
	for _, tc := range []struct {
		name   string
		claims map[string]any
		want   string
	}{
		{"another audience", map[string]any{"aud": "another-client"}, "expected audience"},
		{"another issuer", map[string]any{"iss": "https://evil.example"}, "different provider"},
		{"another nonce", map[string]any{"nonce": "replayed"}, "nonce"},
		{"no nonce", map[string]any{"nonce": ""}, "nonce"},
		{"expired", map[string]any{"exp": time.Now().Add(-time.Minute).Unix()}, "expired"},
		{"made for another client too", map[string]any{"aud": []string{"another-client", clientID}, "azp": "another-client"}, "azp"},
		{"no subject", map[string]any{"sub": ""}, "no sub"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.claims = tc.claims
			if _, err := o.Complete(context.Background(), a, cb); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
	t.Run("a callback naming another issuer", func(t *testing.T) {
		f.claims = nil
		cb := url.Values{"code": {"c"}, "state": {a.State}, "iss": {"https://evil.example"}}
		if _, err := o.Complete(context.Background(), a, cb); err == nil || !strings.Contains(err.Error(), "names issuer") {
			t.Fatalf("got %v", err)
		}
	})
}
