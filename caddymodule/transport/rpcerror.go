package transport

import (
	"encoding/json"
	"net/http"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
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
func writeRejection(w http.ResponseWriter, id json.RawMessage, rej *rejection) int {
	resp := jsonrpc.NewError(id, rej.code, rej.message)
	if rej.data != nil {
		resp.Error.Data, _ = json.Marshal(rej.data)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	w.WriteHeader(rej.status)
	_ = json.NewEncoder(w).Encode(resp)
	return rej.status
}

// isMethodNotFound reports whether body is a JSON-RPC error reply with
// code -32601.
func isMethodNotFound(body []byte) bool {
	resp, ok := decodeReply(body)
	return ok && resp.Error != nil && resp.Error.Code == jsonrpc.MethodNotFound
}
