package stdiobackend

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// fakeEnv makes the test binary a fake stdio MCP server (see fakeServer).
const fakeEnv = "STDIOBACKEND_FAKE_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(fakeEnv) == "1" {
		fakeServer()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fakeConfig runs this test binary as the fake server.
func fakeConfig(t *testing.T) Config {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Config{Command: exe, Env: map[string]string{fakeEnv: "1"}}
}

// fakeServer speaks MCP 2025-06-18 on stdio. Methods: initialize; echo
// (params back, with the environment, directory, pid and the notifications
// received);
// progress (two notifications/progress for the request's token, then a
// result); sample (asks the client sampling/createMessage and returns its
// answer, or the error it got as "refused"); log (a notifications/message, then a result); flood (a line of
// 2 MiB); stderr (params.n lines on stderr); spawn (starts a grandchild
// "sleep 1000" and returns its pid); hang never answers (after creating
// params.file, when given, to say it got the request).
func fakeServer() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := json.NewEncoder(os.Stdout)
	var waiting json.RawMessage // the id of a sample request waiting for its answer
	var notified []string       // the notifications received
	reply := func(id json.RawMessage, result any) {
		out.Encode(map[string]any{"jsonrpc": "2.0", "id": id, "result": result})
	}
	for in.Scan() {
		var m struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if json.Unmarshal(in.Bytes(), &m) != nil {
			continue
		}
		if m.ID == nil {
			notified = append(notified, m.Method)
			continue
		}
		if m.Method == "" { // the client's answer to sampling, or the gateway's refusal
			answer := map[string]any{"sampled": m.Result, "answered_id": m.ID}
			if m.Error != nil {
				answer["refused"] = m.Error
			}
			reply(waiting, answer)
			continue
		}
		var p struct {
			N    int    `json:"n"`
			File string `json:"file"`
			Meta struct {
				ProgressToken json.RawMessage `json:"progressToken"`
			} `json:"_meta"`
		}
		json.Unmarshal(m.Params, &p)
		switch m.Method {
		case "initialize":
			reply(m.ID, map[string]any{"protocolVersion": "2025-06-18", "capabilities": map[string]any{"tools": map[string]any{}}, "serverInfo": map[string]any{"name": "fake", "version": "1"}})
		case "echo":
			wd, _ := os.Getwd()
			reply(m.ID, map[string]any{"params": m.Params, "env": os.Environ(), "dir": wd, "pid": os.Getpid(), "notified": notified})
		case "progress":
			for i := 1; i <= 2; i++ {
				out.Encode(map[string]any{"jsonrpc": "2.0", "method": "notifications/progress", "params": map[string]any{"progressToken": p.Meta.ProgressToken, "progress": i}})
			}
			reply(m.ID, map[string]any{"done": true})
		case "sample":
			waiting = m.ID
			out.Encode(map[string]any{"jsonrpc": "2.0", "id": 77, "method": "sampling/createMessage", "params": map[string]any{}})
		case "log":
			out.Encode(map[string]any{"jsonrpc": "2.0", "method": "notifications/message", "params": map[string]any{"level": "info", "data": "hello"}})
			reply(m.ID, map[string]any{})
		case "flood":
			os.Stdout.WriteString(`{"jsonrpc":"2.0","method":"x","params":"` + strings.Repeat("a", 2<<20) + "\"}\n")
		case "stderr":
			for i := 0; i < p.N; i++ {
				fmt.Fprintf(os.Stderr, "line %d\n", i)
			}
			reply(m.ID, map[string]any{})
		case "spawn":
			cmd := exec.Command("sleep", "1000")
			cmd.Start()
			reply(m.ID, map[string]any{"pid": cmd.Process.Pid})
		case "hang":
			if p.File != "" {
				os.WriteFile(p.File, nil, 0o600) // received
			}
		}
	}
}
