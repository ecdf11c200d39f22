package transport

import (
	"encoding/json"
	"net/http"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
)

// protocolVersions are the published MCP protocol revisions the gateway
// serves, newest first. An absent header means 2025-03-26 (per the
// 2025-06-18 transport specification), which is published, so absence is
// valid.
var protocolVersions = []string{"2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"}

// classify decides the era of req and checks its headers against its body
// (mcpwire.Classify, for the versions the gateway serves).
func classify(h http.Header, req *jsonrpc.Request) (modern bool, rej *mcpwire.Rejection) {
	return mcpwire.Classify(h, req, protocolVersions)
}

// checkProtocolVersion refuses an MCP-Protocol-Version header that names
// no version the gateway serves.
func checkProtocolVersion(h http.Header) *mcpwire.Rejection {
	return mcpwire.CheckProtocolVersion(h, protocolVersions)
}

// quote renders s for an error message, escaped.
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
