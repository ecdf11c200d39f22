package stdiobackend

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A shared process serves several users: what its server sends unasked
// (log lines, sampling requests) may concern any of them, so it reaches
// none.
func TestSharedProcessRelaysNothingUnsolicited(t *testing.T) {
	cfg := fakeConfig(t)
	cfg.Shared = true
	srv := serve(t, newBackend(t, cfg))
	for _, method := range []string{"log", "sample"} {
		resp, body := rpc(t, srv, "alice", `{"jsonrpc":"2.0","id":1,"method":"`+method+`"}`)
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" || strings.Contains(body, `"method":"notifications/message"`) || strings.Contains(body, `"method":"sampling/createMessage"`) {
			t.Errorf("%s in a shared process: %s %s, want only the reply", method, ct, body)
		}
	}
}

// Concurrent HTTP requests share one process; each carries id 1 (two
// clients of one user may), and each must get its own answer back.
func TestConcurrentRequestsWithTheSameIDGetTheirOwnAnswers(t *testing.T) {
	srv := serve(t, newBackend(t, fakeConfig(t)))
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	pids := make(chan int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, body := rpc(t, srv, "alice", fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"echo","params":{"i":%d}}`, i))
			var e echoed
			if resp.StatusCode != http.StatusOK {
				errs <- fmt.Errorf("request %d: %d %s", i, resp.StatusCode, body)
				return
			}
			id := result(t, body, &e)
			if string(id) != "1" || string(e.Params) != fmt.Sprintf(`{"i":%d}`, i) {
				errs <- fmt.Errorf("request %d got id %s params %s", i, id, e.Params)
			}
			pids <- e.PID
		}()
	}
	wg.Wait()
	close(errs)
	close(pids)
	for err := range errs {
		t.Error(err)
	}
	var seen []int
	for pid := range pids {
		if !slices.Contains(seen, pid) {
			seen = append(seen, pid)
		}
	}
	if len(seen) != 1 {
		t.Errorf("one subject's requests ran in %d processes, want 1", len(seen))
	}
}

func TestEachSubjectGetsItsOwnProcess(t *testing.T) {
	srv := serve(t, newBackend(t, fakeConfig(t)))
	a, b := echo(t, srv, "alice"), echo(t, srv, "bob")
	if a.PID == b.PID {
		t.Fatalf("alice and bob share process %d", a.PID)
	}
	if again := echo(t, srv, "alice"); again.PID != a.PID {
		t.Errorf("alice moved from process %d to %d", a.PID, again.PID)
	}
	// Without a verified subject there is no process to pick: never a
	// shared one.
	resp, body := rpc(t, srv, "", `{"jsonrpc":"2.0","id":1,"method":"echo"}`)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, `"code":-32600`) {
		t.Errorf("no subject: %d %s, want 403 with a JSON-RPC error", resp.StatusCode, body)
	}
}

func TestSharedRunsOneProcessForEveryone(t *testing.T) {
	cfg := fakeConfig(t)
	cfg.Shared = true
	srv := serve(t, newBackend(t, cfg))
	if a, b := echo(t, srv, "alice"), echo(t, srv, "bob"); a.PID != b.PID {
		t.Errorf("shared: alice in %d, bob in %d", a.PID, b.PID)
	}
}

// The child must not inherit the gateway's secrets.
func TestChildGetsOnlyItsEnvironment(t *testing.T) {
	t.Setenv("MCPGATE_TEST_SECRET", "hunter2")
	cfg := fakeConfig(t)
	cfg.Env["NOTES_FILE"] = "/data/" + SubjectPlaceholder + "/notes.json"
	srv := serve(t, newBackend(t, cfg))
	e := echo(t, srv, "../bob")
	for _, kv := range e.Env {
		if strings.Contains(kv, "hunter2") {
			t.Errorf("the child sees the gateway's secret: %s", kv)
		}
	}
	if !slices.Contains(e.Env, "NOTES_FILE=/data/%2E.%2Fbob/notes.json") {
		t.Errorf("env %v lacks the escaped subject's NOTES_FILE", e.Env)
	}
	if !slices.ContainsFunc(e.Env, func(kv string) bool { return strings.HasPrefix(kv, "PATH=") }) {
		t.Errorf("env %v lacks PATH", e.Env)
	}
}

// A subject that looks like a path must not pick another directory.
func TestSubjectCannotLeaveItsDirectory(t *testing.T) {
	base := t.TempDir()
	cfg := fakeConfig(t)
	cfg.Dir = filepath.Join(base, "users", SubjectPlaceholder)
	srv := serve(t, newBackend(t, cfg))
	for _, subject := range []string{"../../etc", "..", "a/b", "-rf", "x;rm -rf ~"} {
		dir := echo(t, srv, subject).Dir
		if filepath.Dir(dir) != filepath.Join(base, "users") {
			t.Errorf("subject %q runs in %s, outside %s", subject, dir, filepath.Join(base, "users"))
		}
	}
}

func TestEscapeSubject(t *testing.T) {
	for subject, want := range map[string]string{
		"alice":             "alice",
		"alice@example.com": "alice@example.com",
		"..":                "%2E.",
		"../../etc":         "%2E.%2F..%2Fetc",
		"-rf":               "%2Drf",
		"a b;c$(d)`e`|&":    "a%20b%3Bc%24%28d%29%60e%60%7C%26",
		"100%":              "100%25",
		"https://x/y":       "https%3A%2F%2Fx%2Fy",
		"Alice":             "%41lice", // apart from "alice" where case is ignored
	} {
		if got := EscapeSubject(subject); got != want {
			t.Errorf("EscapeSubject(%q) = %q, want %q", subject, got, want)
		}
	}
	// A subject too long for a file name is shortened, and two such
	// subjects stay apart.
	long := strings.Repeat("x/", 200)
	a, b := EscapeSubject(long+"a"), EscapeSubject(long+"b")
	if len(a) > maxEscapedSubject || a == b || !strings.Contains(a, "~") {
		t.Errorf("long subjects escaped to %q (%d bytes) and %q", a, len(a), b)
	}
}

func TestValidateTellsTheOperatorWhatToFix(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "stdio needs a command"},
		{Config{Command: "srv", Shared: true, Args: []string{"--db", "/d/" + SubjectPlaceholder}}, "use per_user"},
		{Config{Command: "/bin/" + SubjectPlaceholder}, "must not contain"},
		{Config{Command: "srv", Env: map[string]string{"A=B": "x"}}, "no '='"},
	} {
		if err := c.cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%+v) = %v, want %q", c.cfg, err, c.want)
		}
	}
}

// Two requests name progress token 1; each sees only its own progress,
// under its own token.
func TestProgressReachesOnlyItsRequest(t *testing.T) {
	srv := serve(t, newBackend(t, fakeConfig(t)))
	echo(t, srv, "alice") // started
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := rpcStream(t, srv, "alice", `{"jsonrpc":"2.0","id":5,"method":"progress","params":{"_meta":{"progressToken":1}}}`)
			defer resp.Body.Close()
			if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
				t.Errorf("Content-Type %q, want text/event-stream", ct)
				return
			}
			r := bufio.NewReader(resp.Body)
			for i := 1; i <= 2; i++ {
				if got, want := nextData(t, r), fmt.Sprintf(`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":%d,"progressToken":1}}`, i); got != want {
					t.Errorf("event %d = %s, want %s", i, got, want)
				}
			}
			if got := nextData(t, r); got != `{"jsonrpc":"2.0","id":5,"result":{"done":true}}` {
				t.Errorf("reply %s", got)
			}
		}()
	}
	wg.Wait()
}

