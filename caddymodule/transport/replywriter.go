package transport

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
)

// maxBuffered bounds a backend reply the adapter has to inspect whole (an
// error answer, or a tools/list reply to filter).
const maxBuffered = 8 << 20

// replyMode is how a backend answer travels to the client, decided when the
// backend sends its status line.
type replyMode int

const (
	modeDiscard replyMode = iota // no client (notification) or timed out
	modeStream                   // SSE: copied event by event, flushed
	modeDirect                   // 2xx JSON: copied as it comes
	modeBuffer                   // inspected whole in finish
)

// replyWriter is the http.ResponseWriter the upstream handler writes to.
type replyWriter struct {
	client http.ResponseWriter
	call   call
	header http.Header // the upstream handler's (Header)
	// sent is header as it stood at the backend's status line, what the
	// client gets, as from any ResponseWriter: what the handler sets later
	// is not relayed (trailers, which reverse_proxy sets in header once
	// the body is done). A held stream's timer reads it (see
	// firstMessage) while the handler may still write header.
	sent http.Header
	// holdFor bounds how long a held stream waits for its first message
	// (see firstMessage).
	holdFor time.Duration

	mu       sync.Mutex
	started  bool // the backend sent its status line; the timeout is off
	sealed   bool // the upstream handler returned; the timeout is off
	timedOut bool

	status  int
	mode    replyMode
	out     *flushWriter  // modeStream and modeDirect destination
	sse     *sseFilter    // modeStream with a rewrite, or of a modern request
	body    bytes.Buffer  // modeBuffer
	overrun bool          // modeBuffer exceeded maxBuffered
	refused refusal       // a held session the backend refused (see call.held)
	first   *firstMessage // modeStream of a modern request, until its first message
	// notFound is a -32601 reply that came as a modern request's first
	// event: finish answers it as a 404.
	notFound []byte
}

func newReplyWriter(client http.ResponseWriter, c call, holdFor time.Duration) *replyWriter {
	return &replyWriter{client: client, call: c, header: make(http.Header), holdFor: holdFor}
}

// expire marks the exchange timed out unless the backend already started
// answering; it reports whether it did.
func (rw *replyWriter) expire() bool {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.started || rw.sealed {
		return false
	}
	rw.timedOut = true
	return true
}

// seal ends the timeout's reach once the upstream handler returned and
// reports whether the exchange timed out.
func (rw *replyWriter) seal() bool {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	rw.sealed = true
	return rw.timedOut
}

// Header returns the backend's reply headers (copied to the client later).
func (rw *replyWriter) Header() http.Header { return rw.header }

// WriteHeader picks the reply mode from the backend's status and type.
func (rw *replyWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 {
		return
	}
	rw.mu.Lock()
	defer rw.mu.Unlock()
	if rw.started || rw.timedOut {
		return
	}
	rw.started, rw.status = true, code
	rw.sent = rw.header.Clone()
	if rw.call.held {
		// The gateway's session with the backend is not the client's to
		// see: the client would otherwise learn an id that names its state
		// at the backend.
		rw.sent.Del("Mcp-Session-Id")
	}
	isSSE := strings.HasPrefix(rw.header.Get("Content-Type"), "text/event-stream")
	switch {
	case rw.client == nil:
		rw.mode = modeDiscard
	case code/100 == 2 && isSSE && rw.call.holdStream:
		rw.mode = modeStream // committed by rw.first
		rw.first = holdFirstMessage(rw, rw.holdFor)
		rw.sse = newSSEFilter(rw.first, rw.call.rewrite)
	case rw.call.raw || code/100 == 2 && isSSE:
		rw.mode = modeStream
		rw.commit(code)
		if rw.call.rewrite != nil && !rw.call.raw {
			rw.sse = newSSEFilter(rw.out, rw.call.rewrite)
		}
	case code/100 == 2 && rw.call.rewrite == nil && declaresJSON(rw.header.Get("Content-Type")):
		rw.mode = modeDirect
		rw.sent.Set("Content-Type", "application/json")
		rw.out = &flushWriter{w: rw.client, rc: http.NewResponseController(rw.client), onFirst: func() { rw.commitHeader(code) }}
	default:
		rw.mode = modeBuffer
	}
}

// commit sends the backend's status and headers to the client now.
func (rw *replyWriter) commit(code int) {
	rw.commitHeader(code)
	rw.out = &flushWriter{w: rw.client, rc: http.NewResponseController(rw.client), eager: true, wrote: true}
	rw.out.flush()
}

func (rw *replyWriter) commitHeader(code int) {
	copyHeader(rw.client.Header(), rw.sent)
	rw.client.WriteHeader(code)
}

// Write routes the backend's body per mode.
func (rw *replyWriter) Write(p []byte) (int, error) {
	if !rw.started {
		rw.WriteHeader(http.StatusOK)
	}
	switch {
	case !rw.started || rw.mode == modeDiscard:
	case rw.sse != nil:
		return rw.sse.Write(p)
	case rw.mode == modeBuffer:
		if rw.body.Len()+len(p) > maxBuffered {
			rw.overrun = true
		} else {
			rw.body.Write(p)
		}
	case rw.out != nil:
		return rw.out.Write(p)
	}
	return len(p), nil
}

