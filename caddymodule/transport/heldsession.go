package transport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
)

// sessionEndTimeout bounds a DELETE ending a session: ends are best effort,
// and Close (a Caddy config reload) must not hang on a dead backend.
const sessionEndTimeout = 5 * time.Second

// sessionsBusyRetryAfter is the Retry-After, in seconds, of a caller
// refused because every held session has a request in flight: most
// requests take a few seconds, and a session frees up when one ends.
const sessionsBusyRetryAfter = "5"

// gatewayClientInfo is the clientInfo of a session opened for a modern
// request whose _meta names none.
const gatewayClientInfo = `{"name":"mcpgate","version":"1"}`

// serveHeld forwards up, a modern request adapted for a backend that serves
// nothing outside a session, in the session the gateway holds for key, and
// relays the reply per c. When the backend refuses the session
// (restarted, or expired it; see sessionRefusal) and a ping in it confirms
// that it is gone (see forgot), the session is dropped, a new one opened
// and the request sent once more: the backend did not process it. A second
// such answer is the client's error.
func (h *Handler) serveHeld(w http.ResponseWriter, r *http.Request, key caller, req *jsonrpc.Request, info *backendInfo, up *http.Request, c call, ev *Event) (int, string) {
	open := func(opened func(id string)) (string, *http.Request, error) {
		return h.openSession(r, req, info, opened)
	}
	c.held = true
	for retried := false; ; retried = true {
		s, err := h.sessions.acquire(key, open)
		if errors.Is(err, errPoolBusy) {
			w.Header().Set("Retry-After", sessionsBusyRetryAfter)
			return writeError(w, http.StatusServiceUnavailable, req.ID, jsonrpc.InternalError, "gateway busy: "+err.Error()+"; try again shortly"), OutcomeUpstreamError
		}
		if err != nil {
			c.onFailure()
			return writeError(w, http.StatusBadGateway, req.ID, jsonrpc.InternalError, "backend unavailable: "+err.Error()), OutcomeUpstreamError
		}
		in := inSession(up, s)
		if req.IsNotification() {
			status, outcome := h.deliver(w, in, ev)
			h.sessions.release(s)
			return status, outcome
		}
		c.lastTry = retried
		c.forgotten = func() bool { return h.forgot(s) }
		status, outcome, refused := h.exchange(w, in, c, ev)
		if refused != notRefused {
			h.sessions.drop(s, refused == sessionGone)
		}
		h.sessions.release(s)
		if refused == notRefused || retried {
			return status, outcome
		}
	}
}

// inSession returns a copy of up (headers and body its own) sent in s.
func inSession(up *http.Request, s *heldSession) *http.Request {
	in := up.Clone(up.Context())
	in.Body, _ = up.GetBody()
	// The gateway's session replaces whatever the client sent (a session
	// id of another caller, guessed or replayed).
	in.Header.Set("Mcp-Session-Id", s.id)
	in.Header.Set("MCP-Protocol-Version", s.version)
	return in
}

