package caddymodule_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// validateCaddyfile is `caddy validate` of a Caddyfile text: the error of
// adapting it, or of provisioning it.
func validateCaddyfile(t *testing.T, text string) error {
	t.Helper()
	cfgJSON, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(text), nil)
	if err != nil {
		return err
	}
	var cfg caddy.Config
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		t.Fatal(err)
	}
	return caddy.Validate(&cfg)
}

// TestEmptySecretsAreErrorsNamingTheVariable: a secret read from the
// environment that is unset or empty stops `caddy validate` (and a start)
// with the variable's name; above all a client with redirect URIs does
// not silently become a public client, and a literal "" is refused when
// the Caddyfile is read.
func TestEmptySecretsAreErrorsNamingTheVariable(t *testing.T) {
	storage := t.TempDir()
	t.Setenv("MCPGATE_TEST_EMPTY", "")
	site := func(directives string) string {
		return `{
	storage file_system ` + storage + `
}
localhost:8443 {
	mcp_gateway {
		upstream 127.0.0.1:17800
		users {
			alice ` + hashedTestPassword + `
		}
		` + directives + `
	}
}
`
	}
	for _, c := range []struct{ name, directives, want string }{
		{"unset secret_hash of a client with redirect URIs",
			"client ci {\n\t\t\tsecret_hash {env.MCPGATE_TEST_UNSET_HASH}\n\t\t\tredirect_uris https://ci.example.com/cb\n\t\t}",
			"client ci: secret_hash: {env.MCPGATE_TEST_UNSET_HASH} is empty: set the environment variable MCPGATE_TEST_UNSET_HASH"},
		{"empty secret_hash",
			"client ci {\n\t\t\tsecret_hash {env.MCPGATE_TEST_EMPTY}\n\t\t}",
			"set the environment variable MCPGATE_TEST_EMPTY"},
		{"empty initial access token",
			"registration token {env.MCPGATE_TEST_EMPTY}",
			"registration token: the initial access token: {env.MCPGATE_TEST_EMPTY} is empty"},
		{"empty user hash",
			"users {\n\t\t\tbob {env.MCPGATE_TEST_UNSET_BOB}\n\t\t}",
			"users: bob's password hash: {env.MCPGATE_TEST_UNSET_BOB} is empty"},
		{"empty backend credential inside a value",
			`backend_authorization "Bearer {env.MCPGATE_TEST_UNSET_TOKEN}"`,
			"resource /mcp: backend_authorization: {env.MCPGATE_TEST_UNSET_TOKEN} is empty"},
		{"secret from a missing file",
			"client ci {\n\t\t\tsecret_hash {file." + storage + "/missing}\n\t\t}",
			"the file " + storage + "/missing is missing or empty"},
		{"literal empty secret_hash",
			"client ci {\n\t\t\tsecret_hash \"\"\n\t\t\tredirect_uris https://ci.example.com/cb\n\t\t}",
			"client ci: secret_hash needs the bcrypt hash"},
		{"literal empty initial access token",
			`registration token ""`,
			"registration token needs the initial access token"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := validateCaddyfile(t, site(c.directives))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v\nwant an error with %q", err, c.want)
			}
		})
	}
}

// TestExamplePublicREADMECommandValidates runs the README's validate
// command of examples/public as written (`go run .` being this binary):
// its documented initial access token is long enough and every variable it
// sets is one the Caddyfile needs.
func TestExamplePublicREADMECommandValidates(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("the README's command uses openssl, which is not installed")
	}
	readme, err := os.ReadFile("../examples/public/README.md")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile("(?s)```sh\n(.*?go run . validate.*?)```").FindSubmatch(readme)
	if block == nil {
		t.Fatal("no validate command in examples/public/README.md")
	}
	script := strings.ReplaceAll(string(block[1]), "go run .", `"$MCPGATE_TEST_BINARY"`)
	cmd := exec.Command("bash", "-euc", script)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), runAsCaddyEnv+"=1", "MCPGATE_TEST_BINARY="+os.Args[0])
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "Valid configuration") {
		t.Fatalf("%v\n%s", err, out)
	}
}
