package memoryserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
)

// ServeHTTP serves plain JSON-RPC over HTTP at /mcp and at the legacy
// /tools (the same endpoint; a trailing slash is accepted). A POST carries
// one message or a batch; requests are answered with application/json, a
// batch with an array of responses, and a body needing no answer
// (notifications, responses) with 202 and no body. Other methods get 405.
// There are no sessions, no SSE and no Accept requirements.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch strings.TrimSuffix(r.URL.Path, "/") {
	case "/mcp", "/tools":
	default:
		writeError(w, http.StatusNotFound, jsonrpc.InvalidRequest, "Not found: POST JSON-RPC to /mcp or /tools")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, jsonrpc.InvalidRequest, "Method not allowed: POST one JSON-RPC message; this server does not stream")
		return
	}
	owner, err := s.owner(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, jsonrpc.InvalidRequest, err.Error())
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, jsonrpc.InvalidRequest,
			fmt.Sprintf("Request body too large: the limit is %d bytes", s.opts.MaxBodyBytes))
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, jsonrpc.ParseError, "Parse error: reading the request body failed")
		return
	}
	payload, perr := jsonrpc.Parse(body, jsonrpc.DefaultMaxDepth)
	if perr != nil {
		writeError(w, http.StatusBadRequest, perr.Code, perr.Message)
		return
	}
	replies := s.respond(r.Context(), owner, payload)
	switch {
	case len(replies) == 0:
		w.WriteHeader(http.StatusAccepted)
	case payload.Batch:
		writeJSON(w, http.StatusOK, replies)
	case payload.Messages[0].Err != nil:
		writeJSON(w, http.StatusBadRequest, replies[0])
	default:
		writeJSON(w, http.StatusOK, replies[0])
	}
}

// owner returns the graph owner of a request: the subject header's value in
// per-user mode, else the default graph "".
func (s *Server) owner(r *http.Request) (string, error) {
	if s.opts.SubjectHeader == "" {
		return "", nil
	}
	owner := r.Header.Get(s.opts.SubjectHeader)
	switch {
	case owner == "":
		return "", fmt.Errorf("missing %s header: this server keeps one graph per user and must be reached through the gateway", s.opts.SubjectHeader)
	case len(owner) > maxOwnerBytes:
		return "", fmt.Errorf("%s header too long: the limit is %d bytes", s.opts.SubjectHeader, maxOwnerBytes)
	}
	return owner, nil
}

func writeError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, jsonrpc.NewError(nil, code, msg))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil { // responses hold only marshalable values
		status, body = http.StatusInternalServerError, []byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"Internal error"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}
