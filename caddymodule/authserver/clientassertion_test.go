package authserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// keyClient is a private_key_jwt document client and its key.
type keyClient struct {
	registered
	key *ecdsa.PrivateKey
	kid string
}

func newSigningKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func publicJWKS(k *ecdsa.PrivateKey, kid string) map[string]any {
	b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.PublicKey, KeyID: kid, Algorithm: "ES256", Use: "sig"}}})
	var m map[string]any
	json.Unmarshal(b, &m)
	return m
}

// publishKeyClient publishes a private_key_jwt document with its keys
// inline, or at a jwks_uri on the same host when atURI.
func (d *docEnv) publishKeyClient(t *testing.T, path string, atURI bool) keyClient {
	key := newSigningKey(t)
	fields := map[string]any{"token_endpoint_auth_method": "private_key_jwt"}
	if atURI {
		b, _ := json.Marshal(publicJWKS(key, "k1"))
		d.host.JSON(path+".jwks", string(b))
		fields["jwks_uri"] = "https://keys.example:" + d.host.Port() + path + ".jwks"
	} else {
		fields["jwks"] = publicJWKS(key, "k1")
	}
	return keyClient{registered: d.publish(path, fields), key: key, kid: "k1"}
}

// assertion signs claims (defaults: a valid assertion for c at d) with key.
func (d *docEnv) assertion(t *testing.T, c keyClient, mutate func(*jwt.Claims, *jose.SignerOptions)) string {
	t.Helper()
	now := d.clock.Now()
	claims := jwt.Claims{
		Issuer: c.id, Subject: c.id, Audience: jwt.Audience{d.ts.URL + "/token"},
		Expiry: jwt.NewNumericDate(now.Add(time.Minute)), IssuedAt: jwt.NewNumericDate(now), ID: randomID(),
	}
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", c.kid)
	if mutate != nil {
		mutate(&claims, opts)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: c.key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func assertionForm(a string, extra url.Values) url.Values {
	f := url.Values{"client_assertion_type": {jwtBearerAssertion}, "client_assertion": {a}}
	for k, v := range extra {
		f[k] = v
	}
	return f
}

func TestPrivateKeyJWTFullFlow(t *testing.T) {
	for _, atURI := range []bool{false, true} {
		t.Run(map[bool]string{false: "jwks", true: "jwks_uri"}[atURI], func(t *testing.T) {
			d := newDocEnv(t, nil)
			c := d.publishKeyClient(t, "/agent.json", atURI)
			verifier, challenge := pkce()
			loc := d.browser().authorize(authParams(c.registered, challenge))
			status, m, _ := d.postForm("/token", assertionForm(d.assertion(t, c, nil), url.Values{
				"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
				"redirect_uri": {c.redirect}, "code_verifier": {verifier},
			}), "", "")
			tok := tokensOf(t, status, m)
			status, m, _ = d.postForm("/token", assertionForm(d.assertion(t, c, nil), url.Values{
				"grant_type": {"refresh_token"}, "refresh_token": {tok.refresh},
			}), "", "")
			tok = tokensOf(t, status, m)
			// Revocation accepts an assertion addressed to the issuer.
			status, m, _ = d.postForm("/revoke", assertionForm(d.assertion(t, c, func(cl *jwt.Claims, _ *jose.SignerOptions) {
				cl.Audience = jwt.Audience{d.ts.URL}
			}), url.Values{"token": {tok.refresh}}), "", "")
			if status != http.StatusOK {
				t.Fatalf("revoke: %d %v", status, m)
			}
			// Without an assertion the client is not authenticated.
			status, m, _ = d.postForm("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.refresh}, "client_id": {c.id}}, "", "")
			wantError(t, status, m, http.StatusUnauthorized, "invalid_client")
		})
	}
}

func TestPrivateKeyJWTRefusals(t *testing.T) {
	d := newDocEnv(t, nil)
	c := d.publishKeyClient(t, "/agent.json", false)
	other := newSigningKey(t)
	grant := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"unknown"}}
	// Authentication passes before the grant is looked at: a good
	// assertion gets invalid_grant, a bad one invalid_client.
	status, m, _ := d.postForm("/token", assertionForm(d.assertion(t, c, nil), grant), "", "")
	wantError(t, status, m, http.StatusBadRequest, "invalid_grant")

	replayed := d.assertion(t, c, nil)
	d.postForm("/token", assertionForm(replayed, grant), "", "")
	for _, tc := range []struct {
		name      string
		assertion func() string
		form      url.Values
		want      string
	}{
		{"replayed jti", func() string { return replayed }, nil, "already used"},
		{"audience of another server", func() string {
			return d.assertion(t, c, func(cl *jwt.Claims, _ *jose.SignerOptions) { cl.Audience = jwt.Audience{"https://other.example/token"} })
		}, nil, "aud must be"},
		{"no exp", func() string {
			return d.assertion(t, c, func(cl *jwt.Claims, _ *jose.SignerOptions) { cl.Expiry = nil })
		}, nil, "has no exp"},
		{"expired", func() string {
			return d.assertion(t, c, func(cl *jwt.Claims, _ *jose.SignerOptions) {
				cl.Expiry = jwt.NewNumericDate(d.clock.Now().Add(-time.Second))
			})
		}, nil, "has expired"},
		{"exp too far ahead", func() string {
			return d.assertion(t, c, func(cl *jwt.Claims, _ *jose.SignerOptions) {
				cl.Expiry = jwt.NewNumericDate(d.clock.Now().Add(time.Hour))
			})
		}, nil, "ahead"},
		{"not yet valid", func() string {
			return d.assertion(t, c, func(cl *jwt.Claims, _ *jose.SignerOptions) {
				cl.NotBefore = jwt.NewNumericDate(d.clock.Now().Add(time.Minute))
			})
		}, nil, "not valid yet"},
		{"issued in the future", func() string {
			return d.assertion(t, c, func(cl *jwt.Claims, _ *jose.SignerOptions) {
				cl.IssuedAt = jwt.NewNumericDate(d.clock.Now().Add(time.Minute))
			})
		}, nil, "issued in the future"},
		{"no jti", func() string {
			return d.assertion(t, c, func(cl *jwt.Claims, _ *jose.SignerOptions) { cl.ID = "" })
		}, nil, "has no jti"},
		{"sub differs from iss", func() string {
			return d.assertion(t, c, func(cl *jwt.Claims, _ *jose.SignerOptions) { cl.Subject = "someone" })
		}, nil, "iss and sub"},
		{"client_id differs", func() string { return d.assertion(t, c, nil) }, url.Values{"client_id": {d.url("/other.json")}}, "differs from the client_assertion"},
		{"signed by another key", func() string {
			return d.assertion(t, keyClient{registered: c.registered, key: other, kid: c.kid}, nil)
		}, nil, "not signed by a key"},
		{"HMAC with the public key", func() string {
			pub, _ := json.Marshal(publicJWKS(c.key, "k1"))
			signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: pub}, nil)
			s, _ := jwt.Signed(signer).Claims(jwt.Claims{Issuer: c.id, Subject: c.id, Audience: jwt.Audience{d.ts.URL + "/token"},
				Expiry: jwt.NewNumericDate(d.clock.Now().Add(time.Minute)), ID: randomID()}).Serialize()
			return s
		}, nil, "asymmetric algorithm"},
		{"wrong assertion type", func() string { return d.assertion(t, c, nil) }, url.Values{"client_assertion_type": {"urn:other"}}, "client_assertion_type must be"},
		{"assertion and secret", func() string { return d.assertion(t, c, nil) }, url.Values{"client_secret": {"x"}}, "one client authentication method"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := assertionForm(tc.assertion(), grant)
			for k, v := range tc.form {
				form[k] = v
			}
			status, m, _ := d.postForm("/token", form, "", "")
			if status == http.StatusOK || !strings.Contains(m["error_description"].(string), tc.want) {
				t.Errorf("got %d %v, want an error saying %q", status, m, tc.want)
			}
		})
	}
}

