package transport

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
)

// upstreamAccept is what the backend is asked for: both reply forms, as the
// MCP SDK servers require, whatever subset the client listed.
const upstreamAccept = "application/json, text/event-stream"

// post handles one POSTed JSON-RPC message. Batches are refused with
// -32600: they exist only in protocol revision 2025-03-26, no current client
// sends them, and answering them would mean splitting one HTTP exchange into
// many backend calls whose partial failures could not be reported cleanly.
func (h *Handler) post(w http.ResponseWriter, r *http.Request, ev *Event) (int, string) {
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
	up := h.upstreamRequest(r, body, upstreamAccept)
	if msg.Response != nil {
		return h.deliver(w, up, ev)
	}
	req := msg.Request
	ev.Method, ev.Tool = req.Method, toolName(req)
	if h.cfg.Gate != nil {
		// Notifications are gated too: a tools/call without an id still runs.
		sw := &statusWriter{ResponseWriter: w}
		if !h.cfg.Gate.AdmitCall(sw, r, ev.Method, ev.Tool) {
			return sw.status, OutcomeRefused
		}
	}
	if req.IsNotification() {
		return h.deliver(w, up, ev)
	}
	c := call{id: req.ID, session: r.Header.Get("Mcp-Session-Id") != ""}
	if h.cfg.Gate != nil && req.Method == "tools/list" {
		c.filter = h.cfg.Gate.ToolFilter(r)
	}
	return h.relay(w, up, c, ev)
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