// Flush lets the upstream handler push bytes out.
func (rw *replyWriter) Flush() {
	if rw.first != nil {
		// Nothing to push while held, every write flushed once released;
		// and rw.out is the release timer's to set (see firstMessage).
		return
	}
	if rw.out != nil && rw.out.wrote {
		rw.out.flush()
	}
}

// stopHolding ends the reach of a held stream's timer (see
// firstMessage.stop); safe to call more than once, and without a hold.
func (rw *replyWriter) stopHolding() {
	if rw.first != nil {
		rw.first.stop()
	}
}

// finish completes the client's answer once the upstream handler returned,
// turning empty or non-JSON-RPC backend answers into JSON-RPC errors.
func (rw *replyWriter) finish() (int, string) {
	if rw.sse != nil {
		rw.sse.close()
	}
	if rw.first != nil {
		rw.first.end() // a stream without a message
	}
	switch {
	case rw.notFound != nil:
		rw.sent.Set("Content-Type", "application/json")
		rw.commitHeader(http.StatusNotFound)
		_, _ = rw.client.Write(rw.notFound)
		return http.StatusNotFound, OutcomeOK
	case !rw.started:
		return writeError(rw.client, http.StatusBadGateway, rw.call.id, jsonrpc.InternalError, "backend sent no reply"), OutcomeUpstreamError
	case rw.mode == modeDirect && !rw.out.wrote:
		return writeError(rw.client, http.StatusBadGateway, rw.call.id, jsonrpc.InternalError,
			fmt.Sprintf("backend sent an empty reply (%d %s)", rw.status, http.StatusText(rw.status))), OutcomeUpstreamError
	case rw.mode == modeBuffer:
		return rw.finishBuffered()
	}
	return rw.status, OutcomeOK
}

// finishBuffered relays a buffered answer: nothing when a held session was
// forgotten and the request may be sent again, a tools/list reply filtered,
// a JSON-RPC error body unchanged (except a backend 401, which would make the
// client restart its own OAuth flow), anything else as a JSON-RPC error
// keeping a 5xx status, and a 404 to a request in a session (which tells
// the client to start a new one), and mapping others to 502.
func (rw *replyWriter) finishBuffered() (int, string) {
	body := rw.body.Bytes()
	if rw.call.held {
		rw.refused = sessionRefusal(rw.status, body, rw.call.id)
		if rw.refused != notRefused && !rw.call.forgotten() {
			// The session is alive: the refusal was the backend's answer
			// to the request (see Handler.forgot), relayed unchanged.
			rw.refused = notRefused
		}
	}
	if rw.refused != notRefused {
		// The backend refused the session (restarted, or expired it) and
		// did not process the request: the caller may open a new session
		// and send it again.
		if !rw.call.lastTry {
			return 0, ""
		}
		return writeError(rw.client, http.StatusBadGateway, rw.call.id, jsonrpc.InternalError,
			"backend unavailable: it forgot the session the gateway opened for this request twice"), OutcomeUpstreamError
	}
	if !rw.overrun && isJSONRPCReply(body) {
		if rw.status/100 == 2 && rw.call.rewrite != nil {
			body = rw.call.rewrite(body)
		}
		status := rw.status
		if rw.call.modern && isMethodNotFound(body) {
			// 2026-07-28: a method the server does not have is a 404 with
			// -32601; the JSON-RPC body tells it from a missing endpoint.
			status = http.StatusNotFound
		}
		if rw.status != http.StatusUnauthorized {
			rw.sent.Set("Content-Type", "application/json")
			rw.commitHeader(status)
			_, _ = rw.client.Write(body)
			return status, OutcomeOK
		}
	}
	status, what := rw.status, "backend unavailable"
	switch {
	case status >= 500:
	case status == http.StatusNotFound && rw.call.session:
		what = "session not found"
	case len(body) == 0 && !rw.overrun:
		status, what = http.StatusBadGateway, "backend sent an empty reply"
	default:
		status, what = http.StatusBadGateway, "backend error"
	}
	return writeError(rw.client, status, rw.call.id, jsonrpc.InternalError,
		fmt.Sprintf("%s: %d %s", what, rw.status, http.StatusText(rw.status))), OutcomeUpstreamError
}

// declaresJSON reports whether a Content-Type is JSON; other 2xx replies
// (an HTML page from a misrouted backend, or no type at all) are buffered
// and checked, so the client gets JSON-RPC or a JSON-RPC error.
func declaresJSON(contentType string) bool {
	mediaType, _, _ := strings.Cut(contentType, ";")
	mediaType = strings.ToLower(strings.TrimSpace(mediaType))
	return mediaType == "application/json" || strings.HasSuffix(mediaType, "+json")
}

// copyHeader copies the backend's headers to the client, except those the
// adapter owns: the length (bodies may be rewritten), CORS (decided here),
// challenges (the backend's own auth is not the client's business) and
// trailers, which it does not relay (MCP defines none, and a rewritten
// body's checksum would be wrong): announced, the client would wait for
// them in vain.
func copyHeader(dst, src http.Header) {
	for k, v := range src {
		switch {
		case k == "Content-Length", k == "Www-Authenticate", strings.HasPrefix(k, "Access-Control-"),
			k == "Trailer", strings.HasPrefix(k, http.TrailerPrefix):
			continue
		}
		dst[k] = v
	}
}
