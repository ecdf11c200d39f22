package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgate/mcpgate/internal/testenv"
)

// stdioTarget is the npm reference server, which speaks only stdio.
type stdioTarget struct {
	cmd    *exec.Cmd
	conn   mcp.Connection
	lastID int64
}

// startReference runs mcp-server-memory (installed by bash .ci/run) with its
// JSONL file in dir.
func startReference(ctx context.Context, dir string) (*stdioTarget, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	bin, err := testenv.Dir()
	if err != nil {
		return nil, fmt.Errorf("the reference server is not installed (run bash .ci/run): %v", err)
	}
	cmd := exec.Command(filepath.Join(bin, "mcp-server-memory"))
	cmd.Env = append(testenv.Env(), "MEMORY_FILE_PATH="+filepath.Join(dir, "memory.jsonl"))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	// No line limit: the reference answers read_graph with the whole graph
	// on one line (tens of MB at 100k entities).
	conn, err := (&mcp.IOTransport{Reader: stdout, Writer: stdin, MaxLineLength: -1}).Connect(ctx)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, err
	}
	return &stdioTarget{cmd: cmd, conn: conn}, nil
}

// rpc sends one request and waits for its response; calls are sequential,
// since the reference runs concurrent requests interleaved.
func (t *stdioTarget) rpc(ctx context.Context, method string, params any) (json.RawMessage, error) {
	raw, err := json.Marshal(params)
	if err != nil {
		return nil, err
	}
	t.lastID++
	id, err := jsonrpc.MakeID(float64(t.lastID))
	if err != nil {
		return nil, err
	}
	if err := t.conn.Write(ctx, &jsonrpc.Request{ID: id, Method: method, Params: raw}); err != nil {
		return nil, err
	}
	for {
		msg, err := t.conn.Read(ctx)
		if err != nil {
			return nil, err
		}
		if resp, ok := msg.(*jsonrpc.Response); ok && resp.ID == id {
			return resp.Result, resp.Error
		}
	}
}

func (t *stdioTarget) pid() int { return t.cmd.Process.Pid }

// close ends the server by closing its stdin.
func (t *stdioTarget) close() error {
	err := t.conn.Close()
	var exit *exec.ExitError
	if werr := t.cmd.Wait(); werr != nil && !errors.As(werr, &exit) {
		err = errors.Join(err, werr)
	}
	return err
}
