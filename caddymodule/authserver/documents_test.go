package authserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/mcpgate/mcpgate/internal/testenv"
)

// testCA signs the document hosts' certificates; the process trusts it as
// its system roots (SSL_CERT_FILE), as the fetcher reads them.
var testCA *testenv.CA

func TestMain(m *testing.M) {
	ca, err := testenv.TrustThrowawayCA()
	if err != nil {
		fmt.Fprintln(os.Stderr, "creating the test CA:", err)
		os.Exit(1)
	}
	testCA = ca
	code := m.Run()
	ca.Close()
	os.Exit(code)
}

// resolveTo is a resolver that answers every name with addrs: how a test
// makes client.example (or any public-looking name) point at loopback.
func resolveTo(addrs ...string) func(context.Context, string) ([]netip.Addr, error) {
	return func(context.Context, string) ([]netip.Addr, error) {
		var out []netip.Addr
		for _, a := range addrs {
			out = append(out, netip.MustParseAddr(a))
		}
		return out, nil
	}
}

// docEnv is a server with a document host whose names resolve to it.
type docEnv struct {
	*env
	host *testenv.DocumentHost
}

// newDocEnv starts a server that fetches documents from private addresses
// (the host is on loopback); mutate adjusts the config further.
func newDocEnv(t *testing.T, mutate func(*Config)) *docEnv {
	t.Helper()
	host := testCA.NewDocumentHost(t, "client.example", "keys.example", "*.wild.example", "other.example")
	e := newEnv(t, func(c *Config) {
		c.ClientMetadataDocuments.AllowPrivateAddresses = true
		c.ClientMetadataDocuments.Resolve = resolveTo("127.0.0.1")
		if mutate != nil {
			mutate(c)
		}
	})
	return &docEnv{env: e, host: host}
}

func (d *docEnv) url(path string) string { return "https://client.example:" + d.host.Port() + path }

// publish serves a valid document at path with fields changed (nil
// deletes one) and returns its client, redirecting to a loopback port the
// document does not name (any port matches on loopback).
func (d *docEnv) publish(path string, fields map[string]any, header ...string) registered {
	id := d.url(path)
	doc := map[string]any{
		"client_id": id, "client_name": "Example Agent", "redirect_uris": []string{"http://localhost/callback"},
		"token_endpoint_auth_method": "none", "grant_types": []string{"authorization_code", "refresh_token"},
	}
	for k, v := range fields {
		if v == nil {
			delete(doc, k)
		} else {
			doc[k] = v
		}
	}
	b, _ := json.Marshal(doc)
	d.host.JSON(path, string(b), header...)
	return registered{id: id, redirect: "http://localhost:41234/callback"}
}

// authorizePage opens /authorize for c and returns status, page and
// redirect.
func (d *docEnv) authorizePage(c registered) (int, string, string) {
	d.t.Helper()
	_, challenge := pkce()
	resp, page := d.browser().get(authParams(c, challenge))
	return resp.StatusCode, page, resp.Header.Get("Location")
}

func TestDocumentClientFullFlow(t *testing.T) {
	d := newDocEnv(t, nil)
	c := d.publish("/oauth/client.json", nil)
	tok := d.codeFlow(c)
	if got := d.claimsOf(tok.access).ClientID; got != c.id {
		t.Fatalf("client_id claim %q, want the document URL %q", got, c.id)
	}
	status, m := d.refresh(c, tok.refresh)
	next := tokensOf(t, status, m)
	status, m, _ = d.postForm("/revoke", url.Values{"token": {next.refresh}, "client_id": {c.id}}, "", "")
	if status != http.StatusOK {
		t.Fatalf("revoke: %d %v", status, m)
	}
	status, m = d.refresh(c, next.refresh)
	wantError(t, status, m, http.StatusBadRequest, "invalid_grant")
	if n := d.host.Hits("/oauth/client.json"); n != 1 {
		t.Errorf("the document was fetched %d times, want once (cached between authorize, token and revoke)", n)
	}
	grants, err := d.srv.Grants(context.Background())
	if err != nil || len(grants) != 1 || grants[0].ClientID != c.id {
		t.Errorf("grants %+v (%v), want one keyed by the URL", grants, err)
	}
}

