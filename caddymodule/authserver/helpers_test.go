package authserver

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mcpgate/mcpgate/caddymodule/oauthwire"
	"github.com/mcpgate/mcpgate/caddymodule/publicurl"
	"go.uber.org/zap"
	"golang.org/x/crypto/bcrypt"
)

// clock is the injectable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// e0 is the test clock's start.
var e0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

const (
	testUser     = "alice"
	testPassword = "wonderland"
)

var testUserHash = func() string {
	h, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		panic(err)
	}
	return string(h)
}()

// env is a server under test with its HTTP front.
type env struct {
	t       *testing.T
	srv     *Server
	ts      *httptest.Server
	clock   *clock
	storage *certmagic.FileStorage
	cfg     Config
	client  *http.Client // does not follow redirects
}

func testConfig(c *clock) Config {
	return Config{
		Origin:        func(r *http.Request) string { return publicurl.Origin(r, "", false) },
		Users:         map[string]string{testUser: testUserHash},
		Scopes:        []string{"mcp", "mcp:admin"},
		DefaultScopes: []string{"mcp"},
		LoginAttempts: -1, // tests log in many times from one address; the limit has its own test
		Now:           c.Now,
	}
}

// newEnv starts a server on fresh storage; mutate adjusts the config.
func newEnv(t *testing.T, mutate func(*Config)) *env {
	t.Helper()
	c := &clock{t: e0}
	storage := &certmagic.FileStorage{Path: t.TempDir()}
	return startEnv(t, c, storage, mutate)
}

// startEnv starts a server on the given clock and storage.
func startEnv(t *testing.T, c *clock, storage *certmagic.FileStorage, mutate func(*Config)) *env {
	t.Helper()
	return startLoggedEnv(t, c, storage, nil, mutate)
}

// startLoggedEnv is startEnv with a logger.
func startLoggedEnv(t *testing.T, c *clock, storage *certmagic.FileStorage, logger *zap.Logger, mutate func(*Config)) *env {
	t.Helper()
	cfg := testConfig(c)
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := New(cfg, storage, logger)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &env{t: t, srv: srv, ts: ts, clock: c, storage: storage, cfg: cfg, client: noRedirect(nil)}
}

