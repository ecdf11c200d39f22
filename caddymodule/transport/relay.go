package transport

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
)

// call says how to relay one backend exchange.
type call struct {
	// id is the JSON-RPC request id, for error replies.
	id json.RawMessage
	// rewrite, when set, edits each JSON-RPC message of the reply (the
	// JSON body, or each SSE event's data): tools/list filtering, modern
	// result fields.
	rewrite func([]byte) []byte
	// modern is set for a 2026-07-28 request: a -32601 reply gets 404.
	modern bool
	// holdStream is set for a modern request whose SSE reply is held until
	// its first message (see firstMessage). Not for tools/call: a tool may
	// work for minutes before it sends anything, longer than clients wait
	// for a status line, and a backend with tools has tools/call.
	holdStream bool
	// onFailure, when set, runs when the backend fails (no reply, 5xx).
	onFailure func()
	// raw relays the backend's answer as is (GET stream, DELETE).
	raw bool
	// session is set when the request carried the client's Mcp-Session-Id.
	session bool
	// held is set for a request in a session the gateway holds: an answer
	// refusing the session (see sessionRefusal) is the backend having
	// forgotten it, and the session id stays the gateway's (not relayed).
	held bool
	// lastTry is set for a held request's retry: a refused session is then
	// the client's error instead of a reason to try again.
	lastTry bool
	// forgotten, set with held, confirms that the backend no longer has the
	// session it refused (see Handler.forgot); when it does not, the
	// refusal is relayed as the backend's answer to the request.
	forgotten func() bool
}

// relay runs the upstream handler for r and relays its answer to w per c
// (w nil discards it). The backend has cfg.Timeout to send its status line;
// after that its context is cancelled and the client gets a 504. The
// upstream handler must honour context cancellation (reverse_proxy does).
func (h *Handler) relay(w http.ResponseWriter, r *http.Request, c call, ev *Event) (int, string) {
	status, outcome, _ := h.exchange(w, r, c, ev)
	return status, outcome
}

// exchange is relay, also reporting a held session the backend refused
// (see call.held); unless c.lastTry, nothing was written to w then.
func (h *Handler) exchange(w http.ResponseWriter, r *http.Request, c call, ev *Event) (status int, outcome string, refused refusal) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	rw := newReplyWriter(w, c, h.cfg.holdStreamFor)
	defer rw.stopHolding() // also when the upstream handler panics
	timer := time.AfterFunc(h.cfg.Timeout, func() {
		if rw.expire() {
			cancel()
		}
	})
	start := time.Now()
	h.upstream.ServeHTTP(rw, r.WithContext(ctx))
	timer.Stop()
	ev.Upstream = time.Since(start)
	timedOut := rw.seal()
	if w == nil {
		return 0, "", notRefused
	}
	outcome = OutcomeTimeout
	if timedOut {
		status = writeError(w, http.StatusGatewayTimeout, c.id, jsonrpc.InternalError,
			fmt.Sprintf("backend did not answer within %v", h.cfg.Timeout))
	} else {
		code, out := rw.finish()
		status, outcome = code, out
	}
	if c.onFailure != nil && (outcome == OutcomeTimeout || outcome == OutcomeUpstreamError) {
		c.onFailure()
	}
	return status, outcome, rw.refused
}
