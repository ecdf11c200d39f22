package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/mcpgate/mcpgate/memoryserver"
)

// The test binary doubles as the memoryserver binary: started with
// runAsServer set, it runs main instead of the tests. That gives real OS
// processes without a separate go build.
const runAsServer = "MEMORYSERVER_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runAsServer) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// command prepares this binary as memoryserver with args.
func command(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), runAsServer+"=1")
	return cmd
}

// startHTTP starts a server process on a free port and returns its /mcp URL.
func startHTTP(t *testing.T, db string) (*exec.Cmd, string) {
	t.Helper()
	cmd := command(t, "--listen", "127.0.0.1:0", "--db", db)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	lines := bufio.NewScanner(stderr)
	for lines.Scan() {
		var entry struct{ Msg, Addr string }
		if json.Unmarshal(lines.Bytes(), &entry) == nil && entry.Msg == "listening" {
			go io.Copy(io.Discard, stderr)
			return cmd, "http://" + entry.Addr + "/mcp"
		}
	}
	t.Fatalf("server exited before listening: %v", lines.Err())
	return nil, ""
}

// create asks the server at url to create one entity and reports whether the
// write was acknowledged.
func create(url, name string) error {
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_entities",`+
		`"arguments":{"entities":[{"name":%q,"entityType":"t","observations":["o"]}]}}}`, name)
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var reply struct {
		Result *struct {
			IsError bool `json:"isError"`
		} `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&reply); err != nil || reply.Result == nil || reply.Result.IsError {
		return fmt.Errorf("create %s: status %d, %v", name, resp.StatusCode, err)
	}
	return nil
}

// exported returns the database's graph as reference JSONL.
func exported(t *testing.T, db string) string {
	t.Helper()
	srv, err := memoryserver.Open(context.Background(), db, memoryserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var buf bytes.Buffer
	if err := srv.Export(context.Background(), &buf, ""); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestTwoProcessesLoseNothing(t *testing.T) {
	db := filepath.Join(t.TempDir(), "memory.db")
	_, url1 := startHTTP(t, db)
	_, url2 := startHTTP(t, db)
	var wg sync.WaitGroup
	for i := range 100 {
		url := url1
		if i%2 == 1 {
			url = url2
		}
		wg.Go(func() {
			if err := create(url, fmt.Sprintf("e%03d", i)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := strings.Count(exported(t, db), `"type":"entity"`); n != 100 {
		t.Errorf("database holds %d of 100 entities", n)
	}
}

func TestKillNineLosesNoAcknowledgedWrite(t *testing.T) {
	db := filepath.Join(t.TempDir(), "memory.db")
	cmd, url := startHTTP(t, db)
	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
	)
	killed := make(chan struct{})
	var once sync.Once
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				name := fmt.Sprintf("w%d-%04d", w, i)
				if create(url, name) != nil {
					return // the server is gone
				}
				mu.Lock()
				acked = append(acked, name)
				n := len(acked)
				mu.Unlock()
				if n >= 40 {
					once.Do(func() {
						cmd.Process.Signal(syscall.SIGKILL) // writes from other workers are in flight
						close(killed)
					})
				}
			}
		})
	}
	wg.Wait()
	<-killed
	stored := exported(t, db)
	for _, name := range acked {
		if !strings.Contains(stored, `"name":"`+name+`"`) {
			t.Errorf("acknowledged write %s lost after kill -9", name)
		}
	}
}

// createBatch asks the server at url to create, in one call, batchSize
// entities named prefix-0, prefix-1, ..., each with the observation
// "batch <prefix>", and reports whether the write was acknowledged.
func createBatch(url, prefix string) error {
	var entities []map[string]any
	for i := range batchSize {
		entities = append(entities, map[string]any{"name": fmt.Sprintf("%s-%d", prefix, i), "entityType": "t",
			"observations": []string{"batch " + prefix}})
	}
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/call",
		"params": map[string]any{"name": "create_entities", "arguments": map[string]any{"entities": entities}}})
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var reply struct {
		Result *struct {
			IsError bool `json:"isError"`
		} `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&reply); err != nil || reply.Result == nil || reply.Result.IsError {
		return fmt.Errorf("batch %s: status %d, %v", prefix, resp.StatusCode, err)
	}
	return nil
}

const batchSize = 100

// TestKillNineLosesNoAcknowledgedBatch kills the server while batches of
// 100 entities are in flight: every acknowledged batch must be stored whole,
// and every other batch whole or not at all.
func TestKillNineLosesNoAcknowledgedBatch(t *testing.T) {
	db := filepath.Join(t.TempDir(), "memory.db")
	cmd, url := startHTTP(t, db)
	var (
		mu          sync.Mutex
		sent, acked []string
		wg          sync.WaitGroup
	)
	killed := make(chan struct{})
	var once sync.Once
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				prefix := fmt.Sprintf("w%d-%04d", w, i)
				mu.Lock()
				sent = append(sent, prefix)
				mu.Unlock()
				if createBatch(url, prefix) != nil {
					return // the server is gone
				}
				mu.Lock()
				acked = append(acked, prefix)
				n := len(acked)
				mu.Unlock()
				if n >= 12 {
					once.Do(func() {
						cmd.Process.Signal(syscall.SIGKILL) // batches from other workers are in flight
						close(killed)
					})
				}
			}
		})
	}
	wg.Wait()
	<-killed
	stored := exported(t, db)
	for _, prefix := range sent {
		n := strings.Count(stored, `"observations":["batch `+prefix+`"]`)
		switch {
		case slices.Contains(acked, prefix) && n != batchSize:
			t.Errorf("acknowledged batch %s: %d of %d entities stored after kill -9", prefix, n, batchSize)
		case n != 0 && n != batchSize:
			t.Errorf("batch %s stored in part (%d of %d entities) after kill -9", prefix, n, batchSize)
		}
	}
}

