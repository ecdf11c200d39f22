package transport

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

// upstreamAccept is what the backend is asked for: both reply forms, as the
// MCP SDK servers require, whatever subset the client listed.
const upstreamAccept = "application/json, text/event-stream"

// post handles one POSTed JSON-RPC message. Batches are refused with
// -32600: they exist only in protocol revision 2025-03-26, no current client
// sends them, and answering them would mean splitting one HTTP exchange into
// many backend calls whose partial failures could not be reported cleanly.
func (h *Handler) post(w http.ResponseWriter, r *http.Request, ev *Event) (int, string) {
	if !acceptableContentType(r.Header.Get("Content-Type")) || len(r.Header.Values("Content-Type")) > 1 {
		return writeError(w, http.StatusUnsupportedMediaType, nil, jsonrpc.InvalidRequest,
			"Unsupported Media Type: send one JSON-RPC message as Content-Type: application/json (UTF-8)"), OutcomeInvalid
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			return writeError(w, http.StatusRequestEntityTooLarge, nil, jsonrpc.InvalidRequest,
				fmt.Sprintf("Request body exceeds %d bytes", h.cfg.MaxBodyBytes)), OutcomeInvalid
		}
		return writeError(w, http.StatusBadRequest, nil, jsonrpc.ParseError, "Parse error: could not read the request body"), OutcomeInvalid
	}
	payload, perr := jsonrpc.Parse(body, jsonrpc.DefaultMaxDepth)
	if perr != nil {
		return writeError(w, http.StatusBadRequest, nil, perr.Code, perr.Message), OutcomeInvalid
	}
	if payload.Batch {
		return writeError(w, http.StatusBadRequest, nil, jsonrpc.InvalidRequest,
			"Invalid Request: JSON-RPC batches are not supported; send one message per POST"), OutcomeInvalid
	}
	msg := payload.Messages[0]
	if msg.Err != nil {
		return writeError(w, http.StatusBadRequest, msg.ID, msg.Err.Code, msg.Err.Message), OutcomeInvalid
	}
	if msg.Response != nil {
		if rej := checkProtocolVersion(r.Header); rej != nil {
			return writeRejection(w, msg.ID, rej), OutcomeInvalid
		}
		return h.deliver(w, h.upstreamRequest(r, body, upstreamAccept), ev)
	}
	req := msg.Request
	if strings.HasPrefix(req.Method, "notifications/") && !req.IsNotification() {
		// notifications/* pass tool scopes as notifications; with an id
		// they would be requests the backend answers, past the scopes.
		return writeError(w, http.StatusBadRequest, req.ID, jsonrpc.InvalidRequest,
			"Invalid Request: notifications/* methods are notifications and carry no id"), OutcomeInvalid
	}
	// Headers are checked against the body before anything decides on
	// either: a mismatch never reaches the Gate or the backend.
	modern, rej := classify(r.Header, req)
	if rej != nil {
		return writeRejection(w, req.ID, rej), OutcomeInvalid
	}
	ev.Method, ev.Tool = req.Method, toolName(req)
	if h.cfg.Gate != nil {
		// Notifications are gated too: a tools/call without an id still runs.
		sw := &statusWriter{ResponseWriter: w}
		if !h.cfg.Gate.AdmitCall(sw, r, ev.Method, ev.Tool) {
			return sw.status, OutcomeRefused
		}
	}
	c := call{id: req.ID, session: r.Header.Get("Mcp-Session-Id") != ""}
	if h.cfg.Gate != nil {
		c.rewrite = listFilter(req.Method, h.cfg.Gate.ListFilter(r, req.Method))
	}
	up := h.upstreamRequest(r, body, upstreamAccept)
	if !modern {
		c.rewrite = then(c.rewrite, plainAnswer(req))
	}
	if modern {
		var done bool
		var status int
		var outcome string
		if up, done, status, outcome = h.adaptModern(w, r, req, body, &c, ev); done {
			return status, outcome
		}
	}
	if req.IsNotification() {
		return h.deliver(w, up, ev)
	}
	return h.relay(w, up, c, ev)
}

