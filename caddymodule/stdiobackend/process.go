package stdiobackend

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
)

const (
	// writeTimeout bounds a write to a child's stdin: a child that stops
	// reading must not hold a request (and its goroutine) forever.
	writeTimeout = 30 * time.Second
	// stopGrace is how long a stopped child may take to exit after its
	// stdin closes and its group gets SIGTERM, before SIGKILL.
	stopGrace = 3 * time.Second
	// eventBuffer bounds the messages queued for one client; past it a
	// client too slow to read loses progress and log notifications.
	eventBuffer = 64
	// initializeVersion is the revision the gateway asks of a child.
	initializeVersion = "2025-11-25"
)

// errExited is a request to a child that is no longer running.
var errExited = errors.New("the stdio server exited")

// process is one running child and the exchanges in flight with it.
type process struct {
	cfg *Config
	key string
	log *zap.Logger
	cmd *exec.Cmd
	pid int

	writeMu sync.Mutex
	stdin   *os.File

	mu         sync.Mutex
	next       int64
	pending    map[string]*exchange       // by the id the child sees
	byToken    map[string]*exchange       // by the progress token the child sees
	serverReqs map[string]json.RawMessage // child's request id, by the id the client sees
	inflight   []*exchange                // clients' exchanges, oldest first
	busy       int                        // HTTP requests using the process
	lastUsed   time.Time
	stopping   bool
	exitErr    error
	initResult json.RawMessage

	done chan struct{} // closed once the child exited and its requests failed
}

// exchange is one request in flight and what the child sent for it.
type exchange struct {
	id      json.RawMessage // the client's request id
	childID json.RawMessage
	token   json.RawMessage // the client's progress token, if any
	events  chan []byte     // messages for the client before the reply
	reply   chan []byte     // the reply, with the client's id
}

// startProcess runs the command for one subject (escaped; "" when shared)
// and initializes it.
func startProcess(ctx context.Context, cfg *Config, key, escapedSubject string, log *zap.Logger) (*process, error) {
	args := make([]string, len(cfg.Args))
	for i, a := range cfg.Args {
		args[i] = expand(a, escapedSubject)
	}
	cmd := exec.Command(cfg.Command, args...)
	cmd.Env = cfg.childEnv(escapedSubject)
	if cfg.Dir != "" {
		cmd.Dir = expand(cfg.Dir, escapedSubject)
		if err := os.MkdirAll(cmd.Dir, 0o700); err != nil {
			return nil, fmt.Errorf("creating the stdio server's directory: %v", err)
		}
	}
	ownGroup(cmd)
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		for _, f := range []*os.File{inR, inW, outR, outW} {
			f.Close()
		}
		return nil, err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	err = cmd.Start()
	for _, f := range []*os.File{inR, outW, errW} {
		f.Close() // the child holds its own copies
	}
	if err != nil {
		for _, f := range []*os.File{inW, outR, errR} {
			f.Close()
		}
		return nil, fmt.Errorf("starting the stdio server %s: %v", cfg.Command, err)
	}
	p := &process{
		cfg: cfg, key: key, log: log.With(zap.Int("pid", cmd.Process.Pid)), cmd: cmd, pid: cmd.Process.Pid, stdin: inW,
		pending: map[string]*exchange{}, byToken: map[string]*exchange{}, serverReqs: map[string]json.RawMessage{},
		lastUsed: cfg.Now(), done: make(chan struct{}),
	}
	go newStderrLog(p.log, cfg.Now, cfg.StderrLinesPerSecond).copy(errR)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		p.read(outR)
	}()
	go p.wait(outR, errR, readDone)
	p.log.Info("stdio server started")
	if err := p.initialize(ctx); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// initialize runs the MCP handshake with the child.
func (p *process) initialize(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.StartTimeout)
	defer cancel()
	// sampling and elicitation are relayed to the client whose request is
	// in flight; roots are not declared, as one process serves every client
	// of its user and no client's roots are the process's.
	params := json.RawMessage(`{"protocolVersion":"` + initializeVersion + `","capabilities":{"sampling":{},"elicitation":{}},"clientInfo":{"name":"mcpgate","version":"1"}}`)
	ex, err := p.begin(nil, "initialize", params)
	if err != nil {
		return fmt.Errorf("the stdio server did not take initialize: %v", err)
	}
	defer p.end(ex)
	var reply []byte
	select {
	case reply = <-ex.reply:
	case <-p.done:
		return fmt.Errorf("the stdio server exited during initialize: %v", p.exitErr)
	case <-ctx.Done():
		return fmt.Errorf("the stdio server did not answer initialize within %v", p.cfg.StartTimeout)
	}
	var m message
	if json.Unmarshal(reply, &m) != nil || m.Error != nil || len(m.Result) == 0 {
		return fmt.Errorf("the stdio server refused initialize: %.300s", reply)
	}
	p.mu.Lock()
	p.initResult = m.Result
	p.mu.Unlock()
	return p.send(message{Method: "notifications/initialized"}.withID(nil))
}

