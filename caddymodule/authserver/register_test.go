package authserver

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func postJSON(e *env, body string, header http.Header) (*http.Response, map[string]any) {
	e.t.Helper()
	h := http.Header{"Content-Type": {"application/json"}}
	for k, v := range header {
		h[k] = v
	}
	resp, b := e.do(http.MethodPost, "/register", h, body)
	if strings.Contains(b, ":null") {
		e.t.Errorf("response has null: %s", b)
	}
	return resp, decodeObject(e.t, b)
}

func TestRegisterPublicClient(t *testing.T) {
	e := newEnv(t, nil)
	resp, m := postJSON(e, `{"client_name":"Codex","redirect_uris":["http://127.0.0.1:5555/callback/x"],
		"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"],
		"response_types":["code"],"application_type":"native","logo_uri":null,"unknown_field":{"a":[1,2]}}`, nil)
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	if m["client_name"] != "Codex" || m["token_endpoint_auth_method"] != "none" || m["client_id"] == "" {
		t.Fatalf("echo: %v", m)
	}
	if _, ok := m["client_id_issued_at"].(float64); !ok {
		t.Fatalf("client_id_issued_at not numeric: %v", m)
	}
	if _, ok := m["client_secret"]; ok {
		t.Fatal("public client got a secret")
	}
	if _, ok := m["client_secret_expires_at"]; ok {
		t.Fatal("public client got client_secret_expires_at")
	}
	if got := stringList(m["redirect_uris"]); !slices.Equal(got, []string{"http://127.0.0.1:5555/callback/x"}) {
		t.Fatalf("redirect_uris %v", got)
	}
}

func TestRegisterConfidentialClientSecretStoredHashed(t *testing.T) {
	e := newEnv(t, nil)
	resp, m := postJSON(e, `{"client_name":"claude.ai","redirect_uris":["https://claude.ai/api/mcp/auth_callback"],"token_endpoint_auth_method":"client_secret_post"}`, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatal(resp.StatusCode)
	}
	secret, _ := m["client_secret"].(string)
	if len(secret) < 22 || m["client_secret_expires_at"] != float64(0) {
		t.Fatalf("secret fields: %v", m)
	}
	b, err := os.ReadFile(filepath.Join(e.storage.Path, "mcpgate/authserver/clients", m["client_id"].(string)+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), secret) || !strings.Contains(string(b), hashToken(secret)) {
		t.Fatalf("secret not stored as a hash: %s", b)
	}
	// The RFC 7591 default method is client_secret_basic.
	_, m = postJSON(e, `{"redirect_uris":["https://app.example/cb"]}`, nil)
	if m["token_endpoint_auth_method"] != "client_secret_basic" || m["client_secret"] == nil {
		t.Fatalf("default auth method: %v", m)
	}
}

func TestRegisterRedirectURIRules(t *testing.T) {
	e := newEnv(t, nil)
	for _, u := range []string{
		"https://app.example/cb", "https://claude.ai/api/mcp/auth_callback", "https://xn--bcher-kva.example/cb",
		"http://localhost:8080/cb", "http://127.0.0.1/cb", "http://[::1]:9/cb", "http://localhost/callback",
		"com.example.app:/oauth", "com.example.app:/oauth2redirect/example-provider", "io.modelcontextprotocol.inspector://cb",
		"cursor://anysphere.cursor-retrieval/oauth/user-example/callback", "vscode://vscode.github-authentication/did-authenticate",
		"vscode-insiders://vscode.github-authentication/did-authenticate",
	} {
		if resp, m := postJSON(e, `{"redirect_uris":["`+u+`"],"token_endpoint_auth_method":"none"}`, nil); resp.StatusCode != http.StatusCreated {
			t.Errorf("%s rejected: %v", u, m)
		}
	}
	for _, u := range []string{
		"http://example.com/cb", "http://192.168.1.2/cb", "https://app.example/cb#frag", "https://app.example/cb#",
		"/relative", "https:///nohost", "cb",
		// executed, opened locally or handed to another program
		"javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,x", "view-source:https://app.example/",
		"chrome://settings", "feed:https://app.example/", "file:///etc/passwd", "vbscript:x", "about:blank",
		"blob:https://app.example/1", "ms-settings:", "mailto:a@example.com", "ftp://app.example/",
		"ws://localhost/cb", "intent://cb#Intent;end",
		// userinfo and wildcards
		"https://trusted.example@evil.example/cb", "http://user@localhost/cb", "https://*.example/cb",
		"https://app.example/*", "com.example.*:/cb",
		// not reverse-DNS: dotless, empty label, no callback
		"myapp://cb", "com..example:/cb", ".example:/cb", "com.example.app:",
		// bidi and control characters
		"https://app.example/\u202ecb", "https://app.example/\u2066cb", "com.example.app:/\u200fcb",
	} {
		resp, m := postJSON(e, `{"redirect_uris":["`+u+`"],"token_endpoint_auth_method":"none"}`, nil)
		if resp.StatusCode != http.StatusBadRequest || m["error"] != "invalid_redirect_uri" {
			t.Errorf("%s: %d %v, want 400 invalid_redirect_uri", u, resp.StatusCode, m)
		}
	}
}

