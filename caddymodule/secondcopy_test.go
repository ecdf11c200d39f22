package caddymodule_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// copyProcess is an mcpgate process running the default Caddyfile.
type copyProcess struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  strings.Builder
	done chan struct{}
}

func (p *copyProcess) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *copyProcess) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// copyEnv is the environment of one copy: the default Caddyfile's
// variables on free ports, with data in the given folder.
func copyEnv(t *testing.T, data string) map[string]string {
	return map[string]string{
		"MCPGATE_DATA":        data,
		"MCPGATE_HTTP_PORT":   freePort(t),
		"MCPGATE_HTTPS_PORT":  freePort(t),
		"MCPGATE_ADMIN":       freeAddr(t),
		"MCPGATE_MEMORY_ADDR": freeAddr(t),
		"MCPGATE_USER":        testUser,
		"MCPGATE_PASSWORD":    testPassword,
	}
}

// startCopy runs `mcpgate run` on the repository's Caddyfile in a process
// of its own, stopped (if still running) when the test ends.
func startCopy(t *testing.T, env map[string]string) *copyProcess {
	t.Helper()
	caddyfile, err := filepath.Abs("../Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	p := &copyProcess{done: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], "run", "--config", caddyfile)
	p.cmd.Env = append(os.Environ(), runAsCaddyEnv+"=1", "XDG_CONFIG_HOME="+home, "XDG_DATA_HOME="+home, "HOME="+home)
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.cmd.Wait() //nolint:errcheck // the exit code is read from ProcessState
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill() //nolint:errcheck // it may have exited
		<-p.done
	})
	return p
}

// waitStarted waits for the banner, which follows a successful start.
func (p *copyProcess) waitStarted(t *testing.T) {
	t.Helper()
	if !eventually(30*time.Second, func() bool {
		select {
		case <-p.done:
			return true
		default:
			return strings.Contains(p.output(), "mcpgate is running")
		}
	}) || !strings.Contains(p.output(), "mcpgate is running") {
		t.Fatalf("the copy did not start:\n%s", p.output())
	}
}

// waitRefused waits for the process to exit with an error, and returns
// its output.
func (p *copyProcess) waitRefused(t *testing.T) string {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the second copy is still running:\n%s", p.output())
	}
	if p.cmd.ProcessState.Success() {
		t.Fatalf("the second copy exited without an error:\n%s", p.output())
	}
	return p.output()
}

// TestSecondCopyOnTheSameDataFolderIsRefused runs two real instances on
// one data folder (other ports): the second exits naming the first's pid;
// once the first is killed (no chance to clean up), its lock is stale and
// the next copy takes it over.
func TestSecondCopyOnTheSameDataFolderIsRefused(t *testing.T) {
	data := t.TempDir()
	first := startCopy(t, copyEnv(t, data))
	first.waitStarted(t)

	second := startCopy(t, copyEnv(t, data))
	out := second.waitRefused(t)
	for _, want := range []string{fmt.Sprintf("pid %d", first.cmd.Process.Pid), "is using the data folder " + filepath.Join(data, "caddy")} {
		if !strings.Contains(out, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "mcpgate is running") {
		t.Error("the refused copy printed the banner")
	}

	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.done
	third := startCopy(t, copyEnv(t, data))
	third.waitStarted(t)
}

// TestSecondCopyOnTheSameMemoryAddressIsRefused runs two real instances
// with their own data folders and ports but one memory server address: the
// second exits naming the process that holds the address, instead of
// sharing the port with it.
func TestSecondCopyOnTheSameMemoryAddressIsRefused(t *testing.T) {
	env := copyEnv(t, t.TempDir())
	first := startCopy(t, env)
	first.waitStarted(t)

	env2 := copyEnv(t, t.TempDir())
	env2["MCPGATE_MEMORY_ADDR"] = env["MCPGATE_MEMORY_ADDR"]
	out := startCopy(t, env2).waitRefused(t)
	want := fmt.Sprintf("listen %s: the address is taken by pid %d", env["MCPGATE_MEMORY_ADDR"], first.cmd.Process.Pid)
	if !strings.Contains(out, want) {
		t.Errorf("the refusal does not say %q:\n%s", want, out)
	}
}