func TestForbiddenAddresses(t *testing.T) {
	for _, a := range []string{
		"127.0.0.1", "127.9.9.9", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
		"fe80::1", "fd00:ec2::254", "fc00::1", "100.100.100.200", "100.64.0.1", "0.0.0.0", "0.1.2.3", "::",
		"224.0.0.1", "ff02::1", "ff01::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:100.100.100.200", "::ffff:198.18.0.1", "64:ff9b::7f00:1",
		"2002:7f00:1::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "192.0.0.192", "198.18.0.1", "255.255.255.255",
		"240.0.0.1", "fec0::1", "100::1",
	} {
		if forbiddenAddress(netip.MustParseAddr(a)) == "" {
			t.Errorf("%s is allowed, want forbidden", a)
		}
	}
	for _, a := range []string{"93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "8.8.8.8"} {
		if why := forbiddenAddress(netip.MustParseAddr(a)); why != "" {
			t.Errorf("%s is forbidden (%s), want allowed", a, why)
		}
	}
}

// The default configuration must refuse a document on an internal address
// before connecting, whatever name leads there.
func TestDocumentOnInternalAddressRefusedWithoutConnecting(t *testing.T) {
	for _, tc := range []struct {
		name    string
		host    string   // in the URL
		resolve []string // what the name resolves to
	}{
		{"loopback IP literal", "127.0.0.1", nil},
		{"public-looking name resolving to loopback", "client.example", []string{"127.0.0.1"}},
		{"name resolving to IPv6 loopback", "client.example", []string{"::1"}},
		{"name resolving to public and loopback", "client.example", []string{"93.184.216.34", "127.0.0.1"}},
		{"name resolving to IPv4-mapped loopback", "client.example", []string{"::ffff:127.0.0.1"}},
		{"name resolving to the metadata service", "client.example", []string{"169.254.169.254"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host := testCA.NewDocumentHost(t, "client.example")
			e := newEnv(t, func(c *Config) { c.ClientMetadataDocuments.Resolve = resolveTo(tc.resolve...) })
			d := &docEnv{env: e, host: host}
			id := "https://" + tc.host + ":" + host.Port() + "/client.json"
			host.JSON("/client.json", `{"client_id":"`+id+`","redirect_uris":["http://localhost/cb"]}`)
			status, page, loc := d.authorizePage(registered{id: id, redirect: "http://localhost/cb"})
			if status != http.StatusBadRequest || loc != "" || !strings.Contains(page, "not a public address") {
				t.Errorf("got %d, Location %q:\n%s", status, loc, page)
			}
			if n := host.Connections(); n != 0 {
				t.Errorf("the document host got %d connections, want none", n)
			}
		})
	}
}