// adaptModern prepares a 2026-07-28 request for the backend. It answers
// itself (done) a removed method, server/discover for a backend that
// predates 2026-07-28, a backend it cannot reach, and a request it sends in
// a session it holds for the caller; otherwise it returns the request to
// forward, with c set to adapt the reply.
func (h *Handler) adaptModern(w http.ResponseWriter, r *http.Request, req *jsonrpc.Request, body []byte, c *call, ev *Event) (up *http.Request, done bool, status int, outcome string) {
	if mcpwire.RemovedMethods[req.Method] {
		status = writeError(w, http.StatusNotFound, req.ID, jsonrpc.MethodNotFound,
			"Method not found: "+req.Method+" is not part of MCP "+mcpwire.ModernVersion)
		return nil, true, status, outcomeOf(status)
	}
	info, err := h.backends.get(h.cfg.Now, h.cfg.BackendRefresh, func() (*backendInfo, error) { return h.probeBackend(r) })
	if err != nil {
		status = writeError(w, http.StatusBadGateway, req.ID, jsonrpc.InternalError, "backend unavailable: "+err.Error())
		return nil, true, status, outcomeOf(status)
	}
	// 2026-07-28 has no sessions: an Mcp-Session-Id on a modern request is
	// no client's own, and may be another caller's, guessed or replayed.
	c.session = false
	c.modern = true
	c.holdStream = req.Method != "tools/call"
	c.onFailure = h.backends.forget
	key, identified := callerOf(r)
	if info.kind == backendSessions && !identified {
		// No verified identity to hold a session for, and one session
		// shared by anonymous callers would mix their state: the backend's
		// own answer, as it gives it.
		c.modern = false
		return h.modernUpstream(r, body), false, 0, ""
	}
	if info.kind == backendModern {
		// Passed through unchanged; only a per-token tool list is made
		// private.
		if c.rewrite != nil {
			c.rewrite = then(c.rewrite, privateScope)
		}
		return h.modernUpstream(r, body), false, 0, ""
	}
	hints := h.hints()
	if c.rewrite != nil {
		hints.scope = "private"
	}
	if req.Method == "server/discover" {
		status = h.answerDiscover(w, req.ID, info, hints)
		return nil, true, status, outcomeOf(status)
	}
	c.rewrite = then(c.rewrite, modernReply(req.Method, hints))
	up = h.modernUpstream(r, legacyBody(body, req))
	legacyHeaders(up.Header, info)
	if info.kind == backendSessions {
		status, outcome = h.serveHeld(w, r, key, req, info, up, *c, ev)
		return nil, true, status, outcome
	}
	return up, false, 0, ""
}

// modernUpstream is upstreamRequest for a modern request: headers its own,
// without the Mcp-Session-Id a 2026-07-28 client never holds.
func (h *Handler) modernUpstream(r *http.Request, body []byte) *http.Request {
	up := h.upstreamRequest(r, body, upstreamAccept)
	up.Header = up.Header.Clone()
	up.Header.Del("Mcp-Session-Id")
	return up
}

// answerDiscover answers server/discover for a backend that predates
// 2026-07-28 from its cached initialize result.
func (h *Handler) answerDiscover(w http.ResponseWriter, id json.RawMessage, info *backendInfo, hints cacheHints) int {
	result := make(map[string]any, len(info.discover)+3)
	for k, v := range info.discover {
		result[k] = v
	}
	result["resultType"] = "complete"
	result["ttlMs"] = hints.ttlMs
	result["cacheScope"] = hints.scope
	resp, err := jsonrpc.NewResult(id, result)
	if err != nil {
		return writeError(w, http.StatusInternalServerError, id, jsonrpc.InternalError, "Internal error: encoding server/discover")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(resp)
	return http.StatusOK
}

// hints are the configured caching hints.
func (h *Handler) hints() cacheHints {
	return cacheHints{ttlMs: h.cfg.CacheTTL.Milliseconds(), scope: h.cfg.CacheScope}
}

// outcomeOf classifies an answer the adapter wrote itself.
func outcomeOf(status int) string {
	switch {
	case status == http.StatusOK:
		return OutcomeOK
	case status >= 500:
		return OutcomeUpstreamError
	}
	return OutcomeInvalid
}

// deliver forwards a notification or a response, whose sender expects no
// reply, and answers 202 whatever the backend said.
func (h *Handler) deliver(w http.ResponseWriter, up *http.Request, ev *Event) (int, string) {
	h.relay(nil, up, call{}, ev)
	w.WriteHeader(http.StatusAccepted)
	return http.StatusAccepted, OutcomeAccepted
}

// toolName returns params.name of a tools/call, else "". Parse read it by
// exact key and refused messages where another reading was possible.
func toolName(req *jsonrpc.Request) string {
	if req.Method != "tools/call" {
		return ""
	}
	return req.Name
}
