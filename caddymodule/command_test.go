package caddymodule

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
	"golang.org/x/crypto/bcrypt"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	"github.com/mcpgate/mcpgate/caddymodule/authserver"
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