func TestDocumentURLRules(t *testing.T) {
	for _, tc := range []struct {
		name, path, want string
		mutate           func(d *docEnv) string // the client id
	}{
		{"plain http", "/c.json", "must use https", func(d *docEnv) string { return strings.Replace(d.url("/c.json"), "https:", "http:", 1) }},
		{"no path", "/", "has no path", func(d *docEnv) string { return strings.TrimSuffix(d.url("/"), "/") }},
		{"root path", "/", "has no path", func(d *docEnv) string { return d.url("/") }},
		{"fragment", "/c.json", "has a fragment", func(d *docEnv) string { return d.url("/c.json#x") }},
		{"user information", "/c.json", "user information", func(d *docEnv) string {
			return strings.Replace(d.url("/c.json"), "https://", "https://client.example@", 1)
		}},
		{"dot-dot segment", "/a/../c.json", ". or .. path segment", func(d *docEnv) string { return d.url("/a/../c.json") }},
		{"encoded dot-dot segment", "/a/%2E%2e/c.json", ". or .. path segment", func(d *docEnv) string { return d.url("/a/%2E%2e/c.json") }},
		{"dot segment", "/./c.json", ". or .. path segment", func(d *docEnv) string { return d.url("/./c.json") }},
		{"control character", "/c.json", "control or bidi", func(d *docEnv) string { return d.url("/c.json\u202e") }},
		// Go's client dials client.example for the fullwidth "ｃ": a
		// deny_hosts entry or a quota keyed on the host would not see it.
		{"host not in ASCII", "/c.json", "must be written in ASCII", func(d *docEnv) string {
			return strings.Replace(d.url("/c.json"), "://client.example", "://\uff43lient.example", 1)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDocEnv(t, nil)
			id := tc.mutate(d)
			d.host.JSON(tc.path, `{"client_id":`+strconvQuote(id)+`,"redirect_uris":["http://localhost/cb"]}`)
			status, page, loc := d.authorizePage(registered{id: id, redirect: "http://localhost/cb"})
			if status != http.StatusBadRequest || loc != "" || !strings.Contains(page, tc.want) {
				t.Errorf("got %d, Location %q, want 400 saying %q:\n%s", status, loc, tc.want, page)
			}
			if n := d.host.Connections(); n != 0 {
				t.Errorf("the document host got %d connections, want none", n)
			}
		})
	}
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestDocumentHostLists(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		ok     bool
	}{
		{"denied host", func(c *Config) { c.ClientMetadataDocuments.DenyHosts = []string{"Client.Example"} }, false},
		{"host not in allow list", func(c *Config) { c.ClientMetadataDocuments.AllowHosts = []string{"claude.ai"} }, false},
		{"host in allow list", func(c *Config) { c.ClientMetadataDocuments.AllowHosts = []string{"claude.ai", "client.example"} }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDocEnv(t, tc.mutate)
			c := d.publish("/c.json", nil)
			status, page, _ := d.authorizePage(c)
			if tc.ok {
				if status != http.StatusOK {
					t.Errorf("got %d:\n%s", status, page)
				}
				return
			}
			if status != http.StatusBadRequest || !strings.Contains(page, "does not accept client ids from client.example") {
				t.Errorf("got %d:\n%s", status, page)
			}
			if n := d.host.Connections(); n != 0 {
				t.Errorf("the document host got %d connections, want none", n)
			}
		})
	}
}

func TestDocumentContentRules(t *testing.T) {
	big := strings.Repeat("x", 6000)
	for _, tc := range []struct {
		name   string
		fields map[string]any
		serve  func(d *docEnv, path string) // instead of publishing fields
		want   string
	}{
		{name: "client_id of another document", fields: map[string]any{"client_id": "https://client.example/other.json"}, want: "is not its own URL"},
		{name: "client_id missing", fields: map[string]any{"client_id": nil}, want: "is not its own URL"},
		{name: "client secret", fields: map[string]any{"client_secret": "s3cret"}, want: "contains a client_secret"},
		{name: "client secret expiry", fields: map[string]any{"client_secret_expires_at": 0}, want: "contains a client_secret"},
		{name: "symmetric auth method", fields: map[string]any{"token_endpoint_auth_method": "client_secret_basic"}, want: "token_endpoint_auth_method must be"},
		{name: "private_key_jwt without keys", fields: map[string]any{"token_endpoint_auth_method": "private_key_jwt"}, want: "exactly one of jwks_uri and jwks"},
		{name: "private_key_jwt with an empty key set", fields: map[string]any{"token_endpoint_auth_method": "private_key_jwt", "jwks": map[string]any{"keys": []any{}}}, want: "not a JSON Web Key Set"},
		{name: "jwks_uri over http", fields: map[string]any{"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "http://client.example/jwks"}, want: "jwks_uri cannot be used"},
		{name: "keys without private_key_jwt", fields: map[string]any{"jwks_uri": "https://client.example/jwks"}, want: "keys are only for private_key_jwt"},
		{name: "client_credentials", fields: map[string]any{"grant_types": []string{"authorization_code", "client_credentials"}}, want: "client_credentials&#34; is not available"},
		{name: "no authorization_code", fields: map[string]any{"grant_types": []string{"refresh_token"}}, want: "does not list the authorization_code grant"},
		{name: "token response type", fields: map[string]any{"response_types": []string{"token"}}, want: "response_types may only be"},
		{name: "no redirect URIs", fields: map[string]any{"redirect_uris": nil}, want: "has no redirect_uris"},
		{name: "script redirect URI", fields: map[string]any{"redirect_uris": []string{"javascript:alert(1)"}}, want: "is not allowed"},
		{name: "bidi name", fields: map[string]any{"client_name": "\u202eelgoog"}, want: "control or bidi"},
		{name: "not JSON", serve: func(d *docEnv, path string) {
			d.host.Handle(path, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				fmt.Fprint(w, `{"client_id":"`+d.url(path)+`","redirect_uris":["http://localhost/callback"]}`)
			})
		}, want: "it is not JSON"},
		{name: "not found", serve: func(d *docEnv, path string) {}, want: "answered HTTP 404"},
		{name: "oversized with length", fields: map[string]any{"padding": big}, want: "larger than 5120 bytes"},
		{name: "oversized streamed", serve: func(d *docEnv, path string) {
			d.host.Handle(path, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, `{"client_id":"`+d.url(path)+`","redirect_uris":["http://localhost/callback"],"padding":"`)
				w.(http.Flusher).Flush() // no Content-Length: the cap must count
				fmt.Fprint(w, big+`"}`)
			})
		}, want: "larger than 5120 bytes"},
		{name: "redirect", serve: func(d *docEnv, path string) {
			d.publish("/target.json", nil)
			d.host.Handle(path, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, d.url("/target.json"), http.StatusFound)
			})
		}, want: "redirects are not followed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDocEnv(t, nil)
			const path = "/client.json"
			c := registered{id: d.url(path), redirect: "http://localhost:41234/callback"}
			if tc.serve != nil {
				tc.serve(d, path)
			} else {
				d.publish(path, tc.fields)
			}
			status, page, loc := d.authorizePage(c)
			if status != http.StatusBadRequest || loc != "" || !strings.Contains(page, tc.want) {
				t.Errorf("got %d, Location %q, want 400 saying %q:\n%s", status, loc, tc.want, page)
			}
			if n := d.host.Hits("/target.json"); n != 0 {
				t.Errorf("the redirect was followed")
			}
			// The token endpoint refuses the client as well.
			status, m, _ := d.postForm("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {c.id}}, "", "")
			wantError(t, status, m, http.StatusUnauthorized, "invalid_client")
		})
	}
}

