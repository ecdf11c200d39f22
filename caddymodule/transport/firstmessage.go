package transport

import "bytes"

// firstMessage holds a modern request's event stream back until its first
// message. 2026-07-28 answers an unknown method with HTTP 404 (and -32601),
// which a client tells from other failures by the status: a backend that
// predates it sends -32601 as an event of a 200 stream, and the status
// line is not out yet. A -32601 reply as the first message becomes a 404
// JSON answer (finish writes it); anything else lets the stream go. Only
// for methods answered promptly (see call.holdStream).
type firstMessage struct {
	rw      *replyWriter
	held    bytes.Buffer // events without data (a priming event) before it
	decided bool
}

// maxHeldEvents bounds the events without data held before the first
// message: a backend that sends more (ids, retry hints) before it answers
// gets its stream released as it is, so that neither the memory held nor
// the client's wait for a status line grows with what the backend sends.
const maxHeldEvents = 4 << 10

// Write takes one event (sseFilter writes them whole).
func (f *firstMessage) Write(event []byte) (int, error) {
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
	f.decided = true
	if isMethodNotFound(data) {
		f.rw.notFound = data
		return len(event), nil
	}
	f.release()
	return f.rw.out.Write(event)
}

// release commits the stream and sends the events held so far.
func (f *firstMessage) release() {
	f.decided = true
	f.rw.commit(f.rw.status)
	_, _ = f.rw.out.Write(f.held.Bytes())
}
