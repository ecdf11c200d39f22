package mcpwire

import (
	"net/http"
	"testing"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
)

// A header sent twice is refused in either era: the gateway decides on one
// value, and a router, policy or backend behind it may act on the other
// (Node joins them with ", ", others take the last).
func TestRepeatedStandardHeadersAreRefused(t *testing.T) {
	modern := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`
	legacy := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search"}}`
	for _, tc := range []struct {
		body, version string
	}{{modern, ModernVersion}, {legacy, "2025-06-18"}} {
		p, perr := jsonrpc.Parse([]byte(tc.body), 64)
		if perr != nil {
			t.Fatal(perr)
		}
		req := p.Messages[0].Request
		once := func() http.Header {
			return http.Header{"Mcp-Protocol-Version": {tc.version}, "Mcp-Method": {"tools/call"}, "Mcp-Name": {"search"}}
		}
		served := []string{ModernVersion, "2025-06-18"}
		if _, rej := Classify(once(), req, served); rej != nil {
			t.Fatalf("%s: each header once: %v", tc.version, rej.Message)
		}
		for _, twice := range []struct{ name, other string }{
			{"Mcp-Protocol-Version", tc.version},
			{"Mcp-Method", "tools/list"},
			{"Mcp-Name", "delete_everything"},
		} {
			h := once()
			h.Add(twice.name, twice.other)
			if _, rej := Classify(h, req, served); rej == nil || rej.Code != CodeHeaderMismatch {
				t.Errorf("%s: %s sent twice: %+v, want %d", tc.version, twice.name, rej, CodeHeaderMismatch)
			}
		}
	}
}