func TestDocumentRedirectURIMustMatch(t *testing.T) {
	d := newDocEnv(t, nil)
	c := d.publish("/c.json", map[string]any{"redirect_uris": []string{"http://localhost/callback", "https://app.example/cb"}})
	for _, ru := range []string{"https://evil.example/cb", "http://localhost:41234/other", "https://app.example:8443/cb", "http://evil.example/callback"} {
		c.redirect = ru
		status, page, loc := d.authorizePage(c)
		if status != http.StatusBadRequest || loc != "" || !strings.Contains(page, "not one the application registered") {
			t.Errorf("redirect %s: got %d, Location %q:\n%s", ru, status, loc, page)
		}
	}
	for _, ru := range []string{"http://localhost:5555/callback", "https://app.example/cb"} {
		c.redirect = ru
		if status, page, _ := d.authorizePage(c); status != http.StatusOK {
			t.Errorf("redirect %s: got %d:\n%s", ru, status, page)
		}
	}
}

func TestSlowDocumentHostTimesOut(t *testing.T) {
	release := make(chan struct{})
	d := newDocEnv(t, func(c *Config) { c.ClientMetadataDocuments.Timeout = 200 * time.Millisecond })
	t.Cleanup(func() { close(release) })
	d.host.Handle("/slow.json", func(w http.ResponseWriter, r *http.Request) {
		<-release // answers only after the test: the fetch must give up first
	})
	status, page, _ := d.authorizePage(registered{id: d.url("/slow.json"), redirect: "http://localhost/callback"})
	if status != http.StatusBadRequest || !strings.Contains(page, "could not be reached") ||
		!strings.Contains(page, "client_metadata_documents off") || !strings.Contains(page, "cannot reach client.example") {
		t.Errorf("got %d:\n%s", status, page)
	}
}

