package authserver

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/caddyserver/certmagic"
)

func TestAuthorizeLoginConsentRedirect(t *testing.T) {
	e := newEnv(t, nil)
	c := e.publicClient()
	_, challenge := pkce()
	b := e.browser()
	resp, page := b.get(authParams(c, challenge))
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="username"`) || !strings.Contains(page, `name="password"`) {
		t.Fatalf("no login page: %d %s", resp.StatusCode, page)
	}
	resp, page = b.login(page)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="decision" value="approve"`) || !strings.Contains(page, `name="decision" value="deny"`) {
		t.Fatalf("no consent page: %d %s", resp.StatusCode, page)
	}
	for _, want := range []string{"Test Client", "127.0.0.1:33333", "<code>mcp</code>", testUser} {
		if !strings.Contains(page, want) {
			t.Errorf("consent page lacks %q", want)
		}
	}
	loc := location(t, b.decide(page, "approve"))
	q := loc.Query()
	if loc.Host != "127.0.0.1:33333" || loc.Path != "/callback" || q.Get("code") == "" || q.Get("state") != "st-123" || q.Get("iss") != e.ts.URL {
		t.Fatalf("redirect %s", loc)
	}
}

func TestAuthorizePagesAreSelfContained(t *testing.T) {
	e := newEnv(t, nil)
	c := e.register(map[string]any{"client_name": `<script>alert("x")</script>`, "redirect_uris": []string{"http://localhost:1/cb"}, "token_endpoint_auth_method": "none"})
	_, challenge := pkce()
	b := e.browser()
	_, login := b.get(authParams(c, challenge))
	_, consent := consentPage(e, c)
	_, errPage := b.get(url.Values{"client_id": {"nope"}})
	for name, page := range map[string]string{"login": login, "consent": consent, "error": errPage} {
		if !strings.Contains(page, `<meta name="viewport"`) {
			t.Errorf("%s page has no viewport meta", name)
		}
		if strings.Contains(page, "src=") || strings.Contains(page, "<link") || strings.Contains(page, "<script>") {
			t.Errorf("%s page loads assets or runs script:\n%s", name, page)
		}
	}
	if !strings.Contains(consent, "&lt;script&gt;") {
		t.Error("client name not escaped")
	}
}

