package stdiobackend

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
)

// legacyVersions are the published revisions a client may initialize
// with, oldest first.
var legacyVersions = []string{"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"}

// ServeHTTP serves one POSTed JSON-RPC message as a plain JSON-RPC server
// would: a request gets its reply as JSON, or as SSE when the child sends
// messages for it first; a notification or a response gets 202.
func (b *Backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeError(w, http.StatusMethodNotAllowed, nil, jsonrpc.InvalidRequest, "Method Not Allowed: a stdio server is reached with POST")
		return
	}
	from, verified := callerOf(r)
	var key procKey
	if !b.cfg.Shared {
		if !verified {
			// Never fall back to a shared process: that would mix users.
			writeError(w, http.StatusForbidden, nil, jsonrpc.InvalidRequest, "Forbidden: a per-user stdio server needs a verified user")
			return
		}
		key = from.procKey
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(b.cfg.MaxMessageBytes)+1))
	if err != nil || len(body) > b.cfg.MaxMessageBytes {
		writeError(w, http.StatusBadRequest, nil, jsonrpc.ParseError, "Parse error: could not read the request body")
		return
	}
	payload, perr := jsonrpc.Parse(body, jsonrpc.DefaultMaxDepth)
	if perr != nil || payload.Batch || payload.Messages[0].Err != nil {
		writeError(w, http.StatusBadRequest, nil, jsonrpc.InvalidRequest, "Invalid Request: send one JSON-RPC message")
		return
	}
	msg := payload.Messages[0]
	if resp := msg.Response; resp != nil {
		if p := b.running(key); p != nil {
			m := message{ID: resp.ID, Result: resp.Result}
			if resp.Error != nil {
				m.Error, _ = json.Marshal(resp.Error)
			}
			p.answer(from, m)
		}
		w.WriteHeader(http.StatusAccepted)
		return
	}
	req := msg.Request
	if req.IsNotification() {
		b.notify(key, req)
		w.WriteHeader(http.StatusAccepted)
		return
	}
	p, err := b.acquire(r, key)
	if err != nil {
		var busy *errBusy
		if errors.As(err, &busy) {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(busy.retryAfter.Seconds()))))
			writeError(w, http.StatusServiceUnavailable, req.ID, jsonrpc.InternalError, busy.reason)
			return
		}
		writeError(w, http.StatusBadGateway, req.ID, jsonrpc.InternalError, err.Error())
		return
	}
	ok := false
	defer func() { b.release(p, ok) }()
	if req.Method == "initialize" {
		ok = b.answerInitialize(w, p, req)
		return
	}
	ok = b.call(w, r, p, from, req)
}

// notify forwards a client's notification to its running process. The
// gateway sent notifications/initialized itself; notifications/cancelled
// names the client's id, which several clients may share, and the gateway
// cancels a request itself when its HTTP request goes away.
func (b *Backend) notify(key procKey, req *jsonrpc.Request) {
	switch req.Method {
	case "notifications/initialized", "notifications/cancelled":
		return
	}
	if p := b.running(key); p != nil {
		_ = p.send(message{Method: req.Method, Params: req.Params}.withID(nil))
	}
}

// running returns key's process if one runs, without starting one.
func (b *Backend) running(key procKey) *process {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s := b.procs[key]; s != nil && s.p != nil && !s.p.exited() {
		return s.p
	}
	return nil
}

// answerInitialize answers a client's initialize from the child's: the
// process is shared by the user's clients and was initialized once. The
// client's revision is taken when it is a published one the child's is
// not older than (MCP revisions are backward compatible on the wire the
// gateway relays); else the child's stands and the client decides.
func (b *Backend) answerInitialize(w http.ResponseWriter, p *process, req *jsonrpc.Request) bool {
	p.mu.Lock()
	result := p.initResult
	p.mu.Unlock()
	var init map[string]json.RawMessage
	if json.Unmarshal(result, &init) != nil {
		writeError(w, http.StatusBadGateway, req.ID, jsonrpc.InternalError, "the stdio server's initialize result is not an object")
		return false
	}
	var asked struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	var served string
	_ = json.Unmarshal(init["protocolVersion"], &served)
	if json.Unmarshal(req.Params, &asked) == nil && slices.Contains(legacyVersions, asked.ProtocolVersion) && asked.ProtocolVersion <= served {
		init["protocolVersion"], _ = json.Marshal(asked.ProtocolVersion)
	}
	raw, _ := json.Marshal(init)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(message{Result: raw}.withID(req.ID))
	return true
}

// call relays one request of from to p and its reply, with what the child
// sends for it meanwhile, to w. It reports whether the child answered.
func (b *Backend) call(w http.ResponseWriter, r *http.Request, p *process, from caller, req *jsonrpc.Request) bool {
	ex, err := p.begin(from, req.ID, req.Method, req.Params)
	if err != nil {
		writeError(w, http.StatusBadGateway, req.ID, jsonrpc.InternalError, err.Error())
		return false
	}
	defer p.end(ex)
	var stream *sseWriter
	relay := func(ev []byte) {
		if stream == nil {
			stream = newSSEWriter(w)
		}
		stream.event(ev)
	}
	answer := func(reply []byte) bool {
		// What the server sent before its reply is queued already; it goes
		// first.
		for {
			select {
			case ev := <-ex.events:
				relay(ev)
				continue
			default:
			}
			break
		}
		if stream != nil {
			stream.event(reply)
		} else {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(reply)
		}
		return true
	}
	for {
		select {
		case ev := <-ex.events:
			relay(ev)
		case reply := <-ex.reply:
			return answer(reply)
		case <-p.done:
			select {
			case reply := <-ex.reply: // its last words were this reply
				return answer(reply)
			default:
			}
			text := "the MCP server exited before answering (" + p.exitErr.Error() + "); the next request starts it again"
			if stream != nil {
				stream.event(errorReply(req.ID, jsonrpc.InternalError, text))
			} else {
				writeError(w, http.StatusBadGateway, req.ID, jsonrpc.InternalError, text)
			}
			return false
		case <-r.Context().Done():
			// The client left (or the adapter's timeout): the server may stop
			// working on it.
			params, _ := json.Marshal(map[string]any{"requestId": ex.childID, "reason": "the client went away"})
			_ = p.send(message{Method: "notifications/cancelled", Params: params}.withID(nil))
			return false
		}
	}
}

// writeError answers with a JSON-RPC error and the HTTP status.
func writeError(w http.ResponseWriter, status int, id json.RawMessage, code int, text string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(errorReply(id, code, text))
}

// sseWriter writes JSON-RPC messages as SSE events, each flushed.
type sseWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func newSSEWriter(w http.ResponseWriter) *sseWriter {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	return &sseWriter{w: w, rc: http.NewResponseController(w)}
}

func (s *sseWriter) event(data []byte) {
	_, _ = s.w.Write([]byte("event: message\ndata: "))
	_, _ = s.w.Write(data)
	_, _ = s.w.Write([]byte("\n\n"))
	_ = s.rc.Flush()
}
