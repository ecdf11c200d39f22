package authserver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func kidOf(t *testing.T, token string) string {
	t.Helper()
	b, _ := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	var h struct {
		Kid string `json:"kid"`
	}
	json.Unmarshal(b, &h)
	return h.Kid
}

func jwksKids(t *testing.T, e *env) []string {
	t.Helper()
	resp, body := e.do(http.MethodGet, "/jwks", nil, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatal(resp.StatusCode)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(body), &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		if !k.IsPublic() || k.Algorithm != "ES256" {
			t.Fatalf("JWKS publishes a private or non-ES256 key: %+v", k)
		}
		kids = append(kids, k.KeyID)
	}
	return kids
}

func TestKeyRotationKeepsOldKeysUntilTheirTokensExpire(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.KeyRotation = 2 * time.Hour })
	c := e.publicClient()
	old := e.codeFlow(c)
	oldKid := kidOf(t, old.access)
	if kids := jwksKids(t, e); len(kids) != 1 || kids[0] != oldKid {
		t.Fatalf("JWKS %v, want [%s]", kids, oldKid)
	}
	// Shortly before the rotation the next key is published already.
	e.clock.Advance(2*time.Hour - time.Minute)
	if kids := jwksKids(t, e); len(kids) != 2 {
		t.Fatalf("next key not published ahead: %v", kids)
	}
	e.clock.Advance(2 * time.Minute)
	status, m := e.refresh(c, old.refresh)
	fresh := tokensOf(t, status, m)
	if kidOf(t, fresh.access) == oldKid {
		t.Fatal("no rotation")
	}
	// A token of the old key is still valid (it has not expired) ...
	e.clock.Advance(-2*time.Hour + 30*time.Minute)
	e.claimsOf(old.access)
	e.clock.Advance(2*time.Hour - 30*time.Minute)
	if kids := jwksKids(t, e); !slices.Contains(kids, oldKid) {
		t.Fatal("retired key unpublished while its tokens may be valid")
	}
	// ... and once they cannot be, the key goes.
	e.clock.Advance(time.Hour + 2*time.Minute)
	if kids := jwksKids(t, e); slices.Contains(kids, oldKid) {
		t.Fatalf("retired key still published: %v", kids)
	}
}

func TestForeignAndUnsignedTokensDoNotVerify(t *testing.T) {
	e := newEnv(t, nil)
	c := e.publicClient()
	good := e.codeFlow(c)
	payload := strings.Split(good.access, ".")[1]
	req := httptest.NewRequest(http.MethodPost, e.ts.URL+"/revoke", nil)

	// Signed by another key that claims our kid.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: other, KeyID: kidOf(t, good.access)}},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	raw, _ := base64.RawURLEncoding.DecodeString(payload)
	jws, _ := signer.Sign(raw)
	forged, _ := jws.CompactSerialize()
	// alg none.
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt","kid":"`+kidOf(t, good.access)+`"}`)) + "." + payload + "."
	for name, tok := range map[string]string{"other key": forged, "alg none": none} {
		if _, ok := e.srv.parseAccessToken(req, tok); ok {
			t.Errorf("%s: token verified", name)
		}
	}
	// Expired.
	e.clock.Advance(time.Hour + time.Second)
	if _, ok := e.srv.parseAccessToken(req, good.access); ok {
		t.Error("expired token verified")
	}
}

func TestVerificationKeysMatchJWKS(t *testing.T) {
	e := newEnv(t, nil)
	e.codeFlow(e.publicClient()) // the first signing creates the key
	set, err := e.srv.VerificationKeys(context.Background())
	if err != nil || len(set.Keys) != 1 || set.Keys[0].KeyID != jwksKids(t, e)[0] {
		t.Fatalf("%v %v", set, err)
	}
}

// Constructing a server, publishing its (empty) JWKS and verifying keys are
// reads: `caddy validate` and the read-only operator commands must leave
// storage as they found it. The first signing creates the key.
func TestConstructionAndVerificationWriteNothing(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	if set, err := e.srv.VerificationKeys(ctx); err != nil || len(set.Keys) != 0 {
		t.Fatalf("fresh server publishes %v, %v; want no keys", set, err)
	}
	if n := countFiles(t, e, nsKeys); n != 0 {
		t.Fatalf("%d keys written before any signing", n)
	}
	if n := countFiles(t, e, nsSecrets); n != 0 {
		t.Fatalf("%d secrets written before any browser visit", n)
	}
	e.codeFlow(e.publicClient())
	if countFiles(t, e, nsKeys) != 1 || countFiles(t, e, nsSecrets) != 1 {
		t.Fatal("a code flow did not create the signing key and the cookie key")
	}
}
