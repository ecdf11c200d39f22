package caddymodule

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
	"golang.org/x/crypto/bcrypt"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	"github.com/mcpgate/mcpgate/caddymodule/authserver"
	"github.com/mcpgate/mcpgate/internal/testenv"
)

// runMCP runs `caddy mcp <args...> --config caddyfile` and returns its output.
func runMCP(t *testing.T, caddyfile string, args ...string) (string, error) {
	t.Helper()
	root := &cobra.Command{Use: "mcp"}
	configureMCPCommand(root)
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"--config", caddyfile}, args...))
	err := root.Execute()
	return out.String(), err
}

func TestMCPCommandListsRevokesAndMints(t *testing.T) {
	dir := t.TempDir()
	secretHash, _ := bcrypt.GenerateFromPassword([]byte("ci-secret"), bcrypt.MinCost)
	caddyfile := filepath.Join(dir, "Caddyfile")
	os.Mkdir(filepath.Join(dir, "storage"), 0o700) // the server ran once
	os.WriteFile(caddyfile, []byte(`{
	storage file_system `+dir+`/storage
}
localhost:8443 {
	mcp_gateway {
		upstream 127.0.0.1:17800
		first_user admin
		client ci {
			secret_hash `+string(secretHash)+`
		}
	}
}
`), 0o600)

	// Register a client the way a real one does, through the server that
	// the command opens on the same storage.
	cfgJSON, _, _, err := caddycmd.LoadConfig(caddyfile, "")
	if err != nil {
		t.Fatal(err)
	}
	g, storage, cleanup, err := loadGateway(cfgJSON)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	cfg, err := g.authserverConfig(caddy.NewReplacer(), map[string]string{"admin": string(secretHash)})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := authserver.New(cfg, storage, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "https://localhost:8443/register",
		strings.NewReader(`{"client_name":"Laptop","redirect_uris":["http://127.0.0.1:1/cb"],"token_endpoint_auth_method":"none"}`)))
	var reg struct {
		ClientID string `json:"client_id"`
	}
	json.Unmarshal(rec.Body.Bytes(), &reg)
	if rec.Code != http.StatusCreated || reg.ClientID == "" {
		t.Fatalf("register: %d %s", rec.Code, rec.Body)
	}

	out, err := runMCP(t, caddyfile, "clients")
	if err != nil || !strings.Contains(out, "ci ") || !strings.Contains(out, reg.ClientID) || !strings.Contains(out, "Laptop") {
		t.Fatalf("mcp clients: %v\n%s", err, out)
	}
	// The AUTH column says how each client authenticates, the
	// pre-registered confidential one included.
	if !regexp.MustCompile(`(?m)^ci +client_secret_basic `).MatchString(out) || !regexp.MustCompile(`(?m)^\S+ +Laptop +none `).MatchString(out) {
		t.Errorf("mcp clients: the AUTH column is wrong:\n%s", out)
	}
	if out, err := runMCP(t, caddyfile, "revoke", "user", "admni"); err == nil || !strings.Contains(err.Error(), `user "admni" has no live grants, so none was revoked`) {
		t.Errorf("revoke user with a typo: %v\n%s", err, out)
	}
	if out, err := runMCP(t, caddyfile, "revoke", "client", "https://CLAUDE.ai/oauth/claude-code-client-metadata"); err == nil ||
		!strings.Contains(err.Error(), `client "https://CLAUDE.ai/oauth/claude-code-client-metadata" has no live grants, so none was revoked`) {
		t.Errorf("revoke client with a misspelled client id URL: %v\n%s", err, out)
	}

	out, err = runMCP(t, caddyfile, "token", "ci", "--resource", "https://localhost:8443/mcp")
	if err != nil || strings.Count(strings.TrimSpace(out), ".") != 2 {
		t.Fatalf("mcp token: %v\n%s", err, out)
	}
	if _, err := runMCP(t, caddyfile, "token", "--resource", "https://localhost:8443/mcp", "--", reg.ClientID); err == nil {
		t.Fatal("minted a token for a public client")
	}

	// Generated ids may start with "-", so they follow "--".
	if out, err = runMCP(t, caddyfile, "revoke", "client", "--", reg.ClientID); err != nil || !strings.Contains(out, "revoked client") {
		t.Fatalf("mcp revoke client: %v\n%s", err, out)
	}
	out, err = runMCP(t, caddyfile, "clients", "--json")
	if err != nil || strings.Contains(out, reg.ClientID) {
		t.Fatalf("the revoked client is still listed: %v\n%s", err, out)
	}
	if out, err = runMCP(t, caddyfile, "grants", "--user", "nobody"); err != nil || !strings.HasPrefix(out, "GRANT") {
		t.Fatalf("mcp grants: %v\n%s", err, out)
	}
}

// The operator view needs no identity source (no one logs in through it)
// and answers no HTTP request.
func TestOperatorViewServesNoRequests(t *testing.T) {
	dir := t.TempDir()
	caddyfile := filepath.Join(dir, "Caddyfile")
	os.Mkdir(filepath.Join(dir, "storage"), 0o700) // the server ran once
	os.WriteFile(caddyfile, []byte(`{
	storage file_system `+dir+`/storage
}
localhost:8443 {
	mcp_gateway {
		upstream 127.0.0.1:17800
		first_user admin
	}
}
`), 0o600)
	cfgJSON, _, _, err := caddycmd.LoadConfig(caddyfile, "")
	if err != nil {
		t.Fatal(err)
	}
	srv, cleanup, err := openAuthServer(cfgJSON)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "https://localhost:8443/register",
		strings.NewReader(`{"redirect_uris":["http://127.0.0.1:1/cb"],"token_endpoint_auth_method":"none"}`)))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("the operator view answered a registration: %d %s", rec.Code, rec.Body)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "storage")); len(entries) != 0 {
		t.Errorf("opening the operator view wrote to storage: %v", entries)
	}
}

