package authserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// authorizedCode runs the browser part of the flow and returns the code.
func (e *env) authorizedCode(c registered, challenge string) string {
	e.t.Helper()
	return e.browser().authorize(authParams(c, challenge)).Query().Get("code")
}

func TestTokenFromCodeIsAnRFC9068JWT(t *testing.T) {
	e := newEnv(t, nil)
	c := e.publicClient()
	verifier, challenge := pkce()
	code := e.authorizedCode(c, challenge)
	form := codeForm(c, code, verifier)
	form.Set("resource", e.ts.URL+"/mcp")
	resp, body := e.do(http.MethodPost, "/token", formHeader, form.Encode())
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	m := decodeObject(t, body)
	tok := tokensOf(t, resp.StatusCode, m)
	if m["token_type"] != "Bearer" || tok.expiresIn != 3600 || tok.refresh == "" || tok.scope != "mcp" {
		t.Fatalf("response %v", m)
	}
	header, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok.access, ".")[0])
	var h map[string]any
	json.Unmarshal(header, &h)
	if h["typ"] != "at+jwt" || h["alg"] != "ES256" || h["kid"] == nil {
		t.Fatalf("JWT header %v", h)
	}
	cl := e.claimsOf(tok.access)
	if cl.Issuer != e.ts.URL || len(cl.Audience) != 1 || cl.Audience[0] != e.ts.URL+"/mcp" || cl.Subject != testUser || cl.ClientID != c.id ||
		cl.Scope != "mcp" || cl.ID == "" || cl.GrantID == "" || cl.Expiry.Time().Sub(cl.IssuedAt.Time()) != time.Hour || cl.IssuedAt.Time().Unix() != e0.Unix() {
		t.Fatalf("claims %+v", cl)
	}
	// The raw payload has aud as a string and no other surprises.
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok.access, ".")[1])
	if !strings.Contains(string(payload), `"aud":"`+e.ts.URL+`/mcp"`) {
		t.Fatalf("payload %s", payload)
	}
}

func TestTokenCodeRules(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.CodeLifetime = 30 * time.Second })
	c := e.publicClient()
	other := e.publicClient()
	for name, tc := range map[string]struct {
		mutate    func(form url.Values)
		wait      time.Duration
		status    int
		errorCode string
	}{
		"wrong verifier":     {func(f url.Values) { v, _ := pkce(); f.Set("code_verifier", v) }, 0, 400, "invalid_grant"},
		"missing verifier":   {func(f url.Values) { f.Del("code_verifier") }, 0, 400, "invalid_request"},
		"redirect mismatch":  {func(f url.Values) { f.Set("redirect_uri", "http://127.0.0.1:33333/other") }, 0, 400, "invalid_grant"},
		"missing redirect":   {func(f url.Values) { f.Del("redirect_uri") }, 0, 400, "invalid_grant"},
		"other client":       {func(f url.Values) { f.Set("client_id", other.id) }, 0, 400, "invalid_grant"},
		"unknown client":     {func(f url.Values) { f.Set("client_id", "nobody") }, 0, 401, "invalid_client"},
		"foreign resource":   {func(f url.Values) { f.Set("resource", "https://other.example/mcp") }, 0, 400, "invalid_target"},
		"expired code":       {func(url.Values) {}, 31 * time.Second, 400, "invalid_grant"},
		"unknown code":       {func(f url.Values) { f.Set("code", randomToken()) }, 0, 400, "invalid_grant"},
		"repeated parameter": {func(f url.Values) { f.Add("code", "x") }, 0, 400, "invalid_request"},
		"unsupported grant":  {func(f url.Values) { f.Set("grant_type", "password") }, 0, 400, "unsupported_grant_type"},
	} {
		t.Run(name, func(t *testing.T) {
			verifier, challenge := pkce()
			code := e.authorizedCode(c, challenge)
			form := codeForm(c, code, verifier)
			tc.mutate(form)
			e.clock.Advance(tc.wait)
			status, m, _ := e.postForm("/token", form, "", "")
			wantError(t, status, m, tc.status, tc.errorCode)
		})
	}
}