// read dispatches the child's stdout, one JSON-RPC message per line.
func (p *process) read(r *os.File) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := readLine(br, p.cfg.MaxMessageBytes)
		if errors.Is(err, errLineTooLong) {
			// A child that writes without end must not grow the gateway's
			// memory: it is killed, its requests fail.
			p.log.Error("stdio server wrote a line longer than the limit; stopping it", zap.Int("max_bytes", p.cfg.MaxMessageBytes))
			signalGroup(p.pid, sigKill)
			return
		}
		if len(bytes.TrimSpace(line)) > 0 {
			p.dispatch(line)
		}
		if err != nil {
			return
		}
	}
}

var errLineTooLong = errors.New("line too long")

// readLine reads up to and without '\n', at most max bytes.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(line)+len(frag) > max+1 {
			return nil, errLineTooLong
		}
		line = append(line, frag...)
		if err == bufio.ErrBufferFull {
			continue
		}
		return bytes.TrimSuffix(line, []byte("\n")), err
	}
}

// dispatch routes one message from the child.
func (p *process) dispatch(line []byte) {
	var m message
	if err := json.Unmarshal(line, &m); err != nil || (m.Method == "" && m.ID == nil) {
		p.log.Warn("stdio server wrote a line that is not JSON-RPC", zap.String("line", truncate(line, 200)))
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

// relayRequest sends a request of the child (sampling, elicitation) to the
// oldest client exchange in flight, under an id of the gateway's own so
// that only that id, on this process, can answer it.
func (p *process) relayRequest(m message) {
	p.mu.Lock()
	ex := p.oldestLocked()
	var id json.RawMessage
	if ex != nil {
		p.next++
		id = json.RawMessage(strconv.Quote("mcpgate-" + strconv.FormatInt(p.next, 10)))
		p.serverReqs[string(id)] = m.ID
	}
	p.mu.Unlock()
	if ex == nil || !deliver(ex, m.withID(id)) {
		if ex != nil {
			p.mu.Lock()
			delete(p.serverReqs, string(id))
			p.mu.Unlock()
		}
		_ = p.send(errorReply(m.ID, jsonrpc.InternalError, "no MCP client is waiting on this server to answer "+m.Method))
	}
}

// answer forwards a client's reply to a request of the child; a reply to
// an id this process did not hand out is dropped.
func (p *process) answer(m message) {
	p.mu.Lock()
	childID, ok := p.serverReqs[string(m.ID)]
	delete(p.serverReqs, string(m.ID))
	p.mu.Unlock()
	if ok {
		_ = p.send(m.withID(childID))
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

func (p *process) oldestLocked() *exchange {
	for _, ex := range p.inflight {
		if ex.id != nil {
			return ex
		}
	}
	return nil
}

// begin registers a request under a fresh id and returns it with the
// line to send; the caller calls end when done with it.
func (p *process) begin(clientID json.RawMessage, method string, params json.RawMessage) (*exchange, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exitErr != nil || p.stopping {
		return nil, errExited
	}
	p.next++
	ex := &exchange{id: clientID, childID: numericID(p.next), events: make(chan []byte, eventBuffer), reply: make(chan []byte, 1)}
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

// send writes one line to the child's stdin.
func (p *process) send(line []byte) error {
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	_ = p.stdin.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := p.stdin.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("%w: writing to its stdin: %v", errExited, err)
	}
	return nil
}

// wait reaps the child, kills what is left of its group, and fails the
// requests still in flight once everything it wrote was read.
func (p *process) wait(outR, errR *os.File, readDone chan struct{}) {
	err := p.cmd.Wait()
	// The leader is gone; its own children (npx's node) must not linger.
	signalGroup(p.pid, sigKill)
	select {
	case <-readDone:
	case <-time.After(time.Second): // something outside the group holds stdout
	}
	outR.Close()
	errR.Close()
	p.writeMu.Lock()
	p.stdin.Close()
	p.writeMu.Unlock()
	if err == nil {
		err = errors.New("exit status 0")
	}
	p.mu.Lock()
	p.exitErr = err
	stopping := p.stopping
	p.mu.Unlock()
	if stopping {
		p.log.Info("stdio server stopped")
	} else {
		p.log.Warn("stdio server exited", zap.Error(err))
	}
	close(p.done)
}

// exited reports whether the child is gone.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop ends the child: stdin closed (a polite MCP server exits), SIGTERM
// to its group, SIGKILL after stopGrace. It returns once it is reaped.
func (p *process) stop() {
	p.mu.Lock()
	p.stopping = true
	p.mu.Unlock()
	p.writeMu.Lock()
	p.stdin.Close()
	p.writeMu.Unlock()
	signalGroup(p.pid, sigTerm)
	select {
	case <-p.done:
		return
	case <-time.After(stopGrace):
	}
	signalGroup(p.pid, sigKill)
	<-p.done
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
