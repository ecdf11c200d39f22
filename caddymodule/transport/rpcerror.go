package transport

import (
	"encoding/json"
	"net/http"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
)

// writeError answers with a JSON-RPC error object (id null when unknown)
// and the given HTTP status, which it returns.
func writeError(w http.ResponseWriter, status int, id json.RawMessage, code int, message string) int {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(jsonrpc.NewError(id, code, message))
	return status
}

// writeRejection answers a refusal decided before the backend was called.
func writeRejection(w http.ResponseWriter, id json.RawMessage, rej *mcpwire.Rejection) int {
	resp := jsonrpc.NewError(id, rej.Code, rej.Message)
	if rej.Data != nil {
		resp.Error.Data, _ = json.Marshal(rej.Data)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	w.WriteHeader(rej.Status)
	_ = json.NewEncoder(w).Encode(resp)
	return rej.Status
}

// isMethodNotFound reports whether body is a JSON-RPC error reply with
// code -32601.
func isMethodNotFound(body []byte) bool {
	resp, ok := decodeReply(body)
	return ok && resp.Error != nil && resp.Error.Code == jsonrpc.MethodNotFound
}
