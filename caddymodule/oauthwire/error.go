package oauthwire

import (
	"encoding/json"
	"net/http"
)

// Error is the JSON body of every refusal the gateway answers outside
// JSON-RPC: the OAuth error shape (RFC 6749 §5.2, RFC 6750 §3, RFC 7591
// §3.2.2), which OAuth clients parse, also for a 404 or a 405.
type Error struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// WriteError answers status with {error, error_description} as JSON that no
// cache may keep. Headers that belong to the refusal (WWW-Authenticate,
// Retry-After, Allow) are the caller's to set first.
func WriteError(w http.ResponseWriter, status int, code, description string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(Error{code, description})
}
