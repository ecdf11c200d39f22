// Package testenv is what tests and benchmark programs need from the
// machine: free loopback addresses, and the npm-installed Node tools (the
// reference MCP servers, real MCP clients, the conformance suite and a Node
// 22 runtime) that tests drive as external processes.
//
// The tools live in a node_modules/.bin directory: $MCPGATE_NODE_MODULES/.bin
// when set (bash .ci/run sets it), else <repo root>/.ci/node/node_modules/.bin.
// When they are missing a test is skipped, unless MCPGATE_CI=1, where a
// missing tool is a failure: CI must never pass by skipping.
package testenv

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Bin returns the path of the npm-installed executable name, such as
// "mcp-server-memory", "node", "conformance" or "mcp-remote". It skips the
// test when the tool is not installed, or fails it when MCPGATE_CI=1.
//
// Most npm executables are scripts starting with "#!/usr/bin/env node": run
// them with Env so that the Node 22 runtime next to them is the one used.
func Bin(t testing.TB, name string) string {
	t.Helper()
	dir, err := Dir()
	if err == nil {
		path := filepath.Join(dir, name)
		if _, err = os.Stat(path); err == nil {
			return path
		}
	}
	msg := "testenv: " + name + " not available (" + err.Error() + "); run bash .ci/run to install the Node tools"
	if os.Getenv("MCPGATE_CI") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// File returns the path of a file inside the npm packages, such as
// "conformance-2026/dist/index.js" (a package whose executable's name
// another package already takes in .bin). It skips the test when the file
// is missing, or fails it when MCPGATE_CI=1, like Bin.
func File(t testing.TB, rel string) string {
	t.Helper()
	dir, err := Dir()
	if err == nil {
		path := filepath.Join(filepath.Dir(dir), filepath.FromSlash(rel))
		if _, err = os.Stat(path); err == nil {
			return path
		}
	}
	msg := "testenv: " + rel + " not available (" + err.Error() + "); run bash .ci/run to install the Node tools"
	if os.Getenv("MCPGATE_CI") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// Cmd returns an exec.Cmd running the npm-installed executable name with args
// and the environment of Env. It skips or fails the test like Bin.
func Cmd(t testing.TB, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(Bin(t, name), args...)
	cmd.Env = Env()
	return cmd
}

// Env returns the current environment with the node_modules/.bin directory
// first in PATH, so that "#!/usr/bin/env node" scripts find the Node 22 shim
// installed there instead of whatever node the system has. Without the
// directory it returns the environment unchanged.
func Env() []string {
	env := os.Environ()
	dir, err := Dir()
	if err != nil {
		return env
	}
	for i, kv := range env {
		if strings.HasPrefix(kv, "PATH=") {
			env[i] = "PATH=" + dir + string(os.PathListSeparator) + kv[len("PATH="):]
			return env
		}
	}
	return append(env, "PATH="+dir)
}

// Dir returns the node_modules/.bin directory holding the tools, or why
// there is none. Tests use Bin; Dir is for programs such as memorybench
// that drive the same tools outside a test.
func Dir() (string, error) {
	modules := os.Getenv("MCPGATE_NODE_MODULES")
	if modules == "" {
		root, err := repoRoot()
		if err != nil {
			return "", err
		}
		modules = filepath.Join(root, ".ci", "node", "node_modules")
	}
	dir := filepath.Join(modules, ".bin")
	if _, err := os.Stat(dir); err != nil {
		return "", err
	}
	return dir, nil
}

// repoRoot walks up from the working directory (a package directory under
// go test) to the directory holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