func TestRegisterRefusesDeceptiveMetadataStrings(t *testing.T) {
	e := newEnv(t, nil)
	for _, field := range []string{"client_name", "client_uri", "software_id", "software_version", "application_type", "scope"} {
		for _, v := range []string{
			`Cl\u202eedua`, `a\u202ab`, `a\u202db`, `a\u2066b`, `a\u2067b`, `a\u2068b`, `a\u2069b`,
			`a\u200eb`, `a\u200fb`, `a\u061cb`, `a\u001b[31mred`, `a\nb`, `a\rb`, `a\u0000b`, `a\u007fb`, `a\u009bb`,
		} {
			body := `{"redirect_uris":["https://a.example/cb"],"` + field + `":"` + v + `"}`
			if resp, m := postJSON(e, body, nil); resp.StatusCode != http.StatusBadRequest || m["error"] != "invalid_client_metadata" {
				t.Errorf("%s %s: %d %v, want 400 invalid_client_metadata", field, v, resp.StatusCode, m)
			}
		}
	}
	// Letters of any script, and other formatting such as a zero-width
	// joiner inside an emoji, are names people use.
	if resp, m := postJSON(e, `{"redirect_uris":["https://a.example/cb"],"client_name":"Клод 😀‍💻 (ツール)"}`, nil); resp.StatusCode != http.StatusCreated {
		t.Fatalf("an ordinary non-ASCII name: %d %v", resp.StatusCode, m)
	}
}

func TestRegisterRejectsBadMetadata(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxBodyBytes = 2048 })
	for _, body := range []string{
		`not json`, `{"redirect_uris":"https://a.example/cb"}`, `{"redirect_uris":[]}`,
		`{"redirect_uris":["https://a.example/cb"],"grant_types":["implicit"]}`,
		`{"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"private_key_jwt"}`,
		`{"redirect_uris":["https://a.example/cb"],"response_types":["token"]}`,
		`{"grant_types":["client_credentials"],"token_endpoint_auth_method":"none"}`,
		`{"redirect_uris":["https://a.example/cb"],"client_name":"` + strings.Repeat("x", 1500) + `"}`,
		`{"redirect_uris":["https://a.example/cb"],"pad":"` + strings.Repeat("x", 3000) + `"}`,
	} {
		resp, m := postJSON(e, body, nil)
		if resp.StatusCode != http.StatusBadRequest || (m["error"] != "invalid_client_metadata" && m["error"] != "invalid_redirect_uri") {
			t.Errorf("%.60s: %d %v", body, resp.StatusCode, m)
		}
	}
}

func TestRegistrationRateLimitPerIP(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Registration.RateLimit = 2 })
	body := `{"redirect_uris":["https://a.example/cb"]}`
	for i := range 2 {
		if resp, _ := postJSON(e, body, nil); resp.StatusCode != http.StatusCreated {
			t.Fatalf("registration %d: %d", i, resp.StatusCode)
		}
	}
	resp, m := postJSON(e, body, nil)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || m["error"] == nil {
		t.Fatalf("third registration: %d %v", resp.StatusCode, m)
	}
	e.clock.Advance(time.Minute)
	if resp, _ := postJSON(e, body, nil); resp.StatusCode != http.StatusCreated {
		t.Fatalf("after the window: %d", resp.StatusCode)
	}
}