// openSession opens a backend session for the caller of r, the modern
// request req: initialize with the revision the backend chose in the probe
// and the client's info and capabilities from req's _meta (the gateway's
// own when it names none), then notifications/initialized; opened gets the
// session's id as soon as initialize answered with one, and a session that
// fails to open is ended before it returns. The session's
// requests to come, and its DELETE, carry r's identity headers and context
// values, not its cancellation: callers waiting for the same session must
// not fail because the first one left.
func (h *Handler) openSession(r *http.Request, req *jsonrpc.Request, info *backendInfo, opened func(id string)) (version string, base *http.Request, err error) {
	base = r.Clone(context.WithoutCancel(r.Context()))
	base.Body, base.ContentLength, base.GetBody = http.NoBody, 0, nil
	for _, k := range []string{"Content-Type", "Content-Length", "Mcp-Session-Id", "Mcp-Method", "Mcp-Name", "MCP-Protocol-Version", "Last-Event-ID"} {
		base.Header.Del(k)
	}
	capabilities, clientInfo := clientOf(req)
	params, _ := json.Marshal(map[string]any{"protocolVersion": info.version, "capabilities": capabilities, "clientInfo": clientInfo})
	rec := h.backendRequest(base, "initialize", "", "",
		[]byte(`{"jsonrpc":"2.0","id":"mcpgate-initialize","method":"initialize","params":`+string(params)+`}`))
	id := rec.header.Get("Mcp-Session-Id")
	if id != "" {
		opened(id)
	}
	resp, ok := decodeReply(lastMessage(rec.body.Bytes()))
	var init struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	switch {
	case !ok:
		err = fmt.Errorf("backend answered initialize with %d %s", rec.status, http.StatusText(rec.status))
	case resp.Error != nil:
		err = fmt.Errorf("backend refused initialize: %d %s", resp.Error.Code, resp.Error.Message)
	case id == "":
		err = fmt.Errorf("backend opened no session in initialize")
	case json.Unmarshal(resp.Result, &init) != nil || !slices.Contains(protocolVersions[1:], init.ProtocolVersion):
		err = fmt.Errorf("backend answered initialize with an unusable result: %.200s", resp.Result)
	}
	if err != nil {
		if id != "" {
			h.closeSession(base, id)
		}
		return "", nil, err
	}
	rec = h.backendRequest(base, "notifications/initialized", init.ProtocolVersion, id, []byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`))
	if rec.status/100 != 2 {
		h.closeSession(base, id)
		return "", nil, fmt.Errorf("backend answered notifications/initialized with %d %s", rec.status, http.StatusText(rec.status))
	}
	return init.ProtocolVersion, base, nil
}

// clientOf returns the client capabilities and info a modern request
// carries in its _meta (classify checked that they are objects), or the
// gateway's own.
func clientOf(req *jsonrpc.Request) (capabilities, clientInfo json.RawMessage) {
	capabilities, clientInfo = json.RawMessage(`{}`), json.RawMessage(gatewayClientInfo)
	members, err := jsonrpc.Object(req.Meta, "params._meta")
	if err != nil {
		return capabilities, clientInfo
	}
	if v := members[mcpwire.MetaClientCapabilities]; len(v) > 0 && v[0] == '{' {
		capabilities = v
	}
	if v := members[mcpwire.MetaPrefix+"clientInfo"]; len(v) > 0 && v[0] == '{' {
		clientInfo = v
	}
	return capabilities, clientInfo
}

// endSession ends s at the backend (DELETE with its id).
func (h *Handler) endSession(s *heldSession) {
	h.closeSession(s.base, s.id)
}

// refusal is how a backend refused a request in a held session because of
// the session; either way it did not process the request, once a ping
// confirms the session is gone (see Handler.forgot).
type refusal int

const (
	notRefused refusal = iota
	// sessionGone: a 404 that does not answer the request, the
	// specification's answer to a session the server no longer has.
	sessionGone
	// sessionRefused: a 400 refusing the session (see sessionRefusal);
	// the backend may still hold it, so it is ended (DELETE) all the same.
	sessionRefused
)

// pingID is the id of the gateway's own ping in a held session (see forgot).
const pingID = `"mcpgate-ping"`

// forgot reports whether the backend no longer has s, which it has just
// refused in answer to a request: only when a ping in s is refused as well
// (see sessionRefusal). An answer that looks like a refusal can be a tool's
// own: a tool that ran, or half ran, and then failed with the very error a
// forgotten session gets (a tool relaying another MCP server's
// "No valid session ID provided", or a buggy or hostile backend), and the
// request sent again would run the tool twice (a payment made twice). A
// ping changes nothing at the backend, and it costs one round trip only
// when a refusal came (a restart, an expiry), before the three of a new
// session; every request is confirmed so, not only tools/call, as no list
// of methods safe to send twice would stay true for every backend. A ping
// that fails otherwise (no answer, a 5xx, a timeout) confirms nothing:
// unsure, the gateway relays the backend's answer rather than risk a
// second run, and keeps the session for the next request to tell.
func (h *Handler) forgot(s *heldSession) bool {
	rec := h.backendRequest(s.base, "ping", s.version, s.id, []byte(`{"jsonrpc":"2.0","id":`+pingID+`,"method":"ping"}`))
	return sessionRefusal(rec.status, lastMessage(rec.body.Bytes()), json.RawMessage(pingID)) != notRefused
}

// knownSessionRefusal is what servers built on the TypeScript SDK's example
// (server-everything among them) answer, with 400 and -32000, to a request
// naming a session they do not have, carrying the request's own id.
const knownSessionRefusal = "bad request: no valid session id provided"

// sessionRefusal reports whether and how a backend's answer to a request
// in a held session refuses the session itself (restarted, or expired it)
// rather than answering the request: the request may then be sent again in
// a new session, once a ping confirms it (see Handler.forgot). A 404
// counts unless it answers the request. A 400 counts only as a
// transport-level refusal: -32000 or -32001, and either without an id
// (null) and naming the session, or exactly the TypeScript SDK example's
// refusal. An error that answers the request otherwise, or any
// other code (-32602 with a message echoing an argument named "session",
// a tool's failure), is the backend's answer: sending it again would run a
// tool twice, and a caller could make the gateway drop sessions at will.
func sessionRefusal(status int, body []byte, id json.RawMessage) refusal {
	switch status {
	case http.StatusNotFound:
		if !answers(body, id) {
			return sessionGone
		}
	case http.StatusBadRequest:
		resp, ok := decodeReply(body)
		if !ok || resp.Error == nil || resp.Error.Code != -32000 && resp.Error.Code != -32001 {
			return notRefused
		}
		message := strings.ToLower(strings.TrimSpace(resp.Error.Message))
		anonymous := len(resp.ID) == 0 || string(resp.ID) == "null"
		if anonymous && strings.Contains(message, "session") || message == knownSessionRefusal {
			return sessionRefused
		}
	}
	return notRefused
}

// answers reports whether body is a JSON-RPC reply to the request id: a
// backend's own answer to the request, not a refusal of its session.
func answers(body []byte, id json.RawMessage) bool {
	resp, ok := decodeReply(body)
	if !ok {
		return false
	}
	var got, want bytes.Buffer
	return json.Compact(&got, resp.ID) == nil && json.Compact(&want, id) == nil && bytes.Equal(got.Bytes(), want.Bytes())
}

// Close ends the backend sessions the gateway holds for callers (DELETE,
// best effort, each bounded by sessionEndTimeout) and stops their idle
// sweeper; the Caddy module calls it from Cleanup. Requests served after
// Close get an error instead of a new session.
func (h *Handler) Close() error {
	h.sessions.close()
	return nil
}
