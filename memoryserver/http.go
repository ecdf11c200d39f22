package memoryserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
)

// ServeHTTP serves plain JSON-RPC over HTTP at /mcp and at the legacy
// /tools (the same endpoint; a trailing slash is accepted). A POST carries
// one message or a batch; requests are answered with application/json, a
// batch with an array of responses, and a body needing no answer
// (notifications, responses) with 202 and no body. Other methods get 405.
// There are no sessions, no SSE and no Accept requirements. A request whose
// params._meta names 2026-07-28 is served by that revision's rules: its
// Mcp-Method, Mcp-Name and MCP-Protocol-Version headers must match the body
// (400, -32020), a method it lacks or removed is a 404 (-32601), and its
// results carry resultType, caching hints and the server's identity.
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
	modern := false
	if req := payload.Messages[0].Request; !payload.Batch && req != nil {
		var rej *mcpwire.Rejection
		if modern, rej = mcpwire.Classify(r.Header, req, servedVersions); rej != nil {
			reply := jsonrpc.NewError(req.ID, rej.Code, rej.Message)
			if rej.Data != nil {
				reply.Error.Data, _ = json.Marshal(rej.Data)
			}
			writeJSON(w, rej.Status, reply)
			return
		}
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
		writeJSON(w, modernStatus(modern, replies[0]), replies[0])
	}
}

// modernStatus is the HTTP status of a reply to a request: 2026-07-28
// answers a method the server does not have with 404 and an unsupported
// version with 400; everything else, and every older request, with 200.
func modernStatus(modern bool, reply jsonrpc.Response) int {
	switch {
	case !modern || reply.Error == nil:
		return http.StatusOK
	case reply.Error.Code == jsonrpc.MethodNotFound:
		return http.StatusNotFound
	case reply.Error.Code == mcpwire.CodeUnsupportedVersion:
		return http.StatusBadRequest
	}
	return http.StatusOK
}

// owner returns the graph owner of a request: in per-user mode the subject
// header's value, prefixed with clientOwnerPrefix when SubjectTypeHeader
// says the caller is a client; else the default graph "".
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
	switch kind := r.Header.Get(SubjectTypeHeader); kind {
	case "client":
		return clientOwnerPrefix + owner, nil
	case "", "user":
		if strings.HasPrefix(owner, clientOwnerPrefix) {
			return "", fmt.Errorf("a user named %q cannot have a graph here: the prefix %q is kept for clients", owner, clientOwnerPrefix)
		}
		return owner, nil
	default:
		return "", fmt.Errorf("%s %q is neither user nor client", SubjectTypeHeader, kind)
	}
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
