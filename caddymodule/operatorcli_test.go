package caddymodule_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// asBinary returns this test binary under the file name name (a symlink),
// to run as that command: see runAsCaddyEnv.
func asBinary(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.Symlink(os.Args[0], path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestMCPHelpSaysTheBinarysName: help for the operator commands names the
// command as the operator runs it, not `caddy`.
func TestMCPHelpSaysTheBinarysName(t *testing.T) {
	cmd := exec.Command(asBinary(t, "mcpgate"), "help", "mcp")
	cmd.Env = append(os.Environ(), runAsCaddyEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(string(out), "mcpgate mcp revoke user <user>") || strings.Contains(string(out), "caddy mcp") {
		t.Errorf("help mcp does not name the binary mcpgate:\n%s", out)
	}
}

// TestREADMETokenExampleWorks runs the README's `mcp token` line as
// written (`go run .` being this binary), with the server's environment
// and a data folder the server made: it prints a JWT.
func TestREADMETokenExampleWorks(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`(?m)^go run \. (mcp token [^#\n]*)`).FindSubmatch(readme)
	if line == nil {
		t.Fatal("no `go run . mcp token` line in README.md")
	}
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, "caddy"), 0o700); err != nil { // the server ran once
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], strings.Fields(string(line[1]))...)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), runAsCaddyEnv+"=1", "XDG_DATA_HOME="+home, "HOME="+home,
		"CI_CLIENT_SECRET_HASH="+hashedTestPassword, "ALICE_HASH="+hashedTestPassword,
		"MCPGATE_REGISTRATION_TOKEN=an-initial-access-token-of-some-length")
	out, err := cmd.Output()
	if err != nil || !regexp.MustCompile(`^ey[\w-]+\.[\w-]+\.[\w-]+\n$`).Match(out) {
		t.Fatalf("%s: %v\n%s", line[1], err, out)
	}
}
