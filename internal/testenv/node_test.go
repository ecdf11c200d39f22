package testenv

import (
	"os/exec"
	"strings"
	"testing"
)

func TestNodeIsVersion22(t *testing.T) {
	cmd := Cmd(t, "node", "--version")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), "v22.") {
		t.Fatalf("node --version = %q, want v22.x", out)
	}
}

func TestEnvPutsShimFirst(t *testing.T) {
	want := Bin(t, "node")
	cmd := exec.Command("sh", "-c", "command -v node")
	cmd.Env = Env()
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != want {
		t.Fatalf("node on PATH = %q, want %q", got, want)
	}
}