// A public document client cannot be authenticated by an assertion, and a
// registered client's id cannot be claimed by one.
func TestAssertionOnlyForKeyClients(t *testing.T) {
	d := newDocEnv(t, nil)
	pub := d.publish("/public.json", nil)
	key := newSigningKey(t)
	for _, id := range []string{pub.id, d.publicClient().id} {
		a := d.assertion(t, keyClient{registered: registered{id: id}, key: key, kid: "k1"}, nil)
		status, m, _ := d.postForm("/token", assertionForm(a, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}), "", "")
		wantError(t, status, m, http.StatusUnauthorized, "invalid_client")
	}
}

// Keys at a jwks_uri that cannot be used authenticate no one.
func TestPrivateKeyJWTUnusableKeySet(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"empty set", `{"keys":[]}`, "not a JSON Web Key Set with keys"},
		{"not JSON", `keys`, "not a JSON Web Key Set with keys"},
		{"missing", "", "answered HTTP 404"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDocEnv(t, nil)
			key := newSigningKey(t)
			if tc.body != "" {
				d.host.JSON("/agent.jwks", tc.body)
			}
			c := keyClient{registered: d.publish("/agent.json", map[string]any{
				"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://keys.example:" + d.host.Port() + "/agent.jwks",
			}), key: key, kid: "k1"}
			status, m, _ := d.postForm("/token", assertionForm(d.assertion(t, c, nil), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}), "", "")
			if status != http.StatusUnauthorized || !strings.Contains(m["error_description"].(string), tc.want) {
				t.Errorf("got %d %v, want invalid_client saying %q", status, m, tc.want)
			}
		})
	}
}
