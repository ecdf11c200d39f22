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