func TestLogNotificationReachesTheRequestInFlight(t *testing.T) {
	srv := serve(t, newBackend(t, fakeConfig(t)))
	resp := rpcStream(t, srv, "alice", `{"jsonrpc":"2.0","id":"l","method":"log"}`)
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	if got := nextData(t, r); !strings.Contains(got, `"notifications/message"`) {
		t.Errorf("first event %s, want the log notification", got)
	}
	if got := nextData(t, r); got != `{"jsonrpc":"2.0","id":"l","result":{}}` {
		t.Errorf("reply %s", got)
	}
}

// The child's sampling request reaches the client under a gateway id; the
// answer is taken only from the same subject.
func TestSamplingRequestRoundTrip(t *testing.T) {
	srv := serve(t, newBackend(t, fakeConfig(t)))
	echo(t, srv, "mallory") // mallory has a process too
	resp := rpcStream(t, srv, "alice", `{"jsonrpc":"2.0","id":9,"method":"sample"}`)
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	var ask struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
	}
	if err := json.Unmarshal([]byte(nextData(t, r)), &ask); err != nil || ask.Method != "sampling/createMessage" {
		t.Fatalf("first event: %v %+v", err, ask)
	}
	if string(ask.ID) == "77" {
		t.Errorf("the child's own id reached the client")
	}
	// Another user replaying the id must not answer alice's server.
	if resp, _ := rpc(t, srv, "mallory", `{"jsonrpc":"2.0","id":`+string(ask.ID)+`,"result":{"forged":true}}`); resp.StatusCode != http.StatusAccepted {
		t.Errorf("mallory's reply: %d", resp.StatusCode)
	}
	if resp, _ := rpc(t, srv, "alice", `{"jsonrpc":"2.0","id":`+string(ask.ID)+`,"result":{"text":"hi"}}`); resp.StatusCode != http.StatusAccepted {
		t.Errorf("alice's reply: %d", resp.StatusCode)
	}
	if got := nextData(t, r); got != `{"jsonrpc":"2.0","id":9,"result":{"answered_id":77,"sampled":{"text":"hi"}}}` {
		t.Errorf("reply %s", got)
	}
}