// TestRegistrationCapEvictsTheOldestNeverUsedClient: at max_clients a
// flood of registrations pushes out never-used clients, oldest first, and
// never a client that obtained a token; when all are in use the answer is
// a 503 with Retry-After, not a lockout without a word.
func TestRegistrationCapEvictsTheOldestNeverUsedClient(t *testing.T) {
	var addr testAddr
	addr.Store("192.0.2.1")
	e := newEnv(t, func(c *Config) {
		c.Registration.MaxClients = 3
		c.ClientIP = addr.clientIP
	})
	exists := func(c registered) bool {
		stored, err := e.srv.loadClient(context.Background(), c.id)
		if err != nil {
			t.Fatal(err)
		}
		return stored != nil
	}
	used := e.publicClient()
	e.codeFlow(used)
	e.clock.Advance(time.Minute)
	older := e.publicClient()
	e.clock.Advance(time.Minute)
	newer := e.publicClient()
	e.clock.Advance(time.Minute)

	addr.Store("198.51.100.7")
	flood := e.publicClient() // over the cap: older goes
	if exists(older) || !exists(used) || !exists(newer) {
		t.Fatalf("after one registration over the cap: older %v used %v newer %v, want only the oldest unused evicted",
			exists(older), exists(used), exists(newer))
	}
	e.publicClient() // then newer
	if exists(newer) || !exists(used) || !exists(flood) {
		t.Fatalf("after two: newer %v used %v flood %v", exists(newer), exists(used), exists(flood))
	}
	if status, m := e.refresh(used, e.codeFlow(used).refresh); status != http.StatusOK {
		t.Fatalf("the used client after the flood: %d %v", status, m)
	}

	full := newEnv(t, func(c *Config) { c.Registration.MaxClients = 2 })
	full.codeFlow(full.publicClient())
	full.codeFlow(full.publicClient())
	resp, m := postJSON(full, `{"redirect_uris":["https://a.example/cb"]}`, nil)
	if resp.StatusCode != http.StatusServiceUnavailable || m["error"] != "temporarily_unavailable" || resp.Header.Get("Retry-After") != "3600" {
		t.Fatalf("cap reached with every client in use: %d %v Retry-After=%q, want 503 temporarily_unavailable, Retry-After 3600",
			resp.StatusCode, m, resp.Header.Get("Retry-After"))
	}
}

// TestRegistrationQuotaOfUnusedClientsPerAddress: one address (an IPv6
// /64) holds a bounded number of never-used clients; other addresses are
// unaffected, and clients that obtained a token free their place.
func TestRegistrationQuotaOfUnusedClientsPerAddress(t *testing.T) {
	var addr testAddr
	addr.Store("2001:db8:1:2::1")
	e := newEnv(t, func(c *Config) {
		c.Registration.UnusedClientsPerAddress = 2
		c.ClientIP = addr.clientIP
	})
	first := e.publicClient()
	e.clock.Advance(time.Hour)
	e.publicClient()
	addr.Store("2001:db8:1:2::99") // the same /64
	body := `{"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"none"}`
	resp, m := postJSON(e, body, nil)
	if resp.StatusCode != http.StatusTooManyRequests || m["error"] != "temporarily_unavailable" || resp.Header.Get("Retry-After") != "82800" {
		t.Fatalf("over the quota: %d %v Retry-After=%q, want 429 temporarily_unavailable until the first expires (82800)",
			resp.StatusCode, m, resp.Header.Get("Retry-After"))
	}
	addr.Store("2001:db8:1:3::1")
	if resp, m := postJSON(e, body, nil); resp.StatusCode != http.StatusCreated {
		t.Fatalf("another /64: %d %v", resp.StatusCode, m)
	}
	addr.Store("2001:db8:1:2::1")
	e.codeFlow(first)
	if resp, m := postJSON(e, body, nil); resp.StatusCode != http.StatusCreated {
		t.Fatalf("after one of the address's clients was used: %d %v", resp.StatusCode, m)
	}
	if resp, _ := postJSON(e, body, nil); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the quota is full again: %d", resp.StatusCode)
	}
}

func TestRegistrationInitialAccessToken(t *testing.T) {
	const iat = "0123456789abcdef-initial"
	e := newEnv(t, func(c *Config) {
		c.Registration.Mode = RegistrationToken
		c.Registration.InitialAccessToken = iat
	})
	body := `{"redirect_uris":["https://a.example/cb"]}`
	for _, h := range []http.Header{nil, {"Authorization": {"Bearer wrong"}}, {"Authorization": {"Basic " + iat}}} {
		resp, m := postJSON(e, body, h)
		if resp.StatusCode != http.StatusUnauthorized || m["error"] != "invalid_token" || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%v: %d %v", h, resp.StatusCode, m)
		}
	}
	if resp, _ := postJSON(e, body, http.Header{"Authorization": {"Bearer " + iat}}); resp.StatusCode != http.StatusCreated {
		t.Fatalf("with the token: %d", resp.StatusCode)
	}
}

func TestRegistrationClosed(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Registration.Mode = RegistrationClosed })
	if resp, m := postJSON(e, `{"redirect_uris":["https://a.example/cb"]}`, nil); resp.StatusCode != http.StatusForbidden || m["error"] != "access_denied" {
		t.Fatalf("%d %v", resp.StatusCode, m)
	}
}

func TestRegisterOnlyPOST(t *testing.T) {
	e := newEnv(t, nil)
	resp, body := e.do(http.MethodGet, "/register", nil, "")
	var m map[string]any
	if resp.StatusCode != http.StatusMethodNotAllowed || json.Unmarshal([]byte(body), &m) != nil {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}
