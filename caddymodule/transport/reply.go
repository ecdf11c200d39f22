package transport

import (
	"bytes"
	"encoding/json"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
)

// decodeReply decodes body as one JSON-RPC response. Unlike jsonrpc.Parse,
// which validates what a server answers, it accepts a null id: error
// replies to unreadable requests (and MCP's "Session not found") carry one.
func decodeReply(body []byte) (jsonrpc.Response, bool) {
	var resp jsonrpc.Response
	if json.Unmarshal(body, &resp) != nil || resp.JSONRPC != jsonrpc.Version {
		return resp, false
	}
	return resp, (resp.Result == nil) != (resp.Error == nil)
}

// isJSONRPCReply reports whether body is a JSON-RPC response or a batch of
// them.
func isJSONRPCReply(body []byte) bool {
	trimmed := bytes.TrimSpace(body)
	if !bytes.HasPrefix(trimmed, []byte("[")) {
		_, ok := decodeReply(trimmed)
		return ok
	}
	var batch []json.RawMessage
	if json.Unmarshal(trimmed, &batch) != nil || len(batch) == 0 {
		return false
	}
	for _, elem := range batch {
		if _, ok := decodeReply(elem); !ok {
			return false
		}
	}
	return true
}
