package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mcpgate/mcpgate/internal/testenv"
)

// httpTarget is a memoryserver child process spoken to over loopback HTTP.
type httpTarget struct {
	cmd    *exec.Cmd
	url    string
	client *http.Client
	lastID atomic.Int64
}

// startMemoryserver runs bin on a free loopback port with a database in dir
// and waits until it answers.
func startMemoryserver(ctx context.Context, bin, dir string) (*httpTarget, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	addr, err := testenv.FreeAddr()
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(dir, "memoryserver.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	cmd := exec.Command(bin, "--listen", addr, "--db", filepath.Join(dir, "memory.db"))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t := &httpTarget{
		cmd:    cmd,
		url:    "http://" + addr + "/mcp",
		client: &http.Client{Timeout: 10 * time.Minute},
	}
	// Up to 10 s for the server to open its database and listen.
	for range 100 {
		if _, err = t.rpc(ctx, "ping", nil); err == nil {
			return t, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.close()
	return nil, fmt.Errorf("memoryserver did not answer on %s (log in %s): %v", addr, logFile.Name(), err)
}

func (t *httpTarget) rpc(ctx context.Context, method string, params any) (json.RawMessage, error) {
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": t.lastID.Add(1), "method": method, "params": params})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := t.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var reply struct {
		Result json.RawMessage
		Error  *struct {
			Code    int
			Message string
		}
	}
	if err := json.Unmarshal(data, &reply); err != nil {
		return nil, fmt.Errorf("%s: %v", resp.Status, err)
	}
	if reply.Error != nil {
		return nil, fmt.Errorf("JSON-RPC error %d: %s", reply.Error.Code, reply.Error.Message)
	}
	return reply.Result, nil
}

func (t *httpTarget) pid() int { return t.cmd.Process.Pid }

// close stops the server with SIGTERM, its graceful shutdown.
func (t *httpTarget) close() error {
	t.client.CloseIdleConnections()
	if err := t.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	// An exit status is no news here: the signal asked for the exit.
	var exit *exec.ExitError
	if err := t.cmd.Wait(); err != nil && !errors.As(err, &exit) {
		return err
	}
	return nil
}