func TestDocumentCacheLifetime(t *testing.T) {
	for _, tc := range []struct {
		name     string
		header   []string
		maxCache time.Duration
		fresh    time.Duration // still cached after this long
		stale    time.Duration // fetched again after this long
	}{
		{"max-age", []string{"Cache-Control", "public, max-age=600"}, 0, 599 * time.Second, 601 * time.Second},
		{"no-store kept a minute", []string{"Cache-Control", "no-store"}, 0, 59 * time.Second, 61 * time.Second},
		{"expires", []string{"Expires", e0.Add(50 * time.Minute).Format(http.TimeFormat)}, 0, 49 * time.Minute, 51 * time.Minute},
		// Until a client obtains a token with it, whoever named it may be
		// a stranger storing junk (unusedDocumentLifetime).
		{"unused kept an hour", []string{"Cache-Control", "max-age=7200"}, 0, 59 * time.Minute, 61 * time.Minute},
		{"capped by max_cache", []string{"Cache-Control", "max-age=86400"}, time.Hour, 59 * time.Minute, 61 * time.Minute},
		{"default", nil, 0, 59 * time.Minute, 61 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDocEnv(t, func(c *Config) { c.ClientMetadataDocuments.MaxCache = tc.maxCache })
			name := "Example Agent"
			d.host.Handle("/c.json", func(w http.ResponseWriter, r *http.Request) {
				for i := 0; i+1 < len(tc.header); i += 2 {
					w.Header().Set(tc.header[i], tc.header[i+1])
				}
				w.Header().Set("Content-Type", "application/json")
				json.NewEncoder(w).Encode(map[string]any{"client_id": d.url("/c.json"), "client_name": name, "redirect_uris": []string{"http://localhost/callback"}})
			})
			load := func() string {
				c, err := d.srv.loadClient(context.Background(), d.url("/c.json"))
				if err != nil {
					t.Fatal(err)
				}
				return c.ClientName
			}
			load()
			d.clock.Advance(tc.fresh)
			name = "Renamed Agent"
			if got := load(); d.host.Hits("/c.json") != 1 || got != "Example Agent" {
				t.Fatalf("fetched %d times within the cache lifetime (name %q)", d.host.Hits("/c.json"), got)
			}
			d.clock.Advance(tc.stale - tc.fresh)
			if got := load(); d.host.Hits("/c.json") != 2 || got != "Renamed Agent" {
				t.Errorf("fetched %d times after the cache lifetime, want 2 and the new name (got %q)", d.host.Hits("/c.json"), got)
			}
		})
	}
}

func TestDocumentFailuresCachedBriefly(t *testing.T) {
	d := newDocEnv(t, nil)
	c := registered{id: d.url("/missing.json"), redirect: "http://localhost/callback"}
	for range 3 {
		d.authorizePage(c)
	}
	if n := d.host.Hits("/missing.json"); n != 1 {
		t.Fatalf("a failing document was fetched %d times within a minute, want once", n)
	}
	d.clock.Advance(failureCache + time.Second)
	d.publish("/missing.json", nil)
	if status, page, _ := d.authorizePage(c); status != http.StatusOK || d.host.Hits("/missing.json") != 2 {
		t.Errorf("after the failure expired: %d, %d fetches:\n%s", status, d.host.Hits("/missing.json"), page)
	}
}

func TestDocumentFetchesLimitedPerHost(t *testing.T) {
	d := newDocEnv(t, nil)
	for i := range hostFetchLimit {
		d.authorizePage(registered{id: d.url(fmt.Sprintf("/c%d.json", i)), redirect: "http://localhost/callback"})
	}
	c := d.publish("/c.json", nil)
	status, page, _ := d.authorizePage(c)
	if status != http.StatusBadRequest || !strings.Contains(page, "too many documents") || d.host.Hits("") != hostFetchLimit {
		t.Fatalf("fetch %d from one host: %d after %d fetches:\n%s", hostFetchLimit+1, status, d.host.Hits(""), page)
	}
	d.clock.Advance(hostFetchWindow + failureCache)
	if status, page, _ := d.authorizePage(c); status != http.StatusOK {
		t.Errorf("after the window: %d:\n%s", status, page)
	}
}

// Many names pointing at one address share its limit.
func TestDocumentConnectionsLimitedPerAddress(t *testing.T) {
	d := newDocEnv(t, nil)
	for i := range hostFetchLimit {
		id := fmt.Sprintf("https://n%d.client.example:%s/c.json", i, d.host.Port())
		d.authorizePage(registered{id: id, redirect: "http://localhost/callback"})
	}
	status, page, _ := d.authorizePage(d.publish("/c.json", nil))
	if status != http.StatusBadRequest || !strings.Contains(page, "from the address of client.example") || d.host.Connections() != hostFetchLimit {
		t.Fatalf("connection %d to one address: %d after %d connections:\n%s", hostFetchLimit+1, status, d.host.Connections(), page)
	}
}