// do sends a request and returns status, headers and body.
func (e *env) do(method, path string, header http.Header, body string) (*http.Response, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.ts.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func noRedirect(jar http.CookieJar) *http.Client {
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var formHeader = http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}

// postForm posts a form to path, with optional Basic credentials.
func (e *env) postForm(path string, form url.Values, basicUser, basicPass string) (int, map[string]any, http.Header) {
	e.t.Helper()
	h := formHeader.Clone()
	if basicUser != "" {
		req := &http.Request{Header: http.Header{}}
		req.SetBasicAuth(url.QueryEscape(basicUser), url.QueryEscape(basicPass))
		h.Set("Authorization", req.Header.Get("Authorization"))
	}
	resp, body := e.do(http.MethodPost, path, h, form.Encode())
	return resp.StatusCode, decodeObject(e.t, body), resp.Header
}

func decodeObject(t *testing.T, body string) map[string]any {
	t.Helper()
	if body == "" {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("not a JSON object: %v: %q", err, body)
	}
	return m
}

// registered is a dynamically registered client.
type registered struct {
	id, secret, redirect string
}

// register registers a client with the given metadata (JSON object).
func (e *env) register(meta map[string]any) registered {
	e.t.Helper()
	b, _ := json.Marshal(meta)
	resp, body := e.do(http.MethodPost, "/register", http.Header{"Content-Type": {"application/json"}}, string(b))
	if resp.StatusCode != http.StatusCreated {
		e.t.Fatalf("register: %d %s", resp.StatusCode, body)
	}
	m := decodeObject(e.t, body)
	secret, _ := m["client_secret"].(string)
	var redirect string
	if uris, _ := m["redirect_uris"].([]any); len(uris) > 0 {
		redirect = uris[0].(string)
	}
	return registered{id: m["client_id"].(string), secret: secret, redirect: redirect}
}

// publicClient registers a public client with a loopback redirect.
func (e *env) publicClient() registered {
	return e.register(map[string]any{
		"client_name": "Test Client", "redirect_uris": []string{"http://127.0.0.1:33333/callback"},
		"token_endpoint_auth_method": "none", "grant_types": []string{"authorization_code", "refresh_token"},
	})
}

// pkce returns a verifier and its S256 challenge.
func pkce() (verifier, challenge string) {
	verifier = randomToken()
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// authParams are the query of a valid authorization request.
func authParams(c registered, challenge string) url.Values {
	return url.Values{
		"response_type": {"code"}, "client_id": {c.id}, "redirect_uri": {c.redirect},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "state": {"st-123"},
	}
}

// browser is a user agent with cookies that does not follow redirects.
type browser struct {
	e      *env
	client *http.Client
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	c := *e.client
	c.Jar = jar
	return &browser{e: e, client: &c}
}

func (b *browser) get(q url.Values) (*http.Response, string) {
	b.e.t.Helper()
	return b.send(http.MethodGet, "/authorize?"+q.Encode(), "")
}

func (b *browser) post(form url.Values) (*http.Response, string) {
	b.e.t.Helper()
	return b.send(http.MethodPost, "/authorize", form.Encode())
}

func (b *browser) send(method, path, body string) (*http.Response, string) {
	b.e.t.Helper()
	req, _ := http.NewRequest(method, b.e.ts.URL+path, strings.NewReader(body))
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, string(out)
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// formOf returns the hidden fields of the page's form.
func formOf(t *testing.T, page string) url.Values {
	t.Helper()
	v := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(page, -1) {
		v.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	if v.Get("csrf") == "" {
		t.Fatalf("page has no form with a csrf token:\n%s", page)
	}
	return v
}

// login answers the login page with the test user's password.
func (b *browser) login(page string) (*http.Response, string) {
	b.e.t.Helper()
	form := formOf(b.e.t, page)
	form.Set("username", testUser)
	form.Set("password", testPassword)
	return b.post(form)
}

// decide answers the consent page.
func (b *browser) decide(page, decision string) *http.Response {
	b.e.t.Helper()
	form := formOf(b.e.t, page)
	form.Set("decision", decision)
	resp, _ := b.post(form)
	return resp
}

// authorize runs login and consent for q and returns the redirect.
func (b *browser) authorize(q url.Values) *url.URL {
	b.e.t.Helper()
	resp, page := b.get(q)
	if resp.StatusCode == http.StatusOK && strings.Contains(page, `name="password"`) {
		resp, page = b.login(page)
	}
	if resp.StatusCode == http.StatusOK && strings.Contains(page, `name="decision"`) {
		resp = b.decide(page, "approve")
	}
	return location(b.e.t, resp)
}

func location(t *testing.T, resp *http.Response) *url.URL {
	t.Helper()
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("want a redirect, got %d", resp.StatusCode)
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// tokens is a token endpoint success answer.
type tokens struct {
	access, refresh, scope string
	expiresIn              float64
}

func tokensOf(t *testing.T, status int, m map[string]any) tokens {
	t.Helper()
	if status != http.StatusOK {
		t.Fatalf("token request: %d %v", status, m)
	}
	r, _ := m["refresh_token"].(string)
	return tokens{access: m["access_token"].(string), refresh: r, scope: m["scope"].(string), expiresIn: m["expires_in"].(float64)}
}

// codeForm is the token request that exchanges c's code.
func codeForm(c registered, code, verifier string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {c.id},
		"redirect_uri": {c.redirect}, "code_verifier": {verifier}}
}

// codeFlow registers nothing: it authorizes c and exchanges the code.
func (e *env) codeFlow(c registered) tokens {
	e.t.Helper()
	verifier, challenge := pkce()
	loc := e.browser().authorize(authParams(c, challenge))
	status, m, _ := e.postForm("/token", codeForm(c, loc.Query().Get("code"), verifier), "", "")
	return tokensOf(e.t, status, m)
}

// refresh presents a refresh token for a public client.
func (e *env) refresh(c registered, token string) (int, map[string]any) {
	e.t.Helper()
	status, m, _ := e.postForm("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}, "client_id": {c.id}}, "", "")
	return status, m
}

// claimsOf verifies an access token with the server's JWKS.
func (e *env) claimsOf(token string) oauthwire.AccessClaims {
	e.t.Helper()
	req := httptest.NewRequest(http.MethodGet, e.ts.URL, nil).WithContext(context.Background())
	claims, ok := e.srv.parseAccessToken(req, token)
	if !ok {
		e.t.Fatalf("access token does not verify")
	}
	return claims
}

func wantError(t *testing.T, status int, m map[string]any, wantStatus int, wantCode string) {
	t.Helper()
	if status != wantStatus || m["error"] != wantCode {
		t.Fatalf("got %d %v, want %d %s", status, m, wantStatus, wantCode)
	}
}

// confidentialRun is a code flow and one refresh of a confidential client.
type confidentialRun struct {
	client         registered
	code, verifier string
	first, second  tokens     // the code exchange's and the refresh's answers
	refresh        url.Values // the refresh request (presenting first.refresh)
}

// confidentialFlow registers a client_secret_post client, authorizes it,
// exchanges the code and refreshes once.
func (e *env) confidentialFlow() confidentialRun {
	e.t.Helper()
	var run confidentialRun
	run.client = e.register(map[string]any{"redirect_uris": []string{"https://app.example/cb"}, "token_endpoint_auth_method": "client_secret_post"})
	var challenge string
	run.verifier, challenge = pkce()
	run.code = e.authorizedCode(run.client, challenge)
	form := codeForm(run.client, run.code, run.verifier)
	form.Set("client_secret", run.client.secret)
	status, m, _ := e.postForm("/token", form, "", "")
	run.first = tokensOf(e.t, status, m)
	run.refresh = url.Values{"grant_type": {"refresh_token"}, "refresh_token": {run.first.refresh},
		"client_id": {run.client.id}, "client_secret": {run.client.secret}}
	status, m, _ = e.postForm("/token", run.refresh, "", "")
	run.second = tokensOf(e.t, status, m)
	return run
}

// testAddr is a client address tests change between requests; its
// clientIP method is a Config.ClientIP.
type testAddr struct{ atomic.Value }

func (a *testAddr) clientIP(*http.Request) string { return a.Load().(string) }
