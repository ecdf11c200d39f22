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
	// filter, when set, limits the tools of a tools/list reply.
	filter func(tool string) bool
	// raw relays the backend's answer as is (GET stream, DELETE).
	raw bool
	// session is set when the request carried an Mcp-Session-Id.
	session bool
}

// relay runs the upstream handler for r and relays its answer to w per c
// (w nil discards it). The backend has cfg.Timeout to send its status line;
// after that its context is cancelled and the client gets a 504. The
// upstream handler must honour context cancellation (reverse_proxy does).
func (h *Handler) relay(w http.ResponseWriter, r *http.Request, c call, ev *Event) (int, string) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	rw := newReplyWriter(w, c)
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
		return 0, ""
	}
	if timedOut {
		return writeError(w, http.StatusGatewayTimeout, c.id, jsonrpc.InternalError,
			fmt.Sprintf("backend did not answer within %v", h.cfg.Timeout)), OutcomeTimeout
	}
	return rw.finish()
}
