package memoryserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgate/mcpgate/internal/testenv"
	"github.com/mcpgate/mcpgate/memoryserver"
)

// TestCompatibleWithReference runs testdata/compat/script.json over stdio
// against the reference server (@modelcontextprotocol/server-memory) and
// against memoryserver, and compares the replies step by step; the script's
// "about" says which differences are allowed. At the end both must hold the
// same graph: memoryserver's export equals the reference's JSONL file.
func TestCompatibleWithReference(t *testing.T) {
	var script struct{ Steps []compatStep }
	data, err := os.ReadFile(filepath.Join("testdata", "compat", "script.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &script); err != nil {
		t.Fatal(err)
	}

	refFile := filepath.Join(t.TempDir(), "memory.jsonl")
	cmd := testenv.Cmd(t, "mcp-server-memory")
	cmd.Env = append(cmd.Env, "MEMORY_FILE_PATH="+refFile)
	ref := connect(t, &mcp.CommandTransport{Command: cmd})

	srv, err := memoryserver.Open(context.Background(), filepath.Join(t.TempDir(), "memory.db"), memoryserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ours := connect(t, serveStdio(t, srv))

	for _, step := range script.Steps {
		t.Run(step.Name, func(t *testing.T) {
			want, got := ref.send(t, step), ours.send(t, step)
			if err := step.check(want, got); err != nil {
				t.Errorf("%v\nreference:    %s\nmemoryserver: %s", err, want.raw, got.raw)
			}
		})
	}

	t.Run("export matches the reference's file", func(t *testing.T) {
		want, err := os.ReadFile(refFile)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := srv.Export(context.Background(), &got, ""); err != nil {
			t.Fatal(err)
		}
		if got.String() != string(want) {
			t.Errorf("export:\n%s\nreference file:\n%s", got.String(), want)
		}
	})
}

// compatStep is one message of the script; see the script's "about".
type compatStep struct {
	Name         string
	Method       string
	Params       json.RawMessage
	Notification bool
	Expect       string // "" (same reply), "error" or "refused"
	Refusal      string
	Ignore       []string
	KeyBy        string
	Unordered    bool
	Dedupe       bool
}

// compatReply is a server's reply to one step: a result or an error.
type compatReply struct {
	Result any
	Error  *jsonrpc.Error
	raw    string
}

// failed reports whether the reply is a JSON-RPC error or a failed tool call.
func (r compatReply) failed() bool {
	result, _ := r.Result.(map[string]any)
	return r.Error != nil || result["isError"] == true
}

// text is the error message or the text of every content block.
func (r compatReply) text() string {
	if r.Error != nil {
		return r.Error.Message
	}
	var reply struct{ Content []struct{ Text string } }
	json.Unmarshal([]byte(r.raw), &reply)
	var texts []string
	for _, c := range reply.Content {
		texts = append(texts, c.Text)
	}
	return strings.Join(texts, "\n")
}

// check compares the two servers' replies to the step.
func (s compatStep) check(ref, ours compatReply) error {
	switch s.Expect {
	case "error":
		if !ref.failed() || !ours.failed() {
			return errors.New("want both servers to fail")
		}
		if ref.Error != nil && ours.Error != nil && ref.Error.Code != ours.Error.Code {
			return fmt.Errorf("error code %d, reference %d", ours.Error.Code, ref.Error.Code)
		}
		return nil
	case "refused":
		if !ours.failed() || !strings.Contains(ours.text(), s.Refusal) {
			return fmt.Errorf("want memoryserver to refuse, naming %q", s.Refusal)
		}
		return nil
	}
	if ref.failed() != ours.failed() {
		return fmt.Errorf("failed = %v, reference %v", ours.failed(), ref.failed())
	}
	want := s.normalize(envelope(ref), s.Dedupe)
	got := s.normalize(envelope(ours), false)
	return contains(got, want, "")
}

// envelope puts a reply in one JSON value so both kinds compare alike.
func envelope(r compatReply) any {
	if r.Error != nil {
		return map[string]any{"error": map[string]any{"code": float64(r.Error.Code), "message": r.Error.Message}}
	}
	return r.Result
}

// normalize removes the differences the step allows from a decoded reply.
func (s compatStep) normalize(v any, dedupe bool) any {
	v = decodeTexts(v)
	if s.KeyBy != "" {
		if m, ok := v.(map[string]any); ok {
			m[s.KeyBy] = keyByName(m[s.KeyBy])
		}
	}
	for _, path := range s.Ignore {
		drop(v, strings.Split(path, "."))
	}
	return walk(v, func(a []any) []any {
		if dedupe {
			a = uniq(a)
		}
		if s.Unordered {
			sort.SliceStable(a, func(i, j int) bool { return sortKey(a[i]) < sortKey(a[j]) })
		}
		return a
	})
}

// decodeTexts replaces text members holding JSON (tool results carry their
// structured result again as indented JSON text) by the decoded value, so
// formatting and added members compare like the rest.
func decodeTexts(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if s, ok := e.(string); ok && k == "text" && json.Valid([]byte(s)) && strings.ContainsAny(s[:1], "[{") {
				var decoded any
				json.Unmarshal([]byte(s), &decoded)
				e = decoded
			}
			v[k] = decodeTexts(e)
		}
	case []any:
		for i, e := range v {
			v[i] = decodeTexts(e)
		}
	}
	return v
}

