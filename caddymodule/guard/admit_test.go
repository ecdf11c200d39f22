package guard

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/mcpgate/mcpgate/caddymodule/guard/guardtest"
)

func TestAdmitValidToken(t *testing.T) {
	f := newFixture(t, nil)
	w, got := f.admit("Bearer "+f.token(nil), nil)
	if got == nil {
		t.Fatalf("refused valid token: %d %s", w.Code, w.Body)
	}
	want := Identity{Subject: "alice", ClientID: "client-1", Scopes: []string{"mcp", "memory.read"}, TokenID: "tok-1", GrantID: "grant-1"}
	if got.identity.Subject != want.Subject || got.identity.ClientID != want.ClientID ||
		strings.Join(got.identity.Scopes, " ") != "mcp memory.read" || got.identity.TokenID != want.TokenID || got.identity.GrantID != want.GrantID {
		t.Errorf("identity = %+v, want %+v", got.identity, want)
	}
	if got.header.Get("X-MCP-Subject") != "alice" || got.header.Get("X-MCP-Client-ID") != "client-1" {
		t.Errorf("identity headers = %v", got.header)
	}
}

// TestAdmitRejectsBadTokens holds one case per verification rule; each
// fails when its rule is removed.
func TestAdmitRejectsBadTokens(t *testing.T) {
	f := newFixture(t, nil)
	other := guardtest.NewIssuer(t, "k1") // same kid, different key
	cases := map[string]string{
		"other audience":             f.token(func(c map[string]any) { c["aud"] = testOrigin + "/other" }),
		"audience of another origin": f.token(func(c map[string]any) { c["aud"] = "https://evil.example/mcp" }),
		"expired":                    f.token(func(c map[string]any) { c["exp"] = f.clock.now().Add(-time.Hour).Unix() }),
		"no exp":                     f.token(func(c map[string]any) { delete(c, "exp") }),
		"not yet valid":              f.token(func(c map[string]any) { c["nbf"] = f.clock.now().Add(time.Hour).Unix() }),
		"wrong issuer":               f.token(func(c map[string]any) { c["iss"] = "https://evil.example" }),
		"no subject":                 f.token(func(c map[string]any) { delete(c, "sub") }),
		"no client_id":               f.token(func(c map[string]any) { delete(c, "client_id") }),
		"no jti":                     f.token(func(c map[string]any) { delete(c, "jti") }),
		"tampered":                   tamper(t, f.token(nil)),
		"alg none":                   unsigned(t, f.claims()),
		"other key":                  other.Mint(t, f.claims()),
		"hmac":                       guardtest.Sign(t, jose.SigningKey{Algorithm: jose.HS256, Key: []byte("0123456789abcdef0123456789abcdef")}, "k1", "at+jwt", f.claims()),
		"typ JWT":                    guardtest.Sign(t, f.as.SigningKey(), "k1", "JWT", f.claims()),
		"unknown kid":                guardtest.NewIssuer(t, "k9").Mint(t, f.claims()),
		"not a jwt":                  "abc.def.ghi",
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			w, got := f.admit("Bearer "+tok, nil)
			if got != nil {
				t.Fatal("admitted")
			}
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", w.Code)
			}
			challenge := w.Header().Get("WWW-Authenticate")
			if !strings.Contains(challenge, `error="invalid_token"`) {
				t.Errorf("challenge %q lacks invalid_token", challenge)
			}
		})
	}
}

func TestAdmitMissingTokenChallenge(t *testing.T) {
	f := newFixture(t, nil)
	for _, auth := range []string{"", "Basic YWxpY2U6c2VjcmV0"} {
		w, got := f.admit(auth, nil)
		if got != nil || w.Code != http.StatusUnauthorized {
			t.Fatalf("%q: status %d, want 401", auth, w.Code)
		}
		want := `Bearer resource_metadata="https://gw.example/.well-known/oauth-protected-resource/mcp", scope="mcp"`
		if got := w.Header().Get("WWW-Authenticate"); got != want {
			t.Errorf("challenge = %q, want %q", got, want)
		}
		var body map[string]string
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body["error"] == "" {
			t.Errorf("body %q: %v", w.Body, err)
		}
	}
}