func TestDocumentsDisabled(t *testing.T) {
	d := newDocEnv(t, func(c *Config) { c.ClientMetadataDocuments.Disabled = true })
	resp, body := d.do(http.MethodGet, "/.well-known/oauth-authorization-server", nil, "")
	if m := decodeObject(t, body); resp.StatusCode != http.StatusOK || m["client_id_metadata_document_supported"] != nil {
		t.Errorf("metadata advertises documents while they are off: %v", m)
	}
	c := d.publish("/c.json", nil)
	status, page, _ := d.authorizePage(c)
	if status != http.StatusBadRequest || !strings.Contains(page, "client_metadata_documents off") {
		t.Errorf("got %d:\n%s", status, page)
	}
	if n := d.host.Connections(); n != 0 {
		t.Errorf("the document host got %d connections, want none", n)
	}
}

func TestConsentPageHeadlinesDocumentHost(t *testing.T) {
	d := newDocEnv(t, func(c *Config) { c.DefaultScopes = nil })
	c := d.publish("/c.json", map[string]any{"scope": "mcp offline_access"})
	b := d.browser()
	_, challenge := pkce()
	_, page := b.get(authParams(c, challenge))
	if !strings.Contains(page, "<strong>client.example</strong> wants to connect") {
		t.Errorf("login page does not headline the host:\n%s", page)
	}
	_, page = b.login(page)
	for _, want := range []string{
		"<strong>client.example</strong> wants access",
		"It calls itself “Example Agent”",
		"Use this MCP server: its tools, resources and prompts",
		"<code>mcp</code>",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("consent page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "was not checked") {
		t.Errorf("a document client is marked unverified:\n%s", page)
	}
	// A registered client's name stays marked as its own choice.
	r := d.publicClient()
	_, challenge = pkce()
	_, page = b.get(authParams(r, challenge))
	if !strings.Contains(page, "<strong>Test Client</strong> <span class=\"muted\">(this name was not checked") {
		t.Errorf("registered client not marked unverified:\n%s", page)
	}
}

func TestScopeWordsFromConfig(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ScopeDescriptions = map[string]string{"mcp:admin": "Change the memory graph"} })
	c := e.publicClient()
	b := e.browser()
	_, challenge := pkce()
	q := authParams(c, challenge)
	q.Set("scope", "mcp:admin offline_access")
	_, page := b.get(q)
	_, page = b.login(page)
	for _, want := range []string{"Change the memory graph <span class=\"muted\"><code>mcp:admin</code>", "Stay connected", "<code>offline_access</code>"} {
		if !strings.Contains(page, want) {
			t.Errorf("consent page lacks %q:\n%s", want, page)
		}
	}
}

func TestLoginKeepsUserNameAfterWrongPassword(t *testing.T) {
	e := newEnv(t, nil)
	c := e.publicClient()
	b := e.browser()
	_, challenge := pkce()
	_, page := b.get(authParams(c, challenge))
	form := formOf(t, page)
	form.Set("username", "alice<x>")
	form.Set("password", "wrong")
	resp, page := b.post(form)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(page, `value="alice&lt;x&gt;"`) {
		t.Errorf("got %d, want the user name kept (escaped):\n%s", resp.StatusCode, page)
	}
	if strings.Contains(page, "wrong") {
		t.Errorf("the password is echoed:\n%s", page)
	}
}