// keyByName turns a list of named objects (tools) into an object keyed by
// name, so memoryserver may list more of them and in any order.
func keyByName(v any) any {
	list, ok := v.([]any)
	if !ok {
		return v
	}
	byName := map[string]any{}
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			byName[fmt.Sprint(m["name"])] = m
		}
	}
	return byName
}

// drop deletes the member at path; "*" matches every member or element.
func drop(v any, path []string) {
	var children []any
	switch v := v.(type) {
	case map[string]any:
		if len(path) == 1 {
			delete(v, path[0])
			return
		}
		for k, e := range v {
			if path[0] == "*" || path[0] == k {
				children = append(children, e)
			}
		}
	case []any:
		if path[0] == "*" {
			children = v
		}
	}
	for _, e := range children {
		if len(path) > 1 {
			drop(e, path[1:])
		}
	}
}

// walk applies f to every array in v, innermost first.
func walk(v any, f func([]any) []any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = walk(e, f)
		}
	case []any:
		for i, e := range v {
			v[i] = walk(e, f)
		}
		return f(v)
	}
	return v
}

// uniq drops elements equal to an earlier one.
func uniq(a []any) []any {
	out := []any{}
	for _, e := range a {
		if !slices.ContainsFunc(out, func(x any) bool { return reflect.DeepEqual(x, e) }) {
			out = append(out, e)
		}
	}
	return out
}

// sortKey orders entities by name and relations by endpoints and type; only
// members the reference has, so memoryserver's additions do not move them.
func sortKey(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Sprint(v)
	}
	return fmt.Sprint(m["name"], "\x00", m["from"], "\x00", m["to"], "\x00", m["relationType"])
}

// contains reports, as an error naming the path, where got does not hold
// want: objects may have extra members, everything else must be equal.
func contains(got, want any, path string) error {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: got %v, want an object", path, got)
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				return fmt.Errorf("%s.%s: missing", path, k)
			}
			if err := contains(gv, wv, path+"."+k); err != nil {
				return err
			}
		}
		return nil
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Errorf("%s: got %v, want %d elements", path, got, len(w))
		}
		for i := range w {
			if err := contains(g[i], w[i], fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	}
	if !reflect.DeepEqual(got, want) {
		return fmt.Errorf("%s: got %v, want %v", path, got, want)
	}
	return nil
}

// compatSession sends the script's messages over one connection.
type compatSession struct {
	conn   mcp.Connection
	lastID int64
}

// connect opens the transport for the rest of the test.
func connect(t *testing.T, transport mcp.Transport) *compatSession {
	t.Helper()
	conn, err := transport.Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &compatSession{conn: conn}
}

// send writes the step's message and, unless it is a notification, waits
// for the response with its id, skipping anything else the server sends.
func (s *compatSession) send(t *testing.T, step compatStep) compatReply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := &jsonrpc.Request{Method: step.Method, Params: step.Params}
	if !step.Notification {
		s.lastID++
		req.ID, _ = jsonrpc.MakeID(float64(s.lastID))
	}
	if err := s.conn.Write(ctx, req); err != nil {
		t.Fatal(err)
	}
	if step.Notification {
		return compatReply{}
	}
	for {
		msg, err := s.conn.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		resp, ok := msg.(*jsonrpc.Response)
		if !ok || resp.ID != req.ID {
			continue
		}
		var reply compatReply
		if resp.Error != nil {
			if !errors.As(resp.Error, &reply.Error) {
				t.Fatalf("error %v is not a JSON-RPC error object", resp.Error)
			}
			b, _ := json.Marshal(reply.Error)
			reply.raw = `{"error":` + string(b) + `}`
			return reply
		}
		reply.raw = string(resp.Result)
		if err := json.Unmarshal(resp.Result, &reply.Result); err != nil {
			t.Fatal(err)
		}
		return reply
	}
}

// serveStdio runs srv's stdio loop in this process and returns the client
// end of its pipes. Closing the connection ends the loop.
func serveStdio(t *testing.T, srv *memoryserver.Server) mcp.Transport {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- srv.ServeStdio(context.Background(), inR, outW)
		outW.Close()
	}()
	t.Cleanup(func() {
		if err := <-done; err != nil {
			t.Errorf("ServeStdio: %v", err)
		}
	})
	return &mcp.IOTransport{Reader: outR, Writer: inW}
}
