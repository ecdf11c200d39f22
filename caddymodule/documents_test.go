package caddymodule_test

import (
	"bufio"
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/mcpgate/mcpgate/caddymodule/internal/browsertest"
	"github.com/mcpgate/mcpgate/internal/testenv"
)

// testCA signs the certificates of the client metadata document hosts. The
// process trusts it through SSL_CERT_FILE, set by TestMain (main_test.go)
// before anything reads the system roots, so the gateway's fetcher verifies
// their certificates exactly as it verifies a public site's.
var testCA *testenv.CA

// publishDocument serves a client metadata document at path on host, whose
// client_id is its URL at 127.0.0.1, redirecting to any loopback port.
func publishDocument(host *testenv.DocumentHost, path string) string {
	id := "https://127.0.0.1:" + host.Port() + path
	doc, _ := json.Marshal(map[string]any{
		"client_id": id, "client_name": "Document Agent",
		"redirect_uris":              []string{"http://127.0.0.1/callback"},
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"token_endpoint_auth_method": "none",
	})
	host.JSON(path, string(doc))
	return id
}

// A client whose client_id is its metadata document's URL goes through the
// whole flow: authorization, token, MCP call, refresh, revocation.
func TestMetadataDocumentClientThroughCaddy(t *testing.T) {
	host := testCA.NewDocumentHost(t)
	g := startGateway(t, gatewayOptions{gateway: "client_metadata_documents {\n\t\t\tallow_private_addresses\n\t\t}"})
	clientID := publishDocument(host, "/oauth/agent.json")

	_, body := get(t, g, "/.well-known/oauth-authorization-server")
	if !strings.Contains(body, `"client_id_metadata_document_supported":true`) {
		t.Fatalf("metadata does not advertise documents: %s", body)
	}
	redirect := "http://127.0.0.1:" + freePort(t) + "/callback"
	conf := &oauth2.Config{
		ClientID: clientID, RedirectURL: redirect,
		Endpoint: oauth2.Endpoint{AuthURL: g.base + "/authorize", TokenURL: g.base + "/token", AuthStyle: oauth2.AuthStyleInParams},
	}
	verifier := oauth2.GenerateVerifier()
	back, err := browsertest.New(g.client.Transport).Authorize(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)), testUser, testPassword, "approve")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, g.client)
	tok, err := conf.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchanging the code: %v", err)
	}
	if resp, body := post(t, g, "/mcp", tok.AccessToken, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`); resp.StatusCode != http.StatusOK || !strings.Contains(body, "create_entities") {
		t.Fatalf("tools/list with the document client's token: %d %s", resp.StatusCode, body)
	}
	access := refresh(t, g, tok.RefreshToken, clientID)
	if resp, _ := post(t, g, "/mcp", access, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("tools/list after refresh: %d", resp.StatusCode)
	}
	resp, err := g.client.PostForm(g.base+"/revoke", url.Values{"token": {access}, "client_id": {clientID}})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %v %v", err, resp)
	}
	resp.Body.Close()
	if n := host.Hits("/oauth/agent.json"); n != 1 {
		t.Errorf("the document was fetched %d times, want once", n)
	}
}

// By default the gateway refuses a document on a loopback address before
// connecting to it, and says why on a page, never a redirect.
func TestDefaultGatewayRefusesLoopbackDocumentWithoutConnecting(t *testing.T) {
	host := testCA.NewDocumentHost(t)
	g := startGateway(t, gatewayOptions{})
	for _, id := range []string{publishDocument(host, "/agent.json"), "https://localhost:" + host.Port() + "/agent.json"} {
		q := url.Values{
			"response_type": {"code"}, "client_id": {id}, "redirect_uri": {"http://127.0.0.1:1234/callback"},
			"code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"S256"},
		}
		resp, err := browsertest.New(g.client.Transport).Get(g.base + "/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(string(page), "not a public address") {
			t.Errorf("%s: %d %q\n%s", id, resp.StatusCode, resp.Header.Get("Location"), page)
		}
	}
	if n := host.Connections(); n != 0 {
		t.Errorf("the document host got %d connections, want none", n)
	}
}

// The TypeScript SDK uses its document URL as client_id on its own when the
// gateway advertises documents, and never registers.
func TestTypeScriptSDKChoosesMetadataDocument(t *testing.T) {
	host := testCA.NewDocumentHost(t)
	clientID := publishDocument(host, "/ts-client.json")
	g := startGateway(t, gatewayOptions{tls: true, gateway: "client_metadata_documents {\n\t\t\tallow_private_addresses\n\t\t}"})
	t.Setenv("CLIENT_METADATA_URL", clientID)
	r := runTSClient(t, g, "ts-sdk-cimd")
	// A registered client would have a random id.
	if got := r["client"]["client_id"]; got != clientID {
		t.Errorf("the SDK's client_id is %v, want its document URL %s", got, clientID)
	}
	if r["create"]["isError"] != false || r["refreshed"]["rotated"] != true || r["refreshed"]["askedUserAgain"] != false {
		t.Errorf("results: %v", r)
	}
	if n := host.Hits("/ts-client.json"); n != 1 {
		t.Errorf("the document was fetched %d times, want once", n)
	}
}

// The conformance suite's authorization server scenarios, with the
// document URL as --client-id: the suite's client plays a CIMD client.
func TestConformanceAuthorizationWithMetadataDocument(t *testing.T) {
	host := testCA.NewDocumentHost(t)
	clientID := publishDocument(host, "/conformance-client.json")
	g := startGateway(t, gatewayOptions{gateway: "client_metadata_documents {\n\t\t\tallow_private_addresses\n\t\t}"})
	out := t.TempDir()
	cmd := testenv.Cmd(t, "node", conformance2026(t, "authorization", "--url", g.base, "--client-id", clientID,
		"--resource", g.base+"/mcp", "--port", freePort(t), "-o", out)...)
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The suite prints the authorization URL and waits for its callback:
	// play the user's browser, then deliver the redirect.
	var log strings.Builder
	scanner := bufio.NewScanner(stdout)
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		log.WriteString(line + "\n")
		if !strings.HasPrefix(line, g.base+"/authorize?") {
			continue
		}
		back, err := browsertest.New(g.client.Transport).Authorize(line, testUser, testPassword, "approve")
		if err != nil {
			t.Fatalf("browser step: %v", err)
		}
		resp, err := http.Get(back.String())
		if err != nil {
			t.Fatalf("delivering the callback to the suite: %v", err)
		}
		resp.Body.Close()
	}
	err := cmd.Wait()
	files, _ := filepath.Glob(filepath.Join(out, "*", "checks.json"))
	if len(files) == 0 {
		t.Fatalf("conformance authorization: %v, no results\n%s\n%s", err, log.String(), stderr.String())
	}
	passed := map[string]bool{}
	for _, f := range files {
		data, _ := os.ReadFile(f)
		var checks []struct{ ID, Status, ErrorMessage string }
		if err := json.Unmarshal(data, &checks); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, c := range checks {
			if c.Status != "SUCCESS" {
				t.Errorf("%s: %s %s", c.ID, c.Status, c.ErrorMessage)
			}
			passed[c.ID] = c.Status == "SUCCESS"
		}
	}
	for _, id := range []string{"authorization-server-metadata", "authorization-server-metadata-cimd", "authorization-code-grant"} {
		if !passed[id] {
			t.Errorf("check %s did not pass (results in %v)\n%s", id, files, log.String())
		}
	}
}

// client_metadata_documents off: nothing advertised, URL client ids refused
// with a page that says so, and nothing fetched.
func TestCaddyfileCIMDOff(t *testing.T) {
	host := testCA.NewDocumentHost(t)
	g := startGateway(t, gatewayOptions{gateway: "client_metadata_documents off"})
	if _, body := get(t, g, "/.well-known/oauth-authorization-server"); strings.Contains(body, "client_id_metadata_document_supported") {
		t.Errorf("metadata advertises documents: %s", body)
	}
	id := publishDocument(host, "/agent.json")
	resp, err := browsertest.New(g.client.Transport).Get(g.base + "/authorize?" + url.Values{
		"response_type": {"code"}, "client_id": {id}, "redirect_uri": {"http://127.0.0.1:1234/callback"},
		"code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"S256"},
	}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(page), "client_metadata_documents off") || host.Connections() != 0 {
		t.Errorf("%d, %d connections\n%s", resp.StatusCode, host.Connections(), page)
	}
}

// The consent page describes a tool_scope scope by its tools.
func TestConsentPageDescribesToolScopes(t *testing.T) {
	g := startGateway(t, gatewayOptions{gateway: "scopes memory.read\n\t\ttool_scope memory.read read_graph search_nodes"})
	redirect := "http://127.0.0.1:" + freePort(t) + "/callback"
	clientID := registerClient(t, g, "Scoped", redirect)
	conf := &oauth2.Config{ClientID: clientID, RedirectURL: redirect, Scopes: []string{"memory.read"},
		Endpoint: oauth2.Endpoint{AuthURL: g.base + "/authorize"}}
	b := browsertest.New(g.client.Transport)
	resp, err := b.Get(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	form := url.Values{"username": {testUser}, "password": {testPassword}}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`).FindAllStringSubmatch(string(page), -1) {
		form.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	resp, err = b.PostForm(g.base+"/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "Use the tools read_graph, search_nodes <span class=\"muted\"><code>memory.read</code>") {
		t.Errorf("consent page:\n%s", page)
	}
}