func TestTokenCodeReplayRevokesWhatItIssued(t *testing.T) {
	e := newEnv(t, nil)
	c := e.publicClient()
	verifier, challenge := pkce()
	form := codeForm(c, e.authorizedCode(c, challenge), verifier)
	status, m, _ := e.postForm("/token", form, "", "")
	first := tokensOf(t, status, m)
	claims := e.claimsOf(first.access)
	if revoked, _ := e.srv.IsRevoked(context.Background(), claims.ID, claims.GrantID); revoked {
		t.Fatal("fresh token revoked")
	}
	status, m, _ = e.postForm("/token", form, "", "")
	wantError(t, status, m, 400, "invalid_grant")
	if revoked, err := e.srv.IsRevoked(context.Background(), claims.ID, claims.GrantID); err != nil || !revoked {
		t.Fatalf("access token from the replayed code not revoked: %v %v", revoked, err)
	}
	status, m = e.refresh(c, first.refresh)
	wantError(t, status, m, 400, "invalid_grant")
}

// TestTokenCodeIsOneTimeUnderConcurrency races exchanges of one code on two
// instances sharing storage.
func TestTokenCodeIsOneTimeUnderConcurrency(t *testing.T) {
	e := newEnv(t, nil)
	second := startEnv(t, e.clock, e.storage, nil)
	c := e.publicClient()
	verifier, challenge := pkce()
	form := codeForm(c, e.authorizedCode(c, challenge), verifier)
	const n = 8
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		instance := []*env{e, second}[i%2]
		wg.Go(func() { statuses[i], _, _ = instance.postForm("/token", form, "", "") })
	}
	wg.Wait()
	ok := 0
	for _, s := range statuses {
		if s == http.StatusOK {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent exchanges succeeded: %v", ok, n, statuses)
	}
}

func TestRefreshRotatesAndDetectsReuse(t *testing.T) {
	e := newEnv(t, nil)
	c := e.publicClient()
	t0 := e.codeFlow(c)

	status, m := e.refresh(c, t0.refresh)
	t1 := tokensOf(t, status, m)
	if t1.refresh == t0.refresh || t1.access == t0.access {
		t.Fatal("refresh did not rotate")
	}
	if e.claimsOf(t1.access).GrantID != e.claimsOf(t0.access).GrantID {
		t.Fatal("refresh left the family")
	}
	// Within the grace window the concurrent refresher still gets tokens.
	e.clock.Advance(5 * time.Second)
	status, m = e.refresh(c, t0.refresh)
	t1b := tokensOf(t, status, m)
	// After it, reuse revokes the whole family.
	e.clock.Advance(6 * time.Second)
	status, m = e.refresh(c, t0.refresh)
	wantError(t, status, m, 400, "invalid_grant")
	for _, tok := range []string{t1.refresh, t1b.refresh} {
		status, m = e.refresh(c, tok)
		wantError(t, status, m, 400, "invalid_grant")
	}
	cl := e.claimsOf(t1.access)
	if revoked, _ := e.srv.IsRevoked(context.Background(), cl.ID, cl.GrantID); !revoked {
		t.Fatal("family's access token not revoked")
	}
}

func TestRefreshReuseWithoutGraceRevokesAtOnce(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RefreshReuseGrace = -1 })
	c := e.publicClient()
	t0 := e.codeFlow(c)
	status, m := e.refresh(c, t0.refresh)
	t1 := tokensOf(t, status, m)
	status, m = e.refresh(c, t0.refresh)
	wantError(t, status, m, 400, "invalid_grant")
	status, m = e.refresh(c, t1.refresh)
	wantError(t, status, m, 400, "invalid_grant")
}

func TestRefreshConcurrentWithinGraceAllSucceed(t *testing.T) {
	e := newEnv(t, nil)
	c := e.publicClient()
	t0 := e.codeFlow(c)
	const n = 6
	var wg sync.WaitGroup
	results := make([]int, n)
	for i := range n {
		wg.Go(func() { results[i], _ = e.refresh(c, t0.refresh) })
	}
	wg.Wait()
	for i, s := range results {
		if s != http.StatusOK {
			t.Fatalf("refresher %d: %d", i, s)
		}
	}
}