func TestAuthorizeUnknownClientOrBadRedirectIsAPageNotARedirect(t *testing.T) {
	e := newEnv(t, nil)
	c := e.publicClient()
	_, challenge := pkce()
	for name, q := range map[string]url.Values{
		"unknown client": {"client_id": {"unknown"}, "redirect_uri": {"https://evil.example/cb"}, "response_type": {"code"}},
		"no client":      {"redirect_uri": {"https://evil.example/cb"}},
		"open redirect": func() url.Values {
			q := authParams(c, challenge)
			q.Set("redirect_uri", "https://evil.example/cb")
			return q
		}(),
		"other loopback path": func() url.Values {
			q := authParams(c, challenge)
			q.Set("redirect_uri", "http://127.0.0.1:33333/other")
			return q
		}(),
		"other loopback host": func() url.Values {
			q := authParams(c, challenge)
			q.Set("redirect_uri", "http://localhost:33333/callback")
			return q
		}(),
	} {
		resp, page := e.browser().get(q)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(page, "<html") {
			t.Errorf("%s: %d Location=%q", name, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}

func TestAuthorizeLoopbackPortMayDiffer(t *testing.T) {
	e := newEnv(t, nil)
	c := e.publicClient()
	c.redirect = "http://127.0.0.1:45678/callback"
	tok := e.codeFlow(c)
	if tok.access == "" {
		t.Fatal("no token")
	}
}

// refusedRequest checks an authorization request for c that must fail
// with wantErr: a browser whose user has not approved c gets an error page
// naming it, never a redirect (no open redirect); once the user approved c,
// the error is redirected with state and iss.
func refusedRequest(t *testing.T, e *env, c registered, q url.Values, wantErr string) {
	t.Helper()
	resp, page := e.browser().get(q)
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(page, wantErr) {
		t.Fatalf("stranger: %d Location=%q, want a 400 page naming %s", resp.StatusCode, resp.Header.Get("Location"), wantErr)
	}
	b := e.browser()
	_, challenge := pkce()
	b.authorize(authParams(c, challenge))
	resp, _ = b.get(q)
	loc := location(t, resp)
	if got := loc.Query(); got.Get("error") != wantErr || got.Get("state") != "st-123" || got.Get("iss") != e.ts.URL || got.Get("code") != "" {
		t.Fatalf("redirect %s, want error=%s", loc, wantErr)
	}
}

func TestAuthorizeRequiresPKCES256(t *testing.T) {
	e := newEnv(t, nil)
	c := e.publicClient()
	verifier, challenge := pkce()
	q := authParams(c, challenge)
	q.Del("code_challenge")
	refusedRequest(t, e, c, q, "invalid_request")
	q = authParams(c, verifier) // plain: challenge == verifier
	q.Set("code_challenge_method", "plain")
	refusedRequest(t, e, c, q, "invalid_request")
	q.Del("code_challenge_method") // absent method means plain
	refusedRequest(t, e, c, q, "invalid_request")
}

func TestAuthorizeRejectsForeignResource(t *testing.T) {
	e := newEnv(t, nil)
	c := e.publicClient()
	_, challenge := pkce()
	for _, res := range []string{"https://other.example/mcp", e.ts.URL + "/admin", e.ts.URL + "/mcp#x"} {
		q := authParams(c, challenge)
		q.Set("resource", res)
		refusedRequest(t, e, c, q, "invalid_target")
	}
	q := authParams(c, challenge)
	q.Set("resource", e.ts.URL+"/mcp/")
	if loc := e.browser().authorize(q); loc.Query().Get("code") == "" {
		t.Fatal("resource with trailing slash refused")
	}
}

func TestAuthorizeScopes(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Clients = []StaticClient{{ID: "narrow", RedirectURIs: []string{"https://narrow.example/cb"}, Scopes: []string{"mcp"}}}
	})
	_, challenge := pkce()
	c := registered{id: "narrow", redirect: "https://narrow.example/cb"}
	q := authParams(c, challenge)
	q.Set("scope", "mcp mcp:admin")
	refusedRequest(t, e, c, q, "invalid_scope")
	q.Set("scope", "unknown")
	refusedRequest(t, e, c, q, "invalid_scope")
	tok := e.codeFlow(c)
	if tok.scope != "mcp" || e.claimsOf(tok.access).Scope != "mcp" {
		t.Fatalf("default scope: %q", tok.scope)
	}
}

// consentPage logs a new browser in up to the consent page for c.
func consentPage(e *env, c registered) (*browser, string) {
	e.t.Helper()
	_, challenge := pkce()
	b := e.browser()
	_, login := b.get(authParams(c, challenge))
	_, consent := b.login(login)
	return b, consent
}

func TestAuthorizeFormPostWithoutValidCSRFIsRefused(t *testing.T) {
	e := newEnv(t, nil)
	c := e.publicClient()
	b, consent := consentPage(e, c)
	form := formOf(t, consent)
	form.Set("decision", "approve")

	altered := func(key, value string) url.Values {
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		if value == "" {
			f.Del(key)
		} else {
			f.Set(key, value)
		}
		return f
	}
	for name, f := range map[string]url.Values{
		"no csrf":     altered("csrf", ""),
		"forged csrf": altered("csrf", "9999999999.AAAA"),
		// a different request than the token covers
		"other request": altered("redirect_uri", "http://127.0.0.1:1/callback"),
	} {
		resp, _ := b.post(f)
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" {
			t.Errorf("%s: %d %s", name, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	// The token is bound to the browser: another browser (the attacker's
	// page posting into the victim's session) cannot use it.
	other := e.browser()
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(e.ts.URL + "/authorize")
	for _, ck := range b.client.Jar.Cookies(u) {
		if ck.Name == cookieSession {
			jar.SetCookies(u, []*http.Cookie{ck})
		}
	}
	other.client.Jar = jar
	if resp, _ := other.post(form); resp.StatusCode != http.StatusForbidden {
		t.Errorf("csrf token accepted from another browser: %d", resp.StatusCode)
	}
	// And the form expires.
	e.clock.Advance(formLifetime + 1)
	if resp, _ := b.post(form); resp.StatusCode != http.StatusForbidden {
		t.Errorf("expired form accepted: %d", resp.StatusCode)
	}
}

func TestAuthorizeDenyRedirectsAccessDenied(t *testing.T) {
	e := newEnv(t, nil)
	b, consent := consentPage(e, e.publicClient())
	loc := location(t, b.decide(consent, "deny"))
	if q := loc.Query(); q.Get("error") != "access_denied" || q.Get("state") != "st-123" || q.Get("iss") != e.ts.URL || q.Get("code") != "" {
		t.Fatalf("deny redirect %s", loc)
	}
}

func TestAuthorizeWrongPasswordShowsLoginAgain(t *testing.T) {
	e := newEnv(t, nil)
	c := e.publicClient()
	_, challenge := pkce()
	b := e.browser()
	_, login := b.get(authParams(c, challenge))
	for _, user := range []string{testUser, "mallory"} {
		form := formOf(t, login)
		form.Set("username", user)
		form.Set("password", "wrong")
		resp, page := b.post(form)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(page, `name="password"`) || strings.Contains(page, `name="decision"`) {
			t.Fatalf("%s: %d", user, resp.StatusCode)
		}
	}
}

func TestAuthorizeRemembersConsentAndLogin(t *testing.T) {
	e := newEnv(t, nil)
	c := e.publicClient()
	_, challenge := pkce()
	b := e.browser()
	if loc := b.authorize(authParams(c, challenge)); loc.Query().Get("code") == "" {
		t.Fatal("first authorization failed")
	}
	resp, _ := b.get(authParams(c, challenge))
	if loc := location(t, resp); loc.Query().Get("code") == "" {
		t.Fatalf("second authorization did not skip login and consent: %s", loc)
	}
	// More scope than approved asks again.
	q := authParams(c, challenge)
	q.Set("scope", "mcp mcp:admin")
	if resp, page := b.get(q); resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="decision"`) {
		t.Fatalf("wider scope did not ask for consent: %d", resp.StatusCode)
	}
	// The login expires.
	e.clock.Advance(e.srv.cfg.LoginLifetime + 1)
	if _, page := b.get(authParams(c, challenge)); !strings.Contains(page, `name="password"`) {
		t.Fatal("expired login still accepted")
	}
}

func TestAuthorizeTrustedIdentity(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Users = nil
		c.TrustedIdentity = func(r *http.Request) (string, bool) {
			u := r.Header.Get("X-Test-User")
			return u, u != ""
		}
	})
	c := e.publicClient()
	_, challenge := pkce()
	resp, page := e.browser().get(authParams(c, challenge))
	if resp.StatusCode != http.StatusForbidden || strings.Contains(page, `name="password"`) {
		t.Fatalf("unidentified visitor: %d %s", resp.StatusCode, page)
	}
	req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/authorize?"+authParams(c, challenge).Encode(), nil)
	req.Header.Set("X-Test-User", "bob@example.com")
	resp, err := noRedirect(nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "bob@example.com") || !strings.Contains(string(body), `name="decision"`) {
		t.Fatalf("trusted identity not used: %d", resp.StatusCode)
	}
}

func TestCookiesAreHttpOnlyLaxAndSecureOnHTTPS(t *testing.T) {
	c := &clock{t: e0}
	cfg := testConfig(c)
	srv, err := New(cfg, &certmagic.FileStorage{Path: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(srv)
	defer ts.Close()
	client := ts.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	e := &env{t: t, srv: srv, ts: ts, clock: c, client: client}
	cl := e.publicClient()
	_, challenge := pkce()
	b := e.browser()
	resp, login := b.get(authParams(cl, challenge))
	resp2, _ := b.login(login)
	cookies := append(resp.Cookies(), resp2.Cookies()...)
	if len(cookies) != 2 {
		t.Fatalf("want browser and session cookies, got %v", cookies)
	}
	for _, ck := range cookies {
		if !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/authorize" || !strings.HasPrefix(ck.Name, "__Secure-") {
			t.Errorf("cookie %s: %+v", ck.Name, ck)
		}
	}
}

// headerIdentity is an IdentitySource reading a test header.
type headerIdentity string

func (h headerIdentity) Identify(r *http.Request) (string, bool) {
	u := r.Header.Get(string(h))
	return u, u != ""
}

func TestConsentFormIsBoundToWhoSawIt(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Users = nil
		c.IdentitySources = []IdentitySource{headerIdentity("X-Test-User")}
	})
	c := e.publicClient()
	_, challenge := pkce()
	b := e.browser()
	as := func(user string, req *http.Request) *http.Response {
		req.Header.Set("X-Test-User", user)
		resp, err := b.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	get, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/authorize?"+authParams(c, challenge).Encode(), nil)
	resp := as("alice", get)
	page := new(strings.Builder)
	_, _ = io.Copy(page, resp.Body)
	resp.Body.Close()
	form := formOf(t, page.String())
	form.Set("decision", "approve")
	post := func() *http.Request {
		r, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/authorize", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}
	if resp := as("mallory", post()); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("alice's consent form accepted from mallory: %d", resp.StatusCode)
	}
	if resp := as("alice", post()); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("alice's own approval: %d", resp.StatusCode)
	}
}

func TestAuthorizeIsNoOpenRedirectForAnyRegisteredURI(t *testing.T) {
	e := newEnv(t, nil)
	evil := e.register(map[string]any{"redirect_uris": []string{"https://evil.example/phish"}, "token_endpoint_auth_method": "none"})
	_, challenge := pkce()
	full := authParams(evil, challenge)
	full.Set("response_type", "token")
	// A user signed in here (having approved another client) must not be
	// bounced to a client they never approved either.
	signedIn := e.browser()
	signedIn.authorize(authParams(e.publicClient(), challenge))
	for name, q := range map[string]url.Values{
		"bare":      {"client_id": {evil.id}, "response_type": {"token"}},
		"full":      full,
		"no pkce":   {"client_id": {evil.id}, "response_type": {"code"}},
		"bad scope": {"client_id": {evil.id}, "response_type": {"code"}, "scope": {"nope"}},
	} {
		for who, b := range map[string]*browser{"stranger": e.browser(), "signed in": signedIn} {
			resp, page := b.get(q)
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(page, "<html") {
				t.Errorf("%s, %s: %d Location=%q, want an error page", name, who, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
	}
}