func TestStdioBinaryWritesOnlyProtocol(t *testing.T) {
	cmd := command(t, "--stdio", "--db", filepath.Join(t.TempDir(), "memory.db"))
	cmd.Stdin = strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}` + "\n" +
		`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n" +
		`{"jsonrpc":"2.0","id":2,"method":"tools/list"}` + "\n")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("stdout has %d lines, want 2 replies:\n%s", len(lines), stdout.String())
	}
	for _, l := range lines {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) != nil || m["jsonrpc"] != "2.0" || m["result"] == nil {
			t.Errorf("stdout line is not a JSON-RPC result: %s", l)
		}
	}
	if stderr.Len() == 0 {
		t.Error("expected the startup log on stderr")
	}
}

func TestImportExportCommands(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "memory.jsonl")
	want := `{"type":"entity","name":"A","entityType":"t","observations":["x"]}` + "\n" +
		`{"type":"entity","name":"B","entityType":"t","observations":[]}` + "\n" +
		`{"type":"relation","from":"A","to":"B","relationType":"knows"}`
	if err := os.WriteFile(file, []byte(want), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "sub", "memory.db")
	if out, err := command(t, "import", "--db", db, file).CombinedOutput(); err != nil {
		t.Fatalf("import: %v: %s", err, out)
	}
	cmd := command(t, "--db", db, "export")
	cmd.Env = append(cmd.Env, "MEMORYSERVER_DB=/nonexistent/ignored.db")
	got, err := cmd.Output()
	if err != nil || string(got) != want {
		t.Errorf("export = %q, %v; want %q", got, err, want)
	}
	if err := command(t, "--db", db, "frobnicate").Run(); err == nil {
		t.Error("unknown subcommand succeeded")
	}
}

func TestImportSkipDangling(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "memory.jsonl")
	var lines []string
	lines = append(lines, `{"type":"entity","name":"A","entityType":"t","observations":[]}`)
	for i := range 12 {
		lines = append(lines, fmt.Sprintf(`{"type":"relation","from":"A","to":"Ghost%d","relationType":"knows"}`, i))
	}
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "memory.db")
	out, err := command(t, "import", "--db", db, file).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--skip-dangling") || !strings.Contains(string(out), "nothing was imported") {
		t.Errorf("strict import: %v: %s; want a failure that points at --skip-dangling", err, out)
	}
	if got := exported(t, db); got != "" {
		t.Errorf("a refused import stored %s", got)
	}
	cmd := command(t, "import", "--skip-dangling", "--db", db, file)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("import --skip-dangling: %v: %s", err, stderr.String())
	}
	report := stderr.String()
	for _, want := range []string{"left out 12 relation(s)", `"A" -[knows]-> "Ghost0"`, `"A" -[knows]-> "Ghost9"`, "... and 2 more"} {
		if !strings.Contains(report, want) {
			t.Errorf("stderr %q does not contain %q", report, want)
		}
	}
	if strings.Contains(report, `"Ghost10"`) {
		t.Errorf("stderr lists more than %d relations: %s", maxListedDangling, report)
	}
	if got := exported(t, db); got != lines[0] {
		t.Errorf("export = %q, want %q", got, lines[0])
	}
	if err := command(t, "--skip-dangling", "--db", db, "export").Run(); err == nil {
		t.Error("--skip-dangling accepted with export")
	}
}

func TestDefaultDBFromEnvironment(t *testing.T) {
	t.Setenv("MEMORYSERVER_DB", "/data/x.db")
	c, err := parseArgs(nil)
	if err != nil || c.db != "/data/x.db" || c.listen != memoryserver.DefaultListen || c.maxBody != memoryserver.DefaultMaxBodyBytes {
		t.Errorf("defaults = %+v, %v", c, err)
	}
	t.Setenv("MEMORYSERVER_DB", "")
	if c, _ := parseArgs(nil); !strings.HasSuffix(c.db, filepath.Join("mcpgate", "memory.db")) {
		t.Errorf("default db = %q", c.db)
	}
}

func TestSIGTERMShutsDownCleanly(t *testing.T) {
	db := filepath.Join(t.TempDir(), "memory.db")
	cmd, url := startHTTP(t, db)
	if err := create(url, "before-shutdown"); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v, want status 0", err)
	}
	if !strings.Contains(exported(t, db), "before-shutdown") {
		t.Error("write lost across shutdown")
	}
}