func TestAdmitEmptyBearerIsInvalidToken(t *testing.T) {
	f := newFixture(t, nil)
	w, _ := f.admit("Bearer ", nil)
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Header().Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("got %d %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}
}

func TestAdmitStripsClientCredentialAndSpoofedIdentity(t *testing.T) {
	f := newFixture(t, nil)
	spoof := http.Header{"X-Mcp-Subject": {"root"}, "X-Mcp-Client-Id": {"admin-client"}, "X-Mcp-Subject-Type": {"client"}}
	_, got := f.admit("Bearer "+f.token(nil), spoof)
	if got == nil {
		t.Fatal("refused")
	}
	if a := got.header.Values("Authorization"); len(a) != 0 {
		t.Errorf("Authorization forwarded: %q", a)
	}
	if s := got.header.Values("X-MCP-Subject"); len(s) != 1 || s[0] != "alice" {
		t.Errorf("subject header = %q, want [alice]", s)
	}
	if c := got.header.Values("X-MCP-Client-ID"); len(c) != 1 || c[0] != "client-1" {
		t.Errorf("client id header = %q, want [client-1]", c)
	}
	if s := got.header.Values("X-MCP-Subject-Type"); len(s) != 1 || s[0] != "user" {
		t.Errorf("subject type header = %q, want [user]", s)
	}
}

// A proxy deletes the headers that Connection names after the guard ran,
// so a client naming the identity headers there would strip them.
func TestAdmitKeepsIdentityOutOfConnection(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.BackendAuthorization = "Bearer backend-secret" })
	_, got := f.admit("Bearer "+f.token(nil), http.Header{"Connection": {"X-MCP-Subject, authorization", "x-mcp-client-id, keep-alive, X-Mcp-Subject-Type"}})
	if got == nil {
		t.Fatal("refused")
	}
	if c := got.header.Values("Connection"); len(c) != 1 || c[0] != "keep-alive" {
		t.Errorf("Connection = %q, want only keep-alive", c)
	}
}

func TestAdmitSetsBackendCredential(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.BackendAuthorization = "Bearer backend-secret" })
	_, got := f.admit("Bearer "+f.token(nil), nil)
	if got == nil || got.header.Get("Authorization") != "Bearer backend-secret" {
		t.Fatalf("backend credential not set: %+v", got)
	}
}

func TestAdmitRequiresConfiguredScope(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Scopes = []string{"memory.write"} })
	w, got := f.admit("Bearer "+f.token(nil), nil)
	if got != nil || w.Code != http.StatusForbidden {
		t.Fatalf("status %d, want 403", w.Code)
	}
	challenge := w.Header().Get("WWW-Authenticate")
	if !strings.Contains(challenge, `error="insufficient_scope"`) || !strings.Contains(challenge, `scope="memory.write"`) {
		t.Errorf("challenge = %q", challenge)
	}
}

func TestAdmitKeySourceFailureIs503(t *testing.T) {
	f := newFixture(t, nil)
	f.as.SetFailing(true)
	w, got := f.admit("Bearer "+f.token(nil), nil)
	if got != nil || w.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", w.Code)
	}
}

func TestOnFailureReportsReason(t *testing.T) {
	var reasons []string
	f := newFixture(t, func(c *Config) {
		c.OnFailure = func(_ *http.Request, reason string) { reasons = append(reasons, reason) }
	})
	f.admit("", nil)
	f.admit("Bearer "+f.token(func(c map[string]any) { c["iss"] = "https://x" }), nil)
	if strings.Join(reasons, ",") != "missing_token,wrong_issuer" {
		t.Errorf("reasons = %q", reasons)
	}
}

// tamper changes the payload of a signed token, keeping the signature.
func tamper(t testing.TB, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	payload = []byte(strings.Replace(string(payload), `"alice"`, `"admin"`, 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

// unsigned builds an alg "none" token.
func unsigned(t *testing.T, c map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "none", "typ": "at+jwt", "kid": "k1"}) + "." + enc(c) + "."
}

func TestAdmitRejectsAlgorithmsOutsideTheAllowList(t *testing.T) {
	f := newFixture(t, nil)
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f.as.SetKeys(f.as.PublicKey(), jose.JSONWebKey{Key: &key.PublicKey, KeyID: "p384", Use: "sig"})
	tok := guardtest.Sign(t, jose.SigningKey{Algorithm: jose.ES384, Key: key}, "p384", "at+jwt", f.claims())
	if w, got := f.admit("Bearer "+tok, nil); got != nil || w.Code != http.StatusUnauthorized {
		t.Fatalf("ES384 token admitted: %d", w.Code)
	}
}

func TestAdmitAcceptsEdDSA(t *testing.T) {
	f := newFixture(t, nil)
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f.as.SetKeys(jose.JSONWebKey{Key: pub, KeyID: "ed", Algorithm: string(jose.EdDSA), Use: "sig"})
	tok := guardtest.Sign(t, jose.SigningKey{Algorithm: jose.EdDSA, Key: priv}, "ed", "at+jwt", f.claims())
	if w, got := f.admit("Bearer "+tok, nil); got == nil {
		t.Fatalf("EdDSA token refused: %d %s", w.Code, w.Body)
	}
}

// Admit forwards a copy: the incoming request, which Caddy's access log and
// later handlers read, keeps the client's own headers.
func TestAdmitLeavesTheIncomingRequestAlone(t *testing.T) {
	f := newFixture(t, nil)
	r := httptest.NewRequest(http.MethodPost, testOrigin+"/mcp", nil)
	r.Header.Set("Authorization", "Bearer "+f.token(nil))
	r.Header.Set("X-MCP-Subject", "mallory")
	before := r.Header.Clone()
	out, ok := f.guard.Admit(httptest.NewRecorder(), r)
	if !ok {
		t.Fatal("refused a valid token")
	}
	if !reflect.DeepEqual(r.Header, before) {
		t.Errorf("incoming headers changed to %v", r.Header)
	}
	if out.Header.Get("X-MCP-Subject") != "alice" || out.Header.Get("Authorization") != "" {
		t.Errorf("forwarded headers %v", out.Header)
	}
}
