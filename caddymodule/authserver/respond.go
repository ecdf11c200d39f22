package authserver

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/mcpgate/mcpgate/caddymodule/oauthwire"
)

// oauthError is an OAuth error response (RFC 6749 §5.2, RFC 7591 §3.2.2,
// RFC 7009 §2.2.1), written by writeError in oauthwire's one shape.
type oauthError struct {
	status      int
	Code        string
	Description string
	basic       bool          // answers HTTP Basic client credentials
	bearer      bool          // answers a Bearer token (initial access token)
	retryAfter  time.Duration // rate limited
}

func (e *oauthError) Error() string { return e.Code + ": " + e.Description }

func errInvalidRequest(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, Code: "invalid_request", Description: desc}
}

func errInvalidGrant(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, Code: "invalid_grant", Description: desc}
}

func errInvalidScope(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, Code: "invalid_scope", Description: desc}
}

func errInvalidTarget(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, Code: "invalid_target", Description: desc}
}

func errInvalidClient(desc string) *oauthError {
	return &oauthError{status: http.StatusUnauthorized, Code: "invalid_client", Description: desc}
}

func errServer() *oauthError {
	return &oauthError{status: http.StatusInternalServerError, Code: "server_error", Description: "internal error, see the server log"}
}

// writeJSON writes v as a JSON response that no cache may keep.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	writeBody(w, v)
}

// writeBody encodes v as JSON; the headers are already set.
func writeBody(w http.ResponseWriter, v any) {
	json.NewEncoder(w).Encode(v)
}

// writeError writes an OAuth error as JSON with its status.
func writeError(w http.ResponseWriter, e *oauthError) {
	h := w.Header()
	if e.basic {
		h.Set("WWW-Authenticate", `Basic realm="mcpgate", charset="UTF-8"`)
	}
	if e.bearer {
		h.Set("WWW-Authenticate", `Bearer error="`+e.Code+`"`)
	}
	if e.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int(e.retryAfter.Seconds())))
	}
	oauthwire.WriteError(w, e.status, e.Code, e.Description)
}

// writeNotFound answers a path under an endpoint this server owns but does
// not serve, as JSON (clients probe many well-known variants).
func writeNotFound(w http.ResponseWriter) {
	writeError(w, &oauthError{status: http.StatusNotFound, Code: "not_found", Description: "no such endpoint on this authorization server"})
}

// writeMethodNotAllowed answers a method the endpoint does not take.
func writeMethodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow+", OPTIONS")
	writeError(w, &oauthError{status: http.StatusMethodNotAllowed, Code: "invalid_request", Description: "method not allowed; use " + allow})
}
