package memoryserver

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

func TestServeStdio(t *testing.T) {
	srv, err := Open(context.Background(), filepath.Join(t.TempDir(), "memory.db"), Options{MaxBodyBytes: 512})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	in := strings.Join([]string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		``,
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_entities","arguments":{"entities":[{"name":"A","entityType":"t","observations":[]}]}}}`,
		`not json`,
		`{"jsonrpc":"2.0","id":3,"method":"ping","params":{"pad":"` + strings.Repeat("x", 600) + `"}}`,
		`[{"jsonrpc":"2.0","id":4,"method":"ping"},{"jsonrpc":"2.0","id":5,"method":"nope"}]`,
		`{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"read_graph","arguments":{}}}`, // no final newline
	}, "\n")
	var out strings.Builder
	if err := srv.ServeStdio(context.Background(), strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	want := []string{`"id":1,"result"`, `"id":2,"result"`, `"code":-32700`, `"code":-32600`, `"id":4,"result"`, `"id":6,"result"`}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), out.String())
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) || !json.Valid([]byte(lines[i])) {
			t.Errorf("line %d = %s, want it to contain %s", i, lines[i], w)
		}
	}
	if !strings.Contains(lines[4], `"id":5,"error"`) || !strings.Contains(lines[5], `\"name\": \"A\"`) {
		t.Errorf("batch or read_graph reply wrong:\n%s\n%s", lines[4], lines[5])
	}
}

func TestServeStdioStopsOnCancel(t *testing.T) {
	srv, err := Open(context.Background(), filepath.Join(t.TempDir(), "memory.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeStdio(ctx, inR, outW) }()
	go io.WriteString(inW, `{"jsonrpc":"2.0","id":1,"method":"ping"}`+"\n")
	line, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil || !strings.Contains(line, `"result":{}`) {
		t.Fatalf("ping reply %q, %v", line, err)
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("ServeStdio returned %v, want context.Canceled", err)
	}
	inW.Close()
}
