package memoryserver

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
)

// benchGraphSize is the number of entities (3 observations each, as many
// relations) the benchmarks run against. cmd/memorybench measures 1k to 100k
// over HTTP; these benchmarks watch the store's hot paths.
const benchGraphSize = 10000

func benchServer(b *testing.B) *Server {
	b.Helper()
	srv, err := Open(context.Background(), filepath.Join(b.TempDir(), "memory.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	var file strings.Builder
	for i := range benchGraphSize {
		fmt.Fprintf(&file, `{"type":"entity","name":"entity%d","entityType":"type%d","observations":["observation %d alpha","fact %d beta","note %d gamma"]}`+"\n",
			i, i%10, i, i, i)
	}
	for i := range benchGraphSize {
		fmt.Fprintf(&file, `{"type":"relation","from":"entity%d","to":"entity%d","relationType":"links"}`+"\n", i, (i+1)%benchGraphSize)
	}
	if err := srv.Import(context.Background(), strings.NewReader(file.String()), ""); err != nil {
		b.Fatal(err)
	}
	return srv
}

// benchCall runs one tools/call through the dispatcher, as HTTP and stdio do.
func benchCall(b *testing.B, srv *Server, tool string, args string) {
	params := `{"name":"` + tool + `","arguments":` + args + `}`
	resp := srv.call(context.Background(), "", &jsonrpc.Request{JSONRPC: "2.0", ID: json.RawMessage("1"), Method: "tools/call", Params: json.RawMessage(params)})
	if resp.Error != nil || strings.Contains(string(resp.Result), `"isError":true`) {
		b.Fatalf("%s: %s %v", tool, resp.Result, resp.Error)
	}
}

func BenchmarkSearchNodes(b *testing.B) {
	srv := benchServer(b)
	i := 0
	for b.Loop() {
		benchCall(b, srv, "search_nodes", fmt.Sprintf(`{"query":"observation %d"}`, i%benchGraphSize))
		i++
	}
}

func BenchmarkOpenNodes(b *testing.B) {
	srv := benchServer(b)
	i := 0
	for b.Loop() {
		benchCall(b, srv, "open_nodes", fmt.Sprintf(`{"names":["entity%d"]}`, i%benchGraphSize))
		i++
	}
}

func BenchmarkCreateEntity(b *testing.B) {
	srv := benchServer(b)
	i := 0
	for b.Loop() {
		benchCall(b, srv, "create_entities", fmt.Sprintf(`{"entities":[{"name":"new%d","entityType":"t","observations":["a","b","c"]}]}`, i))
		i++
	}
}

func BenchmarkReadGraphPage(b *testing.B) {
	srv := benchServer(b)
	for b.Loop() {
		benchCall(b, srv, "read_graph", `{"limit":100}`)
	}
}
