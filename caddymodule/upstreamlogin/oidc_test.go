package upstreamlogin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/mcpgate/mcpgate/caddymodule/authserver"
	"github.com/mcpgate/mcpgate/caddymodule/internal/browsertest"
	"github.com/mcpgate/mcpgate/caddymodule/internal/oidctest"
	"github.com/mcpgate/mcpgate/caddymodule/publicurl"
)

const (
	clientID     = "mcpgate"
	clientSecret = "a-secret-of-the-gateway-at-the-provider"
	// direct is the redirect URI of tests that complete sign-ins
	// themselves, without an authorization server.
	direct = "http://127.0.0.1:9/direct"
)

var verified = true

func testUsers() map[string]oidctest.User {
	no := false
	return map[string]oidctest.User{
		"ann":   {Password: "ann-pw", Email: "ann@example.com", EmailVerified: &verified, Groups: []string{"eng", "ops"}},
		"bob":   {Password: "bob-pw", Email: "bob@other.example", Groups: []string{"eng"}},
		"carol": {Password: "carol-pw", Email: "carol@example.com", EmailVerified: &no},
	}
}

// startIDP runs the real provider with the gateway registered at
// redirectURIs.
func startIDP(t *testing.T, ttl time.Duration, redirectURIs ...string) *oidctest.Provider {
	t.Helper()
	return oidctest.Start(t, oidctest.Config{
		Clients:    []oidctest.Client{{ID: clientID, Secret: clientSecret, RedirectURIs: append(redirectURIs, direct)}},
		Users:      testUsers(),
		IDTokenTTL: ttl,
	})
}

