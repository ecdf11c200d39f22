package caddymodule_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestExampleSystemdUnitVerifies runs `systemd-analyze verify` on
// examples/systemd/mcpgate.service, its binary path pointed at an existing
// executable (verify checks that it exists). Any complaint fails, since
// verify reports unknown keys without failing.
func TestExampleSystemdUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed: the unit is not verified on this machine")
	}
	unit, err := os.ReadFile("../examples/systemd/mcpgate.service")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "mcpgate.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/mcpgate", os.Args[0])), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestExampleDockerImageBuilds builds examples/docker/Dockerfile where a
// container runtime answers. Its Caddyfile is validated and run on every
// machine (TestExampleCaddyfilesValidate, TestLoopbackExamplesServeOnlyTheirOwnNames).
func TestExampleDockerImageBuilds(t *testing.T) {
	var runtime string
	for _, name := range []string{"docker", "podman"} {
		if path, err := exec.LookPath(name); err == nil && exec.Command(path, "info").Run() == nil {
			runtime = path
			break
		}
	}
	if runtime == "" {
		t.Skip("no container runtime answers here (docker info, podman info): the image is not built on this machine")
	}
	out, err := exec.Command(runtime, "build", "-f", "../examples/docker/Dockerfile", "-t", "mcpgate-test", "..").CombinedOutput()
	if err != nil {
		t.Fatalf("%s build: %v\n%s", runtime, err, out)
	}
}
