package stdiobackend

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
)

const (
	// eventBuffer bounds the messages queued for one client; past it a
	// client too slow to read loses progress and log notifications.
	eventBuffer = 64
	// initializeVersion is the revision the gateway asks of a child.
	initializeVersion = "2025-11-25"
)

// errExited is a request to a server that is no longer connected.
var errExited = errors.New("the MCP server exited")

// link carries a session's messages: a child's stdio, or a legacy
// server's event stream and POSTs.
type link interface {
	// send writes one message.
	send(line []byte) error
	// stop ends the link and returns once the session is closed.
	stop(done <-chan struct{})
}

// process is one MCP session with a server (a child process, or an event
// stream of a legacy HTTP+SSE server) and the exchanges in flight on it.
type process struct {
	cfg  *Config
	key  procKey
	log  *zap.Logger
	link link

	mu         sync.Mutex
	next       int64
	pending    map[string]*exchange     // by the id the child sees
	byToken    map[string]*exchange     // by the progress token the child sees
	serverReqs map[string]serverRequest // by the id the client sees
	inflight   []*exchange              // clients' exchanges, oldest first
	busy       int                      // HTTP requests using the process
	lastUsed   time.Time
	stopping   bool
	exitErr    error
	initResult json.RawMessage

	done chan struct{} // closed once the server is gone and its requests failed
}

func newProcess(cfg *Config, key procKey, log *zap.Logger) *process {
	return &process{
		cfg: cfg, key: key, log: log,
		pending: map[string]*exchange{}, byToken: map[string]*exchange{}, serverReqs: map[string]serverRequest{},
		lastUsed: cfg.Now(), done: make(chan struct{}),
	}
}

// send writes one message to the server.
func (p *process) send(line []byte) error { return p.link.send(line) }

// closed records that the server is gone: the requests in flight fail.
func (p *process) closed(err error) {
	if err == nil {
		err = errors.New("exit status 0")
	}
	p.mu.Lock()
	p.exitErr = err
	stopping := p.stopping
	p.mu.Unlock()
	if stopping {
		p.log.Info("MCP server stopped")
	} else {
		p.log.Warn("MCP server exited", zap.Error(err))
	}
	close(p.done)
}

// stop ends the session and returns once it is closed.
func (p *process) stop() {
	p.mu.Lock()
	p.stopping = true
	p.mu.Unlock()
	p.link.stop(p.done)
}

// exchange is one request in flight and what the child sent for it.
type exchange struct {
	from    caller          // who sent it (zero for the gateway's initialize)
	id      json.RawMessage // the client's request id
	childID json.RawMessage
	token   json.RawMessage // the client's progress token, if any
	events  chan []byte     // messages for the client before the reply
	reply   chan []byte     // the reply, with the client's id
}

// initialize runs the MCP handshake with the child.
func (p *process) initialize(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.StartTimeout)
	defer cancel()
	// sampling and elicitation are relayed to the client whose request is
	// in flight; roots are not declared, as one process serves every client
	// of its user and no client's roots are the process's.
	params := json.RawMessage(`{"protocolVersion":"` + initializeVersion + `","capabilities":{"sampling":{},"elicitation":{}},"clientInfo":{"name":"mcpgate","version":"1"}}`)
	ex, err := p.begin(caller{}, nil, "initialize", params)
	if err != nil {
		return fmt.Errorf("the MCP server did not take initialize: %v", err)
	}
	defer p.end(ex)
	var reply []byte
	select {
	case reply = <-ex.reply:
	case <-p.done:
		return fmt.Errorf("the MCP server exited during initialize: %v", p.exitErr)
	case <-ctx.Done():
		return fmt.Errorf("the MCP server did not answer initialize within %v", p.cfg.StartTimeout)
	}
	var m message
	if json.Unmarshal(reply, &m) != nil || m.Error != nil || len(m.Result) == 0 {
		return fmt.Errorf("the MCP server refused initialize: %.300s", reply)
	}
	p.mu.Lock()
	p.initResult = m.Result
	p.mu.Unlock()
	return p.send(message{Method: "notifications/initialized"}.withID(nil))
}

// dispatch routes one message from the child.
func (p *process) dispatch(line []byte) {
	var m message
	if err := json.Unmarshal(line, &m); err != nil || (m.Method == "" && m.ID == nil) {
		p.log.Warn("MCP server sent a message that is not JSON-RPC", zap.String("line", truncate(line, 200)))
		return
	}
	switch {
	case m.isResponse():
		p.mu.Lock()
		ex := p.pending[string(m.ID)]
		delete(p.pending, string(m.ID))
		p.mu.Unlock()
		if ex != nil {
			ex.reply <- m.withID(ex.id)
		}
	case m.ID != nil && m.Method == "ping":
		_ = p.send(message{Result: json.RawMessage(`{}`)}.withID(m.ID))
	case m.ID != nil:
		p.relayRequest(m)
	case m.Method == "notifications/progress":
		var params map[string]json.RawMessage
		if json.Unmarshal(m.Params, &params) != nil {
			return
		}
		p.mu.Lock()
		ex := p.byToken[string(params["progressToken"])]
		p.mu.Unlock()
		if ex == nil {
			return
		}
		params["progressToken"] = ex.token
		m.Params, _ = json.Marshal(params)
		deliver(ex, m.withID(nil))
	default:
		if ex := p.oldest(); ex != nil {
			deliver(ex, m.withID(nil))
		}
	}
}