func TestInitializeIsAnsweredFromTheChild(t *testing.T) {
	srv := serve(t, newBackend(t, fakeConfig(t)))
	for asked, want := range map[string]string{"2025-03-26": "2025-03-26", "2025-06-18": "2025-06-18", "2025-11-25": "2025-06-18", "2099-01-01": "2025-06-18", "2026-07-28": "2025-06-18"} {
		_, body := rpc(t, srv, "alice", `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"`+asked+`","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}`)
		var init struct {
			ProtocolVersion string `json:"protocolVersion"`
			ServerInfo      struct{ Name string }
		}
		result(t, body, &init)
		if init.ProtocolVersion != want || init.ServerInfo.Name != "fake" {
			t.Errorf("initialize %s: %+v, want version %s from the fake", asked, init, want)
		}
	}
}

// The gateway initialized the child once; a client's
// notifications/initialized is not passed on, nor a notifications/cancelled
// naming the client's id (which would be another request's in the child:
// the gateway cancels requests itself when their HTTP request goes away).
// Other notifications reach the child.
func TestClientNotifications(t *testing.T) {
	srv := serve(t, newBackend(t, fakeConfig(t)))
	echo(t, srv, "alice")
	for _, n := range []string{
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}`,
		`{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}`,
	} {
		if resp, _ := rpc(t, srv, "alice", n); resp.StatusCode != http.StatusAccepted {
			t.Errorf("%s: %d, want 202", n, resp.StatusCode)
		}
	}
	if got := echo(t, srv, "alice").Notified; !slices.Equal(got, []string{"notifications/initialized", "notifications/roots/list_changed"}) {
		t.Errorf("the child received %v", got)
	}
}

// kill -9 of the child mid-request: that request gets a JSON-RPC error,
// the next one a new process.
func TestCrashFailsTheRequestAndTheNextRestarts(t *testing.T) {
	srv := serve(t, newBackend(t, fakeConfig(t)))
	pid := echo(t, srv, "alice").PID
	received := filepath.Join(t.TempDir(), "received")
	done := make(chan string)
	go func() {
		resp, body := rpc(t, srv, "alice", `{"jsonrpc":"2.0","id":3,"method":"hang","params":{"file":`+strconv.Quote(received)+`}}`)
		done <- fmt.Sprint(resp.StatusCode, " ", body)
	}()
	if !eventually(10*time.Second, func() bool { _, err := os.Stat(received); return err == nil }) {
		t.Fatal("the request never reached the child")
	}
	syscall.Kill(pid, syscall.SIGKILL)
	got := <-done
	if !strings.HasPrefix(got, "502 ") || !strings.Contains(got, `"id":3`) || !strings.Contains(got, "exited") {
		t.Errorf("request in flight: %s, want 502 with a JSON-RPC error for id 3", got)
	}
	if again := echo(t, srv, "alice"); again.PID == pid {
		t.Errorf("still process %d", pid)
	}
}

// A child that keeps crashing is restarted at once the first time, then
// after a doubling delay, with 503 and Retry-After meanwhile.
func TestCrashLoopBacksOff(t *testing.T) {
	clk := newClock()
	cfg := fakeConfig(t)
	cfg.Command, cfg.Args = "sh", []string{"-c", "exit 3"}
	cfg.Now = clk.now
	srv := serve(t, newBackend(t, cfg))
	call := func() (int, string, string) {
		resp, body := rpc(t, srv, "alice", `{"jsonrpc":"2.0","id":1,"method":"echo"}`)
		return resp.StatusCode, resp.Header.Get("Retry-After"), body
	}
	if status, _, body := call(); status != http.StatusBadGateway || !strings.Contains(body, "initialize") {
		t.Fatalf("first start: %d %s, want 502 naming initialize", status, body)
	}
	if status, _, _ := call(); status != http.StatusBadGateway {
		t.Fatalf("second start (no delay after one crash): %d, want 502", status)
	}
	status, retry, body := call()
	if status != http.StatusServiceUnavailable || retry != "1" || !strings.Contains(body, "crashed 2 times") {
		t.Fatalf("third: %d Retry-After %q %s, want 503 Retry-After 1", status, retry, body)
	}
	clk.advance(time.Second)
	if status, _, _ := call(); status != http.StatusBadGateway {
		t.Fatalf("after the delay: %d, want a new start (502)", status)
	}
	if status, retry, _ := call(); status != http.StatusServiceUnavailable || retry != "2" {
		t.Fatalf("after 3 crashes: %d Retry-After %q, want 503 Retry-After 2", status, retry)
	}
}

func TestIdleProcessStopsAndRestarts(t *testing.T) {
	clk := newClock()
	cfg := fakeConfig(t)
	cfg.Now, cfg.IdleTimeout = clk.now, time.Hour // the sweeper stays out of the way
	b := newBackend(t, cfg)
	srv := serve(t, b)
	pid := echo(t, srv, "alice").PID
	clk.advance(time.Hour - time.Nanosecond)
	b.StopIdle()
	if b.Processes() != 1 || !alive(pid) {
		t.Fatal("stopped before the idle timeout")
	}
	clk.advance(time.Nanosecond)
	b.StopIdle()
	if b.Processes() != 0 {
		t.Fatal("still counted after the idle timeout")
	}
	if !eventually(10*time.Second, func() bool { return !alive(pid) }) {
		t.Fatalf("process %d still runs after the idle timeout", pid)
	}
	if again := echo(t, srv, "alice"); again.PID == pid {
		t.Error("no new process after the idle stop")
	}
}

func TestMaxProcessesAnswers503WithRetryAfter(t *testing.T) {
	cfg := fakeConfig(t)
	cfg.MaxProcesses, cfg.IdleTimeout = 1, 20*time.Second
	srv := serve(t, newBackend(t, cfg))
	echo(t, srv, "alice")
	resp, body := rpc(t, srv, "bob", `{"jsonrpc":"2.0","id":4,"method":"echo"}`)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "20" || !strings.Contains(body, `"id":4`) {
		t.Errorf("bob past the cap: %d Retry-After %q %s, want 503 with Retry-After 20", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	echo(t, srv, "alice") // alice keeps hers
}

func TestLongLineKillsTheChild(t *testing.T) {
	cfg := fakeConfig(t)
	cfg.MaxMessageBytes = 1 << 20
	srv := serve(t, newBackend(t, cfg))
	pid := echo(t, srv, "alice").PID
	resp, body := rpc(t, srv, "alice", `{"jsonrpc":"2.0","id":2,"method":"flood"}`)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "exited") {
		t.Errorf("flood: %d %s, want 502 (child killed)", resp.StatusCode, body)
	}
	if alive(pid) {
		t.Errorf("process %d survived a line past the limit", pid)
	}
}

// Close (Caddy's Cleanup on reload) stops every child and what it spawned.
func TestCloseLeavesNoProcess(t *testing.T) {
	b := newBackend(t, fakeConfig(t))
	srv := serve(t, b)
	var pids []int
	for _, s := range []string{"alice", "bob"} {
		pids = append(pids, echo(t, srv, s).PID)
		_, body := rpc(t, srv, s, `{"jsonrpc":"2.0","id":1,"method":"spawn"}`)
		var sp struct{ PID int }
		result(t, body, &sp)
		pids = append(pids, sp.PID)
	}
	b.Close()
	for _, pid := range pids {
		if !eventually(5*time.Second, func() bool { return !alive(pid) }) {
			t.Errorf("process %d outlived Close", pid)
		}
	}
	if resp, _ := rpc(t, srv, "alice", `{"jsonrpc":"2.0","id":1,"method":"echo"}`); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("after Close: %d, want 503", resp.StatusCode)
	}
}