func TestOperatorListsAndDropsDocuments(t *testing.T) {
	d := newDocEnv(t, nil)
	c := d.publish("/c.json", nil)
	d.codeFlow(c)
	ctx := context.Background()
	clients, err := d.srv.Clients(ctx)
	if err != nil || len(clients) != 1 || clients[0].ID != c.id || clients[0].Host != "client.example" ||
		clients[0].Name != "Example Agent" || clients[0].LastUsed.IsZero() {
		t.Fatalf("clients %+v (%v)", clients, err)
	}
	if dropped, err := d.srv.DropDocument(ctx, c.id); !dropped || err != nil {
		t.Fatalf("DropDocument: %v %v", dropped, err)
	}
	if dropped, err := d.srv.DropDocument(ctx, c.id); dropped || err != nil {
		t.Fatalf("DropDocument of a dropped document: %v %v", dropped, err)
	}
	d.authorizePage(c)
	if n := d.host.Hits("/c.json"); n != 2 {
		t.Errorf("after the drop the document was fetched %d times in all, want 2", n)
	}
	n, err := d.srv.RevokeClient(ctx, c.id)
	if n != 1 || err != nil {
		t.Errorf("RevokeClient: %d %v", n, err)
	}
}

func TestSweepDeletesUnusedDocuments(t *testing.T) {
	d := newDocEnv(t, nil)
	used := d.publish("/used.json", nil)
	d.codeFlow(used)
	d.authorizePage(d.publish("/unused.json", nil))
	d.clock.Advance(defaultDocumentCache + time.Minute)
	if err := d.srv.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	clients, _ := d.srv.Clients(context.Background())
	if len(clients) != 1 || clients[0].ID != used.id {
		t.Errorf("after the sweep: %+v, want only the used client", clients)
	}
}

func TestDocumentConfigErrors(t *testing.T) {
	cfg := testConfig(&clock{t: e0})
	cfg.ClientMetadataDocuments = ClientMetadataDocuments{MaxSize: 100, MaxCache: time.Second, AllowHosts: []string{"https://claude.ai"}, Timeout: -1}
	err := cfg.Validate()
	for _, want := range []string{"max_size 100 bytes", "max_cache 1s is below", `"https://claude.ai" is not a host name`, "timeout must be positive"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

// An unreachable document host is logged once, with what the operator of a
// gateway without internet access can do; the page says the same.
func TestUnreachableDocumentHostLoggedOnce(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	storage := &certmagic.FileStorage{Path: t.TempDir()}
	e := startLoggedEnv(t, &clock{t: e0}, storage, zap.New(core), func(c *Config) {
		c.ClientMetadataDocuments.AllowPrivateAddresses = true
		c.ClientMetadataDocuments.Resolve = resolveTo("127.0.0.1")
	})
	d := &docEnv{env: e}
	closed, err := testenv.FreeAddr() // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(closed)
	for _, id := range []string{"https://claude.example:" + port + "/a.json", "https://claude.example:" + port + "/b.json"} {
		status, page, _ := d.authorizePage(registered{id: id, redirect: "http://localhost/callback"})
		if status != http.StatusBadRequest || !strings.Contains(page, "cannot reach claude.example") || !strings.Contains(page, "client_metadata_documents off") {
			t.Errorf("%s: %d\n%s", id, status, page)
		}
	}
	entries := logs.FilterMessageSnippet("client_metadata_documents off").All()
	if len(entries) != 1 || entries[0].ContextMap()["host"] != "claude.example" {
		t.Errorf("log entries %v, want one naming claude.example", entries)
	}
}

// A name with one internal address among public ones is refused before
// any address is dialed: dialing the public one first would still let a
// rebinding name probe, and time, the internal one.
func TestGuardRefusesMixedNameBeforeDialing(t *testing.T) {
	dials := 0
	g := newGuardedDialer(resolveTo("93.184.216.34", "10.0.0.1"), false, func(context.Context, netip.Addr) bool { dials++; return false })
	_, err := g.DialContext(context.Background(), "tcp", "mixed.example:443")
	if !errors.Is(err, errForbiddenAddress) || dials != 0 {
		t.Errorf("err %v after %d dial attempts, want the guard's refusal before any", err, dials)
	}
}

// A document without client_name is named by its host alone, not by its
// URL posing as a name.
func TestConsentPageDocumentWithoutName(t *testing.T) {
	d := newDocEnv(t, nil)
	c := d.publish("/c.json", map[string]any{"client_name": nil})
	b := d.browser()
	_, challenge := pkce()
	_, page := b.get(authParams(c, challenge))
	_, page = b.login(page)
	if !strings.Contains(page, "<strong>client.example</strong> wants access") || strings.Contains(page, "calls itself") {
		t.Errorf("consent page:\n%s", page)
	}
}