// serverRequest is a request of the child relayed to a client.
type serverRequest struct {
	childID json.RawMessage // the id the child gave it
	to      caller          // the caller whose request stream carried it
}

// relayRequest sends a request of the child (sampling, elicitation) to the
// oldest client exchange in flight, under an id of the gateway's own that
// only the caller of that exchange can answer: the id is random, so no
// other client can guess it, and answer checks the caller too, should it
// leak (a log, a shared machine).
func (p *process) relayRequest(m message) {
	p.mu.Lock()
	ex := p.oldestLocked()
	var id json.RawMessage
	if ex != nil {
		id = json.RawMessage(strconv.Quote("mcpgate-" + rand.Text()))
		p.serverReqs[string(id)] = serverRequest{childID: m.ID, to: ex.from}
	}
	p.mu.Unlock()
	if ex == nil || !deliver(ex, m.withID(id)) {
		if ex != nil {
			p.mu.Lock()
			delete(p.serverReqs, string(id))
			p.mu.Unlock()
		}
		_ = p.send(errorReply(m.ID, jsonrpc.InternalError, "no MCP client is waiting on this server to answer "+m.Method+
			" (or several of the user's applications are, and stdio does not say which one it is for)"))
	}
}

// answer forwards from's reply to a request of the child. A reply to an id
// this process did not hand out, or did not hand out to from, is dropped,
// and the request stays open for the caller it was sent to: another of
// the user's applications must neither answer it nor cancel it.
func (p *process) answer(from caller, m message) {
	p.mu.Lock()
	req, ok := p.serverReqs[string(m.ID)]
	ok = ok && req.to == from
	if ok {
		delete(p.serverReqs, string(m.ID))
	}
	p.mu.Unlock()
	if ok {
		_ = p.send(m.withID(req.childID))
	}
}

// deliver queues msg for the client of ex unless its queue is full.
func deliver(ex *exchange, msg []byte) bool {
	select {
	case ex.events <- msg:
		return true
	default:
		return false
	}
}

func (p *process) oldest() *exchange {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.oldestLocked()
}

// oldestLocked is the client exchange that started first, where the
// server's unsolicited messages go, as stdio ties them to no request; nil
// (they are refused or dropped) when the exchanges in flight are not all
// one caller's. With two of a user's applications waiting, either may have
// caused a sampling request or a log line, and the wrong one would see
// what the server read under the other's scopes, and could answer an
// elicitation meant for the other. A shared process has none: its oldest
// request may be another user's.
func (p *process) oldestLocked() *exchange {
	if p.cfg.Shared {
		return nil
	}
	var oldest *exchange
	for _, ex := range p.inflight {
		switch {
		case ex.id == nil: // the gateway's own initialize
		case oldest == nil:
			oldest = ex
		case ex.from != oldest.from:
			return nil
		}
	}
	return oldest
}

// begin registers a request of from under a fresh id and returns it with the
// line to send; the caller calls end when done with it.
func (p *process) begin(from caller, clientID json.RawMessage, method string, params json.RawMessage) (*exchange, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exitErr != nil || p.stopping {
		return nil, errExited
	}
	p.next++
	ex := &exchange{from: from, id: clientID, childID: numericID(p.next), events: make(chan []byte, eventBuffer), reply: make(chan []byte, 1)}
	if tok := progressToken(params); tok != nil {
		// Two clients may both name progress token 1: each gets the
		// progress of its own request only.
		ex.token = tok
		params = withProgressToken(params, ex.childID)
		p.byToken[string(ex.childID)] = ex
	}
	p.pending[string(ex.childID)] = ex
	p.inflight = append(p.inflight, ex)
	line := message{Method: method, Params: params}.withID(ex.childID)
	p.mu.Unlock()
	err := p.send(line)
	p.mu.Lock()
	if err != nil {
		p.endLocked(ex)
		return nil, err
	}
	return ex, nil
}

// end forgets ex.
func (p *process) end(ex *exchange) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endLocked(ex)
}

func (p *process) endLocked(ex *exchange) {
	delete(p.pending, string(ex.childID))
	delete(p.byToken, string(ex.childID))
	for i, e := range p.inflight {
		if e == ex {
			p.inflight = append(p.inflight[:i], p.inflight[i+1:]...)
			break
		}
	}
}

// exited reports whether the server is gone.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