func TestMCPPasswdRefusesWhatItCannotChange(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "storage"), 0o700) // the server ran once
	write := func(firstUser string) string {
		path := filepath.Join(dir, "Caddyfile")
		os.WriteFile(path, []byte(`{
	storage file_system `+dir+`/storage
}
localhost:8443 {
	mcp_gateway {
		upstream 127.0.0.1:17800
		`+firstUser+`
	}
}
`), 0o600)
		return path
	}
	for _, c := range []struct{ firstUser, user, want string }{
		{"first_user admin", "alice", `"alice" is not the first user of this configuration (first_user admin)`},
		{"first_user admin {env.MCPGATE_TEST_PASSWD}", "admin", "the first user's password comes from the configuration"},
		{"users {\n\t\t\tadmin $2a$04$abcdefghijklmnopqrstuuMhRbpjwsDdYkmJ3xt1MRK7o5TNd9yXa\n\t\t}", "admin", "the configuration has no first_user"},
	} {
		t.Setenv("MCPGATE_TEST_PASSWD", "chosen")
		_, err := runMCP(t, write(c.firstUser), "passwd", c.user)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s, passwd %s: %v, want %q", c.firstUser, c.user, err, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "storage", firstUserKey)); err == nil {
		t.Error("a refused passwd stored a first user")
	}
}

// TestMCPCommandsNeedTheServersDataFolder: a command pointed at a data
// folder the server never used says so, and creates nothing.
func TestMCPCommandsNeedTheServersDataFolder(t *testing.T) {
	dir := t.TempDir()
	caddyfile := filepath.Join(dir, "Caddyfile")
	os.WriteFile(caddyfile, []byte(`{
	storage file_system `+dir+`/not-the-data
}
localhost:8443 {
	mcp_gateway {
		upstream 127.0.0.1:17800
		first_user admin
	}
}
`), 0o600)
	for _, args := range [][]string{{"clients"}, {"grants"}, {"revoke", "user", "admin"}, {"passwd", "admin"}} {
		out, err := runMCP(t, caddyfile, args...)
		if err == nil || !strings.Contains(err.Error(), "the data folder "+dir+"/not-the-data does not exist") {
			t.Errorf("mcp %v: %v\n%s", args, err, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "not-the-data")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a command created the data folder: %v", err)
	}
}

// TestMCPCommandsWithoutACaddyfile: run in a folder without a Caddyfile
// and without --config, a command says what is missing.
func TestMCPCommandsWithoutACaddyfile(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	out, err := runMCP(t, "", "clients")
	if err == nil || !strings.Contains(err.Error(), "no Caddyfile in "+dir+": run the command in the server's folder, or name its configuration with --config <path>") {
		t.Errorf("mcp clients without a Caddyfile: %v\n%s", err, out)
	}
}

// mcp clients lists document clients with their host, and mcp drop-document
// drops a cached document.
func TestMCPCommandListsAndDropsDocuments(t *testing.T) {
	host := testenv.TrustedCA(t).NewDocumentHost(t)
	clientID := "https://127.0.0.1:" + host.Port() + "/agent.json"
	host.JSON("/agent.json", `{"client_id":"`+clientID+`","client_name":"Agent","redirect_uris":["http://127.0.0.1/cb"]}`)
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "storage"), 0o700) // the server ran once
	caddyfile := filepath.Join(dir, "Caddyfile")
	os.WriteFile(caddyfile, []byte(`{
	storage file_system `+dir+`/storage
}
localhost:8443 {
	mcp_gateway {
		upstream 127.0.0.1:17800
		first_user admin
		client_metadata_documents {
			allow_private_addresses
		}
	}
}
`), 0o600)
	cfgJSON, _, _, err := caddycmd.LoadConfig(caddyfile, "")
	if err != nil {
		t.Fatal(err)
	}
	g, storage, cleanup, err := loadGateway(cfgJSON)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	cfg, err := g.authserverConfig(caddy.NewReplacer(), map[string]string{"admin": string(hash)})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := authserver.New(cfg, storage, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://localhost:8443/authorize?"+url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {"http://127.0.0.1:5/cb"},
		"code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"S256"},
	}.Encode(), nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("authorize with the document client: %d %s", rec.Code, rec.Body)
	}

	out, err := runMCP(t, caddyfile, "clients")
	if err != nil || !strings.Contains(out, clientID+"  127.0.0.1  Agent") || !strings.Contains(out, "document, fetched") {
		t.Fatalf("mcp clients: %v\n%s", err, out)
	}
	if out, err = runMCP(t, caddyfile, "drop-document", clientID); err != nil || !strings.Contains(out, "dropped the cached document") {
		t.Fatalf("mcp drop-document: %v\n%s", err, out)
	}
	if out, err = runMCP(t, caddyfile, "drop-document", clientID); err == nil || !strings.Contains(err.Error(), "no cached document") {
		t.Fatalf("mcp drop-document of a dropped document: %v\n%s", err, out)
	}
	if out, err = runMCP(t, caddyfile, "clients", "--json"); err != nil || strings.Contains(out, clientID) {
		t.Fatalf("the dropped document is still listed: %v\n%s", err, out)
	}
}
