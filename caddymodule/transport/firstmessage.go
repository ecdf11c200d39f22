package transport

import (
	"bytes"
	"sync"
	"time"
)

// firstMessage holds a modern request's event stream back until its first
// message. 2026-07-28 answers an unknown method with HTTP 404 (and -32601),
// which a client tells from other failures by the status: a backend that
// predates it sends -32601 as an event of a 200 stream, and the status
// line is not out yet. A -32601 reply as the first message becomes a 404
// JSON answer (finish writes it); anything else lets the stream go. Only
// for methods answered promptly (see call.holdStream), and never for long:
// past maxHeldEvents of events without data, or once the stream has been
// held for holdStreamFor, it goes as it is (a -32601 then comes as an
// event, as from the backend).
//
// The release after a while comes from a timer while the upstream handler
// may be writing, so mu orders every write to the client until end; the
// headers it sends are those of the status line (replyWriter.sent), not
// the map the handler may still write (trailers).
type firstMessage struct {
	rw *replyWriter

	mu      sync.Mutex
	held    bytes.Buffer // events without data (a priming event) before it
	decided bool
	timer   *time.Timer
	// over is set once the upstream handler has returned (or panicked):
	// from then on the timer writes nothing, the client is finish's.
	over bool
}

// maxHeldEvents bounds the events without data held before the first
// message: a backend that sends more (ids, retry hints) before it answers
// gets its stream released as it is, so that neither the memory held nor
// the client's wait for a status line grows with what the backend sends.
const maxHeldEvents = 4 << 10

// holdStreamFor bounds how long a stream is held before its first message:
// a backend that answers 200 and then works a while (a slow resources/read,
// or only comments meanwhile) would otherwise keep the client without a
// status line, and clients and proxies in between give up on a request
// without one (often after 100 s or less). A few seconds cover a backend's
// prompt -32601 and hold no client near such a limit.
const holdStreamFor = 5 * time.Second

// holdFirstMessage starts holding rw's stream, for at most holdFor.
func holdFirstMessage(rw *replyWriter, holdFor time.Duration) *firstMessage {
	f := &firstMessage{rw: rw}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.timer = time.AfterFunc(holdFor, f.expire)
	return f
}

// expire is the timer's release of a stream still held.
func (f *firstMessage) expire() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.decided && !f.over {
		f.release()
	}
}

// stop ends the timer's reach once the upstream handler returned or
// panicked: a release after that would write to a response its handler
// no longer owns.
func (f *firstMessage) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.over = true
	f.timer.Stop()
}

// Write takes one event (sseFilter writes them whole).
func (f *firstMessage) Write(event []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.decided {
		if f.rw.notFound != nil {
			return len(event), nil // after the reply: nothing for the client
		}
		return f.rw.out.Write(event)
	}
	data := eventData(event)
	if data == nil {
		f.held.Write(event)
		if f.held.Len() > maxHeldEvents {
			f.release()
		}
		return len(event), nil
	}
	f.decide()
	if isMethodNotFound(data) {
		f.rw.notFound = data
		return len(event), nil
	}
	f.release()
	return f.rw.out.Write(event)
}

// end releases a stream that ended without a message (finish; after it
// the client is finish's alone).
func (f *firstMessage) end() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.decided {
		f.release()
	}
}

// release commits the stream and sends the events held so far; f.mu is
// held.
func (f *firstMessage) release() {
	f.decide()
	f.rw.commit(f.rw.status)
	_, _ = f.rw.out.Write(f.held.Bytes())
}

// decide ends the hold; f.mu is held.
func (f *firstMessage) decide() {
	f.decided = true
	f.timer.Stop()
}
