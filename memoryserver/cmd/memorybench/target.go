package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// A target is one server process under test.
type target interface {
	// rpc sends one JSON-RPC request and returns its result.
	rpc(ctx context.Context, method string, params any) (json.RawMessage, error)
	// pid is the server process, for its peak RSS.
	pid() int
	// close stops the server process.
	close() error
}

// callTool calls a tool and returns its result, failing on a tool error too.
func callTool(ctx context.Context, t target, tool string, args any) (json.RawMessage, error) {
	result, err := t.rpc(ctx, "tools/call", map[string]any{"name": tool, "arguments": args})
	if err != nil {
		return nil, fmt.Errorf("%s: %v", tool, err)
	}
	// A failed call is a short reply with "isError":true; looking only at
	// short replies keeps this check off the timing of large ones.
	if len(result) < 4096 && bytes.Contains(result, []byte(`"isError":true`)) {
		return nil, fmt.Errorf("%s: %s", tool, result)
	}
	return result, nil
}

// peakRSS returns the peak resident set size of process pid, in bytes.
func peakRSS(pid int) (int64, error) {
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}