func TestRefreshRules(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RefreshTokenLifetime = 2 * time.Hour })
	c := e.publicClient()
	other := e.publicClient()
	t0 := e.codeFlow(c)
	status, m := e.refresh(other, t0.refresh)
	wantError(t, status, m, 400, "invalid_grant")
	status, m, _ = e.postForm("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {t0.refresh}, "client_id": {c.id}, "scope": {"mcp mcp:admin"}}, "", "")
	wantError(t, status, m, 400, "invalid_scope")
	status, m, _ = e.postForm("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {t0.refresh}, "client_id": {c.id}, "resource": {"https://x.example/mcp"}}, "", "")
	wantError(t, status, m, 400, "invalid_target")
	status, m = e.refresh(c, "garbage")
	wantError(t, status, m, 400, "invalid_grant")
	e.clock.Advance(2*time.Hour + time.Second)
	status, m = e.refresh(c, t0.refresh)
	wantError(t, status, m, 400, "invalid_grant")
}

func TestClientAuthentication(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Clients = []StaticClient{{ID: "ci-bot", SecretHash: testUserHash}} // secret = testPassword
		allowClientCredentials(c)
	})
	conf := e.registerWithToken(map[string]any{"redirect_uris": []string{"https://app.example/cb"}, "token_endpoint_auth_method": "client_secret_post", "grant_types": []string{"client_credentials"}})
	cc := url.Values{"grant_type": {"client_credentials"}}

	// client_secret_post and client_secret_basic both work.
	f := url.Values{"grant_type": {"client_credentials"}, "client_id": {conf.id}, "client_secret": {conf.secret}}
	status, m, _ := e.postForm("/token", f, "", "")
	tok := tokensOf(t, status, m)
	if tok.refresh != "" || e.claimsOf(tok.access).Subject != conf.id {
		t.Fatalf("client credentials: %v", m)
	}
	status, m, _ = e.postForm("/token", cc, conf.id, conf.secret)
	tokensOf(t, status, m)
	status, m, _ = e.postForm("/token", cc, "ci-bot", testPassword)
	tokensOf(t, status, m)

	// Wrong or missing secrets, unknown clients: 401 invalid_client, with
	// WWW-Authenticate when Basic was used.
	status, m, h := e.postForm("/token", cc, conf.id, "wrong")
	wantError(t, status, m, 401, "invalid_client")
	if !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic") {
		t.Fatal("no Basic challenge")
	}
	status, m, _ = e.postForm("/token", cc, "ci-bot", "wrong")
	wantError(t, status, m, 401, "invalid_client")
	status, m, h = e.postForm("/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {conf.id}, "client_secret": {"wrong"}}, "", "")
	wantError(t, status, m, 401, "invalid_client")
	if h.Get("WWW-Authenticate") != "" {
		t.Fatal("Basic challenge without Basic")
	}
	status, m, _ = e.postForm("/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {conf.id}}, "", "")
	wantError(t, status, m, 401, "invalid_client")
	status, m, _ = e.postForm("/token", cc, "unknown", "x")
	wantError(t, status, m, 401, "invalid_client")
	status, m, _ = e.postForm("/token", cc, "", "")
	wantError(t, status, m, 401, "invalid_client")

	// A public client cannot use client_credentials, nor send a secret.
	pub := e.registerWithToken(map[string]any{"redirect_uris": []string{"http://127.0.0.1:1/cb"}, "token_endpoint_auth_method": "none"})
	status, m, _ = e.postForm("/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {pub.id}}, "", "")
	wantError(t, status, m, 400, "unauthorized_client")
	status, m, _ = e.postForm("/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {pub.id}, "client_secret": {"x"}}, "", "")
	wantError(t, status, m, 401, "invalid_client")
	// A client registered without the grant cannot use it.
	status, m, _ = e.postForm("/token", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "code_verifier": {strings.Repeat("a", 43)}, "client_id": {conf.id}, "client_secret": {conf.secret}}, "", "")
	wantError(t, status, m, 400, "unauthorized_client")
}

func TestTokenEndpointBoundsAndFormat(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxBodyBytes = 1024 })
	c := e.publicClient()
	resp, body := e.do(http.MethodPost, "/token", formHeader, "grant_type=refresh_token&client_id="+c.id+"&refresh_token="+strings.Repeat("x", 2000))
	wantError(t, resp.StatusCode, decodeObject(t, body), 400, "invalid_request")
	resp, body = e.do(http.MethodPost, "/token", http.Header{"Content-Type": {"application/json"}}, `{"grant_type":"client_credentials"}`)
	wantError(t, resp.StatusCode, decodeObject(t, body), 400, "invalid_request")
	resp, body = e.do(http.MethodGet, "/token", nil, "")
	wantError(t, resp.StatusCode, decodeObject(t, body), 405, "invalid_request")
}