func newOIDC(t *testing.T, issuer string, mutate func(*OIDCConfig)) *OIDC {
	t.Helper()
	cfg := OIDCConfig{
		Name: "corp", Label: "Corp", Issuer: issuer, ClientID: clientID, ClientSecret: clientSecret,
		Scopes: []string{"openid", "email", "groups"}, GroupsClaim: oidctest.GroupsClaim,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	o, err := NewOIDC(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func newAttempt() authserver.UpstreamAttempt {
	return authserver.UpstreamAttempt{RedirectURI: direct, State: "state-" + random(), Nonce: "nonce-" + random(), Verifier: random() + random()}
}

func random() string { return rand.Text() }

// appAuthorization is a PKCE verifier and the authorization request of the
// static client "app" with its challenge (and scope, unless empty).
func appAuthorization(scope string) (verifier string, q url.Values) {
	verifier = random() + random()
	sum := sha256.Sum256([]byte(verifier))
	q = url.Values{
		"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {"http://127.0.0.1:7/cb"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	if scope != "" {
		q.Set("scope", scope)
	}
	return verifier, q
}

// signIn signs login in at the provider for attempt and returns the
// callback's query, as the browser would bring it back.
func signIn(t *testing.T, idp *oidctest.Provider, o *OIDC, a authserver.UpstreamAttempt, login, password string) url.Values {
	t.Helper()
	authURL, err := o.AuthCodeURL(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	back, err := browsertest.New(nil).AuthorizeUpstream(authURL, idp.Issuer, "Corp", login, password, "approve")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(back.String(), direct) {
		t.Fatalf("provider sent the browser to %s", back)
	}
	return back.Query()
}

func TestOIDCSignInReadsTheVerifiedIdentity(t *testing.T) {
	idp := startIDP(t, 0)
	o := newOIDC(t, idp.Issuer, nil)
	a := newAttempt()
	cb := signIn(t, idp, o, a, "ann", "ann-pw")
	if cb.Get("state") != a.State {
		t.Fatalf("state %q came back, sent %q", cb.Get("state"), a.State)
	}
	id, err := o.Complete(context.Background(), a, cb)
	if err != nil {
		t.Fatal(err)
	}
	if id.Subject != idp.Issuer+"#ann" || id.Username != "ann@example.com" || strings.Join(id.Groups, ",") != "eng,ops" || id.Domain != "example.com" {
		t.Fatalf("identity %+v", id)
	}
}

func TestOIDCRefusesAnIDTokenOfAnotherSignIn(t *testing.T) {
	idp := startIDP(t, 0)
	o := newOIDC(t, idp.Issuer, nil)
	a := newAttempt()
	cb := signIn(t, idp, o, a, "ann", "ann-pw")
	// The code (and its ID token) of one sign-in presented as another's:
	// the nonce differs.
	other := a
	other.Nonce = "nonce-of-another-sign-in"
	if _, err := o.Complete(context.Background(), other, cb); err == nil || !strings.Contains(err.Error(), "nonce") {
		t.Fatalf("another sign-in's nonce: %v", err)
	}
}

func TestOIDCSendsPKCE(t *testing.T) {
	idp := startIDP(t, 0)
	o := newOIDC(t, idp.Issuer, nil)
	a := newAttempt()
	cb := signIn(t, idp, o, a, "ann", "ann-pw")
	// A stolen code without the verifier is worth nothing: the provider
	// checks the verifier against the challenge it was sent.
	other := a
	other.Verifier = random() + random()
	if _, err := o.Complete(context.Background(), other, cb); err == nil || !strings.Contains(err.Error(), "redeeming the code") {
		t.Fatalf("wrong verifier: %v", err)
	}
}

func TestOIDCRefusesAnExpiredIDToken(t *testing.T) {
	idp := startIDP(t, time.Minute)
	// The gateway's clock is two minutes ahead of the token's issue.
	o := newOIDC(t, idp.Issuer, func(c *OIDCConfig) { c.Now = func() time.Time { return time.Now().Add(2 * time.Minute) } })
	a := newAttempt()
	cb := signIn(t, idp, o, a, "ann", "ann-pw")
	if _, err := o.Complete(context.Background(), a, cb); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired ID token: %v", err)
	}
}

func TestOIDCAllowedDomains(t *testing.T) {
	idp := startIDP(t, 0)
	o := newOIDC(t, idp.Issuer, func(c *OIDCConfig) { c.AllowedDomains = []string{"Example.com"} })
	for _, tc := range []struct{ login, want string }{
		{"ann", ""},
		{"bob", "accounts of other.example are not allowed here"},
		{"carol", "has not verified your email address"},
	} {
		if tc.login == "carol" {
			// Without allowed_domains, and named by another claim than
			// her unverified email, carol signs in, but with no domain a
			// policy could grant by.
			a := newAttempt()
			open := newOIDC(t, idp.Issuer, func(c *OIDCConfig) { c.UsernameClaim = "sub" })
			if id, err := open.Complete(context.Background(), a, signIn(t, idp, open, a, "carol", "carol-pw")); err != nil || id.Domain != "" {
				t.Errorf("carol without allowed_domains: %+v %v, want no domain", id, err)
			}
		}
		a := newAttempt()
		id, err := o.Complete(context.Background(), a, signIn(t, idp, o, a, tc.login, tc.login+"-pw"))
		var denied *authserver.UpstreamDenied
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.login, err)
		case tc.want != "" && (!asDenied(err, &denied) || !strings.Contains(denied.Reason, tc.want)):
			t.Errorf("%s: got %v, %v; want denied: %s", tc.login, id, err, tc.want)
		}
	}
}

func asDenied(err error, d **authserver.UpstreamDenied) bool {
	x, ok := err.(*authserver.UpstreamDenied)
	*d = x
	return ok
}

func TestOIDCProviderDown(t *testing.T) {
	idp := startIDP(t, 0)
	o := newOIDC(t, idp.Issuer, nil)
	a := newAttempt()
	cb := signIn(t, idp, o, a, "ann", "ann-pw")
	idp.Stop()
	if _, err := o.Complete(context.Background(), a, cb); err == nil {
		t.Fatal("completed a sign-in with the provider down")
	}
	// Never reached at all: discovery fails, and is tried again later.
	down := newOIDC(t, "http://127.0.0.1:9", nil)
	if _, err := down.AuthCodeURL(context.Background(), newAttempt()); err == nil || !strings.Contains(err.Error(), "discovery") {
		t.Fatalf("discovery of a provider that is down: %v", err)
	}
}

func TestOIDCConfigMistakes(t *testing.T) {
	for _, tc := range []struct {
		cfg  OIDCConfig
		want string
	}{
		{OIDCConfig{Name: "corp", Issuer: "http://idp.example.com", ClientID: "x"}, "plain http is accepted only on a loopback host"},
		{OIDCConfig{Name: "corp", Issuer: "ftp://idp.example.com", ClientID: "x"}, "must be an https URL"},
		{OIDCConfig{Name: "corp", ClientID: "x"}, "no issuer"},
		{OIDCConfig{Name: "corp", Issuer: "https://idp.example.com"}, "no client_id: register the gateway at the provider with the redirect URI <origin>/login/corp/callback"},
		{OIDCConfig{Name: "corp", Issuer: "https://idp.example.com", ClientID: "x", AllowedDomains: []string{"@example.com"}}, `allowed domain "@example.com"`},
	} {
		if _, err := NewOIDC(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
	for _, ok := range []string{"https://idp.example.com", "http://127.0.0.1:8080", "http://localhost:5556/dex", "http://[::1]:9000"} {
		if _, err := NewOIDC(OIDCConfig{Name: "corp", Issuer: ok, ClientID: "x"}); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

// TestOIDCThroughTheAuthorizationServer is the whole sign-in: the login
// page's button, the real provider's sign-in form, the callback, consent,
// and an access token whose subject is the provider's user.
func TestOIDCThroughTheAuthorizationServer(t *testing.T) {
	var handler http.Handler
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(ts.Close)
	idp := startIDP(t, 0, ts.URL+"/login/corp/callback")
	o := newOIDC(t, idp.Issuer, nil)
	srv, err := authserver.New(authserver.Config{
		Origin:    func(r *http.Request) string { return publicurl.Origin(r, "", false) },
		Upstreams: []authserver.UpstreamLogin{o},
		Clients:   []authserver.StaticClient{{ID: "app", RedirectURIs: []string{"http://127.0.0.1/cb"}}},
	}, &certmagic.FileStorage{Path: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	handler = srv
	verifier, q := appAuthorization("")
	q.Set("state", "s1")
	back, err := browsertest.New(nil).AuthorizeUpstream(ts.URL+"/authorize?"+q.Encode(), idp.Issuer, "Corp", "ann", "ann-pw", "approve")
	if err != nil {
		t.Fatal(err)
	}
	if back.Query().Get("state") != "s1" || back.Query().Get("code") == "" {
		t.Fatalf("back at the client: %s", back)
	}
	resp, err := http.PostForm(ts.URL+"/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {back.Query().Get("code")}, "client_id": {"app"},
		"redirect_uri": {"http://127.0.0.1:7/cb"}, "code_verifier": {verifier},
	})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if json.Unmarshal(body, &tok) != nil || tok.AccessToken == "" {
		t.Fatalf("token: %d %s", resp.StatusCode, body)
	}
	parts := strings.Split(tok.AccessToken, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		Sub string `json:"sub"`
	}
	json.Unmarshal(payload, &claims)
	if claims.Sub != idp.Issuer+"#ann" {
		t.Fatalf("access token sub %q, want %q", claims.Sub, idp.Issuer+"#ann")
	}
}
