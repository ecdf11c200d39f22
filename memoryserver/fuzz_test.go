package memoryserver

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
)

// FuzzCallTool sends arbitrary arguments to every tool and checks that the
// server answers each call with a result (possibly isError), never a panic
// or an internal error: the schema check must catch all malformed input.
func FuzzCallTool(f *testing.F) {
	for _, seed := range []string{
		`{"entities":[{"name":"A","entityType":"t","observations":["x"]}]}`,
		`{"relations":[{"from":"A","to":"A","relationType":"self"}]}`,
		`{"observations":[{"entityName":"A","contents":["y"]}]}`,
		`{"query":"a","limit":1,"cursor":"aWQ6MQ","namesOnly":true}`,
		`{"names":["A"]}`, `{"oldName":"A","newName":"B"}`,
		`{"entityName":"A","oldObservation":"x","newObservation":"z"}`,
		`{"entities":[{"name":1}]}`, `[]`, `null`, `{"limit":1e400}`,
	} {
		f.Add(uint8(0), []byte(seed))
	}
	srv, err := Open(context.Background(), filepath.Join(f.TempDir(), "memory.db"), Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	var tools []string
	for name := range toolSchemas {
		tools = append(tools, name)
	}
	slices.Sort(tools) // the fuzzer's tool byte must mean the same tool every run
	f.Fuzz(func(t *testing.T, tool uint8, args []byte) {
		if !json.Valid(args) {
			return
		}
		params, _ := json.Marshal(map[string]any{"name": tools[int(tool)%len(tools)], "arguments": json.RawMessage(args)})
		resp := srv.call(context.Background(), "", &jsonrpc.Request{JSONRPC: "2.0", ID: json.RawMessage("1"), Method: "tools/call", Params: params})
		if resp.Error != nil {
			t.Fatalf("%s: %v", params, resp.Error)
		}
	})
}
